"""One JSON error shape for every failure, and the one place typed errors map to statuses.

Every error response is ``{"error": code, "message": text, "session_id": id-or-null}``
(plus ``run_id`` when a run is concerned), except on the LangGraph-compatible routes
(:data:`LANGGRAPH_API_PREFIXES`), which answer ``{"detail": text}`` as LangGraph's server
does. The server never answers 500 for something the client sent: malformed JSON is 400, a
body that does not fit the schema 422, and so on.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from graph_sessions.errors import (
    BackendError,
    CheckpointNotFound,
    ConfigError,
    EncryptionError,
    GraphLoadError,
    GraphSessionError,
    InvalidInput,
    InvalidTransition,
    ManagerClosed,
    RunCancelled,
    RunFailed,
    SessionBusy,
    SessionExists,
    SessionExpired,
    SessionNotFound,
    SessionSuspended,
)
from graph_sessions.server.jsonable import JSONResponse
from graph_sessions.storage.unavailable import storage_unavailable

log = logging.getLogger("graph_sessions.server")

#: typed error -> HTTP status; the first match in this order wins (subclasses first).
STATUS_OF_ERROR: list[tuple[type[GraphSessionError], int]] = [
    (SessionNotFound, 404),
    (SessionExpired, 404),
    (CheckpointNotFound, 404),
    (SessionExists, 409),
    (SessionBusy, 409),
    (InvalidTransition, 409),
    (RunCancelled, 409),
    (SessionSuspended, 423),
    (InvalidInput, 400),
    # Configuration is read at start-up, not per request; should a request ever make the
    # configuration be read (a value it names), the fault is the request's: never a 500.
    (ConfigError, 400),
    (RunFailed, 422),
    (ManagerClosed, 503),
    (BackendError, 503),
    (GraphLoadError, 500),
    # the server's keys do not open its own data (a key missing from its ring): its fault
    (EncryptionError, 500),
]

#: HTTP status -> the code used when no typed error names one.
CODE_OF_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    423: "session_suspended",
    500: "internal_error",
    503: "unavailable",
    504: "run_timeout",
}


#: Paths of the LangGraph Agent Server API (``server/langgraph_api``): errors there are
#: shaped ``{"detail": text}``, as LangGraph's SDK expects.
LANGGRAPH_API_PREFIXES = ("/assistants", "/threads", "/runs", "/store", "/ok", "/info")


def uses_detail_shape(path: str) -> bool:
    """True when ``path`` belongs to the LangGraph-compatible API."""
    return any(path == p or path.startswith(p + "/") for p in LANGGRAPH_API_PREFIXES)


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: str = Field(description="machine-readable code, e.g. session_not_found")
    message: str = Field(description="human-readable explanation")
    session_id: str | None = Field(default=None, description="the session concerned, if any")
    run_id: str | None = Field(default=None, description="the run concerned, if any")
    details: list[dict[str, Any]] | None = Field(
        default=None, description="validation errors (422), one per offending field"
    )


class ApiError(Exception):
    """An HTTP error raised by the server itself (auth, limits, timeouts)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        session_id: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.session_id = session_id
        self.headers = headers


def status_for(exc: GraphSessionError) -> int:
    """The HTTP status of a typed error (a run that failed because the storage went away
    is the storage's fault: 503, not the client's 422)."""
    if isinstance(exc, RunFailed) and storage_unavailable(getattr(exc, "error", None)):
        return 503
    for kind, status in STATUS_OF_ERROR:
        if isinstance(exc, kind):
            return status
    return 500


def error_body(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """(status, body) for any exception the server may meet."""
    if not isinstance(exc, GraphSessionError | ApiError) and storage_unavailable(exc):
        return 503, {
            "error": "backend_error",
            "message": f"storage unavailable: {exc}",
            "session_id": None,
        }
    if isinstance(exc, ApiError):
        return exc.status, {"error": exc.code, "message": exc.message, "session_id": exc.session_id}
    if isinstance(exc, GraphSessionError):
        body: dict[str, Any] = dict(exc.to_dict())
        run_id = getattr(exc, "run_id", None)
        if run_id:
            body["run_id"] = run_id
        status = status_for(exc)
        if status == 503 and isinstance(exc, RunFailed):  # failed for the storage's sake
            body["error"] = "backend_error"
        return status, body
    if isinstance(exc, TimeoutError):
        return 504, {
            "error": "run_timeout",
            "message": "the run exceeded the server's run_timeout",
            "session_id": None,
        }
    return 500, {"error": "internal_error", "message": "internal server error", "session_id": None}


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    headers: dict[str, str] | None = None,
    request: Request | None = None,
    **extra: Any,
) -> Response:
    """A JSON error response in the one shape (LangGraph's ``{"detail": ...}`` when
    ``request`` is on the LangGraph-compatible API)."""
    body = {"error": code, "message": message, "session_id": None, **extra}
    return _shaped(request, status, body, headers)


