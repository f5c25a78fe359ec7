"""The OpenAPI entries of the errors LangGraph-compatible routes answer: every error body
there is ``{"detail": text}`` (``server/errors.py``), not our own error shape."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

_DESCRIPTIONS = {
    400: "Bad request: malformed JSON or an argument the server refuses",
    401: "Missing or invalid credentials",
    404: "No such thread, assistant or checkpoint for this caller",
    409: "Conflict: the id is taken, or the thread is busy",
    413: "Request body over the configured limit",
    422: "Body or parameters do not fit the schema",
    423: "The thread (session) is suspended",
    503: "The server is shutting down or its storage is unreachable",
}
#: what every route of a LangGraph-compatible router may answer besides its success
COMMON = (400, 401, 404, 409, 413, 422, 423, 503)


class DetailError(BaseModel):
    """LangGraph's error body."""

    detail: str = Field(description="what went wrong")


def detail_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these statuses (all of :data:`COMMON` when none given),
    each with a :class:`DetailError` body."""
    return {
        s: {"model": DetailError, "description": _DESCRIPTIONS.get(s, "error")}
        for s in (statuses or COMMON)
    }


__all__ = ["COMMON", "DetailError", "detail_errors"]
