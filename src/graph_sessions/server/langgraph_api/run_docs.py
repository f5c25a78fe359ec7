"""OpenAPI ``responses`` of the run routes: LangGraph's ``{"detail": text}`` error body,
the SSE content type of the stream routes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from graph_sessions.server.errors import sse_schema


class DetailError(BaseModel):
    """An error as LangGraph's server shapes it."""

    detail: str = Field(description="what went wrong")


_WHY = {
    400: "Malformed JSON, or a run the thread cannot take (e.g. its first run without input)",
    401: "Missing or invalid credentials",
    404: "No such thread for this caller, assistant or run",
    409: "The thread is busy and multitask_strategy is reject, or a conflicting change",
    413: "Request body over the configured limit",
    422: "The body or parameters do not fit the schema",
    423: "The thread (session) is suspended",
    503: "The server is shutting down or storage is unreachable",
}

#: the errors every run route may answer
RUN_ERRORS = (400, 401, 404, 409, 413, 422, 423, 503)


def detail_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses`` entries for these error statuses, each a :class:`DetailError`."""
    return {s: {"model": DetailError, "description": _WHY.get(s, "error")} for s in statuses}


def sse_responses() -> dict[int | str, dict[str, Any]]:
    """The 200 of a stream route (server-sent events) and its errors."""
    events = ["metadata", "values", "updates", "messages", "messages/partial", "custom", "error"]
    return {
        200: {
            "description": "Server-sent events as LangGraph's server sends them: `metadata` "
            "first, then one event per chunk of the requested stream modes (`mode|ns` for "
            "subgraphs), `error` if the graph raised.",
            "content": {"text/event-stream": {"schema": sse_schema(events, "one event")}},
        },
        **detail_responses(*RUN_ERRORS),
    }


__all__ = ["RUN_ERRORS", "DetailError", "detail_responses", "sse_responses"]