def _shaped(
    request: Request | None, status: int, body: dict[str, Any], headers: dict[str, str] | None
) -> Response:
    if request is not None and uses_detail_shape(request.url.path):
        return JSONResponse({"detail": body["message"]}, status_code=status, headers=headers)
    return JSONResponse(body, status_code=status, headers=headers)


def _clean_validation_errors(errors: Any) -> list[dict[str, Any]]:
    out = []
    for err in errors:
        item = {k: err.get(k) for k in ("type", "loc", "msg") if k in err}
        item["loc"] = [str(p) for p in item.get("loc", [])]
        out.append(item)
    return out


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every exception into the one JSON shape."""

    async def on_typed(request: Request, exc: Exception) -> Response:
        status, body = error_body(exc)
        if status >= 500:
            log.error("%s %s: %s", request.method, request.url.path, exc)
        request.state.error_code = body["error"]
        headers = exc.headers if isinstance(exc, ApiError) else None
        return _shaped(request, status, body, headers)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            request.state.error_code = "invalid_json"
            return error_response(
                400, "invalid_json", "the request body is not valid JSON", request=request
            )
        details = _clean_validation_errors(errors)
        first = details[0] if details else {}
        where = ".".join(first.get("loc", []))
        message = f"{where}: {first.get('msg')}" if first else "the request does not fit the schema"
        request.state.error_code = "validation_error"
        return error_response(422, "validation_error", message, details=details, request=request)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = CODE_OF_STATUS.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        if (
            exc.status_code == 404
            and message == "Not Found"
            and not uses_detail_shape(request.url.path)
        ):
            message = f"no route {request.method} {request.url.path}"
        request.state.error_code = code
        headers = dict(exc.headers) if exc.headers else None
        return error_response(exc.status_code, code, message, headers=headers, request=request)

    async def on_storage(request: Request, exc: Exception) -> Response:
        # SQLite errors the backend did not type (LangGraph's saver writes on its own path):
        # the storage cannot serve the request (read-only, locked, full): 503, with why.
        log.error("%s %s: storage error: %s", request.method, request.url.path, exc)
        request.state.error_code = "backend_error"
        return error_response(503, "backend_error", f"storage error: {exc}", request=request)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        if storage_unavailable(exc):  # a database error no layer typed: 503, not 500
            return await on_typed(request, exc)
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "internal server error", request=request)

    app.add_exception_handler(GraphSessionError, on_typed)
    app.add_exception_handler(ApiError, on_typed)
    app.add_exception_handler(TimeoutError, on_typed)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(sqlite3.OperationalError, on_storage)
    app.add_exception_handler(Exception, on_unexpected)


#: the error responses documented on every route (the OpenAPI ``responses`` entry).
def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these statuses, all with :class:`ErrorBody`."""
    descriptions = {
        400: "Bad request: malformed JSON or an invalid argument (invalid_json, invalid_input, invalid_config)",
        401: "Missing or invalid credentials (unauthorized)",
        403: "Authenticated but not allowed (forbidden)",
        404: "No such session for this owner, or expired (session_not_found, session_expired, checkpoint_not_found)",
        409: "Conflict: session busy under multitask=reject, session exists, invalid transition, run cancelled",
        413: "Request body over the configured limit (payload_too_large)",
        422: "Body or parameters do not fit the schema (validation_error), or the graph raised (run_failed)",
        423: "The session is suspended (session_suspended)",
        503: "The server is shutting down or storage is unreachable",
        504: "The run exceeded the configured run_timeout (run_timeout)",
    }
    return {s: {"model": ErrorBody, "description": descriptions.get(s, "error")} for s in statuses}


def sse_schema(events: list[str], description: str) -> dict[str, Any]:
    """The OpenAPI schema of one server-sent event of a ``text/event-stream`` response."""
    return {
        "type": "object",
        "description": description,
        "properties": {
            "event": {"type": "string", "description": "one of: " + ", ".join(events)},
            "data": {"type": "string", "description": "a JSON document"},
            "id": {"type": "string"},
            "retry": {"type": "integer"},
        },
        "required": ["data"],
    }
