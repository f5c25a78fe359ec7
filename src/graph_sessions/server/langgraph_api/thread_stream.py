"""``GET /threads/{thread_id}/stream``: join a thread's stream. It stays open and, for each
run of the thread as it comes (runs of this process), sends ``metadata {run_id, attempt}``,
the run's events of the modes asked for, then ``metadata {status: "run_done", run_id}``;
every event has an id, and ``: heartbeat`` lines keep the connection alive meanwhile."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Query, Request
from starlette.responses import Response

from graph_sessions.server.deps import Caller
from graph_sessions.server.langgraph_api.run_book import BookedRun, RunBook
from graph_sessions.server.langgraph_api.run_docs import sse_responses
from graph_sessions.server.langgraph_api.run_launch import book_of, owned_thread
from graph_sessions.server.langgraph_api.run_payloads import StreamMode
from graph_sessions.server.langgraph_api.sse import frame, sse_response
from graph_sessions.server.routing import GuardedRouter

router = GuardedRouter(tags=["langgraph: threads"])


class _Ids:
    """``"<ms>-<seq>"`` ids, increasing, as LangGraph's resumable streams number events."""

    def __init__(self) -> None:
        self.last_ms = 0
        self.seq = 0

    def next(self) -> str:
        ms = int(time.time() * 1000)
        if ms <= self.last_ms:
            self.seq += 1
        else:
            self.last_ms, self.seq = ms, 0
        return f"{self.last_ms}-{self.seq}"


def _wanted(event: str, modes: set[str]) -> bool:
    base = event.split("|", 1)[0].split("/", 1)[0]
    return event == "error" or base in modes or (base == "messages" and "messages-tuple" in modes)


async def _thread_events(book: RunBook, thread_id: str, modes: set[str]) -> AsyncIterator[bytes]:
    ids = _Ids()
    seen: set[str] = set()
    while True:
        signal = book.thread_signal(thread_id)
        runs = [
            r for r in book.of_thread(thread_id) if r.run_id not in seen and not r.done.is_set()
        ]
        for rec in runs:
            seen.add(rec.run_id)
            async for item in _run_events(rec, modes, ids):
                yield item
        if not runs:
            await signal.wait()


async def _run_events(rec: BookedRun, modes: set[str], ids: _Ids) -> AsyncIterator[bytes]:
    yield frame("metadata", {"run_id": rec.run_id, "attempt": 1}, ids.next())
    async for event, data in rec.follow_raw():
        if event != "metadata" and _wanted(event, modes):
            yield frame(event, data, ids.next())
    yield frame("metadata", {"status": "run_done", "run_id": rec.run_id}, ids.next())


@router.get(
    "/threads/{thread_id}/stream",
    summary="Join a thread's stream (LangGraph)",
    responses=sse_responses(),
)
async def join_thread_stream(
    thread_id: str,
    request: Request,
    principal: Caller,
    stream_mode: Annotated[list[StreamMode] | None, Query()] = None,
) -> Response:
    """The events of the thread's runs as they come, until the client leaves: per run
    ``metadata``, its events of ``stream_mode`` (default ``values``), ``run_done``."""
    await owned_thread(request, thread_id, principal)
    modes = set(stream_mode or ["values"])
    return sse_response(_thread_events(book_of(request), thread_id, modes), headers={})
