"""The one place typed errors become GraphQL errors: ``extensions.code`` (NOT_FOUND,
CONFLICT, INVALID_INPUT, UNAUTHENTICATED, FORBIDDEN...) beside the project's own code
(``extensions.error``, e.g. ``session_not_found``), derived from the HTTP status the REST
surface answers for the same error (``server/errors.py``)."""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError
from pydantic import ValidationError

from graph_sessions.errors import InvalidInput
from graph_sessions.server.errors import ApiError, error_body

log = logging.getLogger("graph_sessions.graphql")

#: HTTP status of the REST surface -> GraphQL ``extensions.code``.
CODE_OF_STATUS: dict[int, str] = {
    400: "INVALID_INPUT",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    422: "UNPROCESSABLE",
    423: "SUSPENDED",
    503: "UNAVAILABLE",
    504: "TIMEOUT",
}
#: a document that does not parse, or breaks a rule (depth, aliases, tokens, unknown field)
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
INTERNAL = "INTERNAL_SERVER_ERROR"


class AuthError(Exception):
    """Credentials missing or wrong on a GraphQL request (HTTP 401, or a refused
    ``connection_init``)."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def invalid_input(exc: ValidationError) -> InvalidInput:
    """A pydantic validation error of GraphQL arguments as ``InvalidInput``."""
    errors = exc.errors()
    if not errors:
        return InvalidInput("invalid arguments")
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"])
    message = f"{where}: {first['msg']}" if where else str(first["msg"])
    return InvalidInput(message)


def describe(exc: BaseException) -> tuple[str, dict[str, Any], str]:
    """(GraphQL code, extensions, message) of an exception raised by a resolver."""
    if isinstance(exc, ValidationError):
        exc = invalid_input(exc)
    if isinstance(exc, AuthError):
        code = "UNAUTHENTICATED" if exc.status == 401 else "FORBIDDEN"
        return code, {"code": code, "error": code.lower()}, exc.message
    status, body = error_body(exc)
    if status >= 500 and not isinstance(exc, ApiError) and status not in CODE_OF_STATUS:
        return INTERNAL, {"code": INTERNAL, "error": body["error"]}, body["message"]
    code = CODE_OF_STATUS.get(status, INTERNAL)
    ext: dict[str, Any] = {"code": code, "error": body["error"]}
    for key in ("session_id", "run_id"):
        if body.get(key):
            ext[key] = body[key]
    return code, ext, body["message"]


def add_codes(errors: list[GraphQLError]) -> None:
    """Give every error of a result its ``extensions.code`` (in place); log the server's
    own failures."""
    for error in errors:
        original = error.original_error
        if original is None or isinstance(original, GraphQLError):
            if isinstance(error, GraphQLSyntaxError) or isinstance(original, GraphQLSyntaxError):
                code = PARSE_FAILED
            else:
                code = VALIDATION_FAILED
            error.extensions = {**(error.extensions or {}), "code": code}
            continue
        code, ext, message = describe(original)
        if code == INTERNAL:
            log.error("graphql resolver failed: %r", original, exc_info=original)
        error.message = message
        error.extensions = {**(error.extensions or {}), **ext}
