"""The executing replica's half of run streams across replicas: when a follower on another
process asks for a run this process holds (a follow request, ``storage/run_streams.py``),
write the run's events to the run-stream table, in batches, until its end marker.

Lazy: a run nobody follows elsewhere writes nothing. What is written for a followed run:
the events held so far when the request came (a resumable run keeps all of them, another
only what a follower here made it keep), the :data:`~graph_sessions.storage.run_streams.LIVE`
marker, every later event (each batch one transaction and one notice), then the
:data:`~graph_sessions.storage.run_streams.END` marker with the run's status and result.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from fastapi import FastAPI

from graph_sessions.server.jsonable import dumps
from graph_sessions.server.langgraph_api.run_book import BookedRun, RunBook
from graph_sessions.storage.run_streams import (
    END,
    LIVE,
    RETAIN_SECONDS,
    RunStreamRelay,
    StreamChunk,
)

log = logging.getLogger("graph_sessions.server.langgraph_api")

#: seconds after its end a run still answers follow requests (a follower that saw it
#: running asked just before it ended)
RECENT_SECONDS = 30.0
#: attempts to write one batch while the database does not answer (0.5 s apart: a minute,
#: so a database restart does not end a followed run's stream; its events wait meanwhile)
WRITE_ATTEMPTS = 120


def _now() -> datetime:
    return datetime.now(UTC)


def _chunk(event_id: str | None, event: str, data: Any) -> StreamChunk:
    return StreamChunk(0, event, dumps(data).decode(), event_id)


class RunMirror:
    """Writes the runs of one :class:`RunBook` that followers elsewhere ask for."""

    def __init__(self, book: RunBook, relay: RunStreamRelay) -> None:
        self.book = book
        self.relay = relay
        self._tasks: dict[str, asyncio.Task[None]] = {}
        #: runs mirrored by this process since it started (tests and metrics read it)
        self.mirrored = 0

    def held(self) -> list[str]:
        """The runs a follow request may concern here: those the book holds that are not
        over, or ended in the last :data:`RECENT_SECONDS` (a follower saw them running)."""
        recent = _now() - timedelta(seconds=RECENT_SECONDS)
        return [
            r.run_id
            for r in self.book.all()
            if not r.deleted and (not r.done.is_set() or r.updated_at >= recent)
        ]

    async def on_follow(self, run_id: str) -> None:
        """A follower elsewhere wants ``run_id``: start writing it (once)."""
        if run_id in self._tasks:
            return
        rec = self.book.get(run_id)
        if rec is None or rec.deleted:
            return
        self.mirrored += 1
        task = asyncio.ensure_future(self._mirror(rec))
        self._tasks[run_id] = task

    async def _write(self, run_id: str, seq: int, chunks: Sequence[StreamChunk]) -> int:
        for attempt in range(WRITE_ATTEMPTS):
            try:
                await self.relay.append(run_id, seq, chunks)
                return seq + len(chunks)
            except Exception as exc:
                if attempt == WRITE_ATTEMPTS - 1:
                    raise
                log.warning("run %s: writing its stream failed (%s); again", run_id, exc)
                await asyncio.sleep(0.5)
        return seq  # pragma: no cover (the loop returns or raises)

    async def _mirror(self, rec: BookedRun) -> None:
        seq = 1
        try:
            # the events held now (a resumable run's all), then the marker of "now"
            backlog = len(rec.events) if rec.resumable else 0
            start = 0 if rec.resumable else len(rec.events)
            live_written = False
            async with contextlib.aclosing(rec.batches(start)) as batches:
                if backlog == 0:
                    seq = await self._write(rec.run_id, seq, [_chunk(None, LIVE, {})])
                    live_written = True
                async for batch in batches:
                    chunks = [_chunk(*item) for item in batch]
                    if not live_written:
                        # the backlog ends where the held events ended at the request
                        head, tail = chunks[:backlog], chunks[backlog:]
                        chunks = [*head, _chunk(None, LIVE, {}), *tail]
                        live_written = True
                    seq = await self._write(rec.run_id, seq, chunks)
            if not live_written:
                seq = await self._write(rec.run_id, seq, [_chunk(None, LIVE, {})])
            # a sealed run holds its result as bytes only (``BookedRun.seal``)
            result = rec.result if rec.result is not None else orjson.loads(rec.result_bytes())
            end = {"status": rec.status, "result": result}
            await self._write(rec.run_id, seq, [_chunk(None, END, end)])
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("run %s: its stream could not be written for followers", rec.run_id)
        finally:
            loop = asyncio.get_running_loop()
            loop.call_later(RETAIN_SECONDS, self._tasks.pop, rec.run_id, None)

    async def purge(self) -> None:
        """Delete the rows of runs that ended a while ago (any replica's)."""
        try:
            await self.relay.purge()
        except Exception as exc:
            log.warning("run streams: purging old rows failed (%s)", exc)

    async def close(self) -> None:
        """Stop listening and writing."""
        await self.relay.stop()
        tasks = [t for t in self._tasks.values() if not t.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task


#: seconds between two purges of the run-stream table
PURGE_SECONDS = 300.0


async def _purge_loop(mirror: RunMirror) -> None:
    while True:
        await mirror.purge()
        await asyncio.sleep(PURGE_SECONDS)


@contextlib.asynccontextmanager
async def run_mirror(app: FastAPI, book: RunBook) -> AsyncIterator[None]:
    """While the app serves (``background_work``): answer follow requests from other
    replicas, and purge old rows. Nothing on a backend without a relay (memory)."""
    relay = book.manager.backend.run_stream_relay()
    if relay is None:
        yield
        return
    mirror = app.state.lg_run_mirror = RunMirror(book, relay)
    try:
        await relay.start(mirror.on_follow, mirror.held)
    except Exception:  # the database is down now: followers elsewhere wait for it
        log.exception("run streams: could not start listening")
    purge = asyncio.create_task(_purge_loop(mirror), name="graph-sessions-run-streams-purge")
    try:
        yield
    finally:
        purge.cancel()
        with contextlib.suppress(BaseException):
            await purge
        await mirror.close()


__all__ = ["PURGE_SECONDS", "RunMirror", "run_mirror"]
