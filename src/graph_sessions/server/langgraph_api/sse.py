"""Server-sent events exactly as LangGraph's server frames them (``langgraph_api/sse.py``):
``event: <name>\\r\\ndata: <compact json>\\r\\n[id: <id>\\r\\n]\\r\\n`` (CRLF, the id after the
data), ``: heartbeat`` every 5 s of silence, ``text/event-stream; charset=utf-8``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import StreamingResponse

from graph_sessions.server.jsonable import dumps

#: seconds of silence before a heartbeat comment (LangGraph's server: 5)
HEARTBEAT_SECONDS = 5.0
HEARTBEAT = b": heartbeat\r\n\r\n"
MEDIA_TYPE = "text/event-stream; charset=utf-8"


def frame(event: str, data: Any, event_id: str | None = None) -> bytes:
    """One event's bytes."""
    return frame_raw(event, dumps(data), event_id)


def frame_raw(event: str, data: bytes, event_id: str | None = None) -> bytes:
    """One event's bytes, its data already compact JSON."""
    out = b"event: " + event.encode() + b"\r\ndata: " + data + b"\r\n"
    if event_id is not None:
        out += b"id: " + event_id.encode() + b"\r\n"
    return out + b"\r\n"


async def with_heartbeats(
    source: AsyncIterator[bytes], interval: float = HEARTBEAT_SECONDS, beat: bytes = HEARTBEAT
) -> AsyncIterator[bytes]:
    """``source``'s items, with ``beat`` sent after every ``interval`` seconds without one."""
    iterator = aiter(source)
    pending: asyncio.Future[bytes] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(iterator))
            done, _ = await asyncio.wait({pending}, timeout=interval)
            if not done:
                yield beat
                continue
            try:
                item = pending.result()
            except StopAsyncIteration:
                return
            finally:
                if pending.done():
                    pending = None
            yield item
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()


def sse_response(source: AsyncIterator[bytes], headers: dict[str, str]) -> StreamingResponse:
    """A streaming SSE response of framed events, with heartbeats."""
    return StreamingResponse(
        with_heartbeats(source),
        media_type=MEDIA_TYPE,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no", **headers},
    )


__all__ = ["HEARTBEAT", "MEDIA_TYPE", "frame", "frame_raw", "sse_response", "with_heartbeats"]
