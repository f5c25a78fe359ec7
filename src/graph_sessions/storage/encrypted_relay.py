"""Encryption at rest of the run-stream table (``storage/run_streams.py``): the events a
replica writes for a follower on another process (state values, message chunks, results)
are sealed, bound to their run, ``seq`` and event name, for the minutes they are kept."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Collection, Sequence

import orjson

from graph_sessions.crypto import KeyRing, aad_of, is_sealed_json, open_json, seal_json
from graph_sessions.storage.run_streams import (
    RETAIN_SECONDS,
    FollowHandler,
    RunStreamRelay,
    StreamChunk,
)


def _aad(run_id: str, seq: int, chunk: StreamChunk) -> bytes:
    return aad_of("stream", run_id, str(seq), chunk.event)


class EncryptedRelay(RunStreamRelay):
    """``inner`` with each chunk's data sealed (as a JSON string, fit for JSON columns)."""

    def __init__(self, inner: RunStreamRelay, ring: KeyRing) -> None:
        super().__init__()
        self.inner = inner
        self.ring = ring

    async def start(self, on_follow: FollowHandler, active: Callable[[], Collection[str]]) -> None:
        await self.inner.start(on_follow, active)

    async def stop(self) -> None:
        await self.inner.stop()

    async def request_follow(self, run_id: str) -> None:
        await self.inner.request_follow(run_id)

    def watch(self, run_id: str) -> asyncio.Event:
        return self.inner.watch(run_id)

    def unwatch(self, run_id: str, event: asyncio.Event) -> None:
        self.inner.unwatch(run_id, event)

    async def append(self, run_id: str, first_seq: int, chunks: Sequence[StreamChunk]) -> None:
        sealed = [  # rows are numbered first_seq, first_seq + 1... (``append``)
            dataclasses.replace(
                c,
                data=orjson.dumps(
                    seal_json(self.ring, c.data, _aad(run_id, first_seq + i, c))
                ).decode(),
            )
            for i, c in enumerate(chunks)
        ]
        await self.inner.append(run_id, first_seq, sealed)

    async def read(self, run_id: str, after_seq: int, limit: int = 500) -> list[StreamChunk]:
        chunks = await self.inner.read(run_id, after_seq, limit)
        opened: list[StreamChunk] = []
        for c in chunks:
            value = orjson.loads(c.data) if c.data.startswith('"') else None
            if is_sealed_json(value):
                data = open_json(self.ring, value, _aad(run_id, c.seq, c))
                c = dataclasses.replace(c, data=data)
            opened.append(c)
        return opened

    async def purge(self, older_than_seconds: float = RETAIN_SECONDS) -> int:
        return await self.inner.purge(older_than_seconds)

    async def count(self, run_id: str | None = None) -> int:
        return await self.inner.count(run_id)
