"""Pure ASGI middleware: the request body limit, and structured access logs with metrics.

Pure ASGI (not Starlette's ``BaseHTTPMiddleware``), so streaming responses pass straight
through and a client disconnecting never cancels the handler of a plain request.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graph_sessions.server.jsonable import dumps
from graph_sessions.server.metrics import ServerMetrics

access_log = logging.getLogger("graph_sessions.access")

_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


async def _send_error(send: Send, status: int, code: str, message: str) -> None:
    body = dumps({"error": code, "message": message, "session_id": None})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """Answers 413 ``payload_too_large`` when a request body is over ``max_bytes``.

    A ``Content-Length`` over the limit is refused before anything is read; a chunked body
    is read up to the limit (and refused past it), then replayed to the app.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        too_large = (
            f"the request body is over the server's limit of {self.max_bytes} bytes "
            "(max_body_bytes)"
        )
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    await _send_error(send, 400, "bad_request", "invalid Content-Length header")
                    return
                if length > self.max_bytes:
                    scope.setdefault("state", {})["error_code"] = "payload_too_large"
                    await _send_error(send, 413, "payload_too_large", too_large)
                    return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _send_error(send, 413, "payload_too_large", too_large)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, replayed_body(b"".join(chunks), receive), send)


def replayed_body(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that first answers ``body`` whole (already read from ``receive``),
    then hands on to ``receive`` (a disconnect, ...)."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class AccessLogMiddleware:
    """One structured (JSON) log line and the HTTP metrics for every request."""

    def __init__(self, app: ASGIApp, metrics: ServerMetrics, *, enabled: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        request_id = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                request_id = value.decode("latin-1")[:128]
                break
        request_id = request_id or uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            seconds = time.perf_counter() - start
            route = scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
            error = state.get("error_code") if status >= 400 else None
            if status >= 400 and error is None:
                error = "http_" + str(status)
            method = scope["method"]
            # Any token is a valid method: a client must not mint metric series at will.
            label = method if method in _METHODS else "OTHER"
            self.metrics.observe_request(label, template, status, seconds, error)
            if self.enabled and access_log.isEnabledFor(logging.INFO):
                client = scope.get("client")
                access_log.info(
                    "request",
                    extra={
                        "access": {
                            "method": scope["method"],
                            "path": scope.get("path"),
                            "route": template,
                            "status": status,
                            "duration_ms": round(seconds * 1000, 3),
                            "owner": state.get("owner"),
                            "error": error,
                            "client": f"{client[0]}:{client[1]}" if client else None,
                            "request_id": request_id,
                        }
                    },
                )


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})


class JsonLogFormatter(logging.Formatter):
    """Formats records as one JSON object per line (``ts``, ``level``, ``logger``, ``msg``,
    plus the access fields of access-log records)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        access = getattr(record, "access", None)
        if isinstance(access, dict):
            out.update(access)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)
