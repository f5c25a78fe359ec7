"""The follower's half of run streams across replicas: a join (``/runs/{id}/stream``,
``/runs/{id}/join``) of a run that another process executes, read from the run-stream
table (``storage/run_streams.py``) after a follow request; :mod:`.run_mirror` is the
executing process's half.

The rows come in order (by ``seq``) after each notice, or after a poll of
:data:`~graph_sessions.storage.run_streams.POLL_SECONDS`; the stream ends at the run's end
marker. Should none come (the executing process died, or ended the run and forgot it before
it saw the request), the run's status in storage ends the stream: once it is no longer
pending or running and no row came for :data:`GRACE_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

from graph_sessions.server.langgraph_api.sse import frame_raw
from graph_sessions.storage.run_streams import END, LIVE, POLL_SECONDS, RunStreamRelay, StreamChunk

#: seconds without rows, once the run is no longer running in storage, before giving up
GRACE_SECONDS = 3.0
#: rows read at once
PAGE = 500

#: answers whether the run is still pending or running (its row, or its pending row)
StillActive = Callable[[], Awaitable[bool]]


async def _rows(
    relay: RunStreamRelay, run_id: str, after_seq: int, still_active: StillActive
) -> AsyncGenerator[StreamChunk, None]:
    """The run's rows after ``after_seq`` until its end marker (included)."""
    wake = relay.watch(run_id)
    loop = asyncio.get_running_loop()
    try:
        await relay.request_follow(run_id)
        seq = after_seq
        ended_at: float | None = None
        while True:
            wake.clear()  # before the read: a notice from now on wakes the wait below
            rows = await relay.read(run_id, seq, PAGE)
            for row in rows:
                seq = row.seq
                yield row
                if row.event == END:
                    return
            if len(rows) == PAGE:
                continue
            if rows:
                ended_at = None
            elif ended_at is not None:
                if loop.time() - ended_at > GRACE_SECONDS:
                    return
            elif not await still_active():
                ended_at = loop.time()
            with contextlib.suppress(TimeoutError):  # (not wait_for: see wait_cancel_request)
                async with asyncio.timeout(POLL_SECONDS):
                    await wake.wait()
    finally:
        relay.unwatch(run_id, wake)


async def remote_frames(
    relay: RunStreamRelay, run_id: str, last_event_id: str | None, still_active: StillActive
) -> AsyncIterator[bytes]:
    """The SSE frames of a run executing elsewhere, as a join stream on its own process
    would send them: ``last_event_id`` ``None`` → from now, ``-1`` → from its first event
    (resumable runs), an id → after it."""
    after = 0
    if last_event_id is None:
        # "now": a run already followed from here has rows; start after them
        present = await relay.read(run_id, 0, 100_000)
        if any(row.event == LIVE for row in present):
            after = present[-1].seq
    emitting = (last_event_id is None and after > 0) or last_event_id == "-1"
    held: list[StreamChunk] = []
    async for row in _rows(relay, run_id, after, still_active):
        if row.event == END:
            break
        if row.event == LIVE:
            if not emitting:
                emitting = True
                if last_event_id not in (None, "-1"):  # the id was not among them: all
                    for item in held:
                        yield frame_raw(item.event, item.data.encode(), item.event_id)
            continue
        if emitting:
            yield frame_raw(row.event, row.data.encode(), row.event_id)
        elif last_event_id not in (None, "-1"):
            if row.event_id == last_event_id:
                emitting = True
                held = []
            else:
                held.append(row)


async def remote_result(
    relay: RunStreamRelay, run_id: str, still_active: StillActive
) -> dict[str, Any] | None:
    """The end of a run executing elsewhere: ``{"status", "result"}`` as its process
    recorded it, or ``None`` when it ended without telling (then read its state)."""
    async for row in _rows(relay, run_id, 0, still_active):
        if row.event == END:
            end = json.loads(row.data)
            return end if isinstance(end, dict) else None
    return None


__all__ = ["GRACE_SECONDS", "StillActive", "remote_frames", "remote_result"]
