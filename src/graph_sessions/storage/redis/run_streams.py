"""Run streams across replicas on Redis
(:class:`~graph_sessions.storage.run_streams.RunStreamRelay`): the Postgres relay's
semantics with Redis primitives. Keys (under ``{prefix}runstreams:``):

- ``chunks:{run_id}``: a sorted set of the run's rows scored by ``seq`` (each member the
  JSON ``[seq, event, data, event_id]``); it expires a day after its last write, so rows of a
  replica that died go by themselves;
- ``runs`` (run → last write, ms) and ``ended`` (run → when its end marker came, ms): what
  :meth:`RedisRunStreams.purge` and :meth:`RedisRunStreams.count` read instead of scanning;
- ``follows``: run → when a follower asked for it (ms).

Times are the Redis server's (``TIME`` in the scripts), so replicas' clocks do not matter.
One pub/sub channel, ``{prefix}runstreams``, carries ``f:{run_id}`` (a follower wants the
run) and ``c:{run_id}`` (its rows grew). Pub/sub forgets what nobody heard, so the listener
also looks at ``follows`` and wakes followers every :data:`POLL_SECONDS`, and subscribes
again (then looks at once) after the connection broke.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis

from graph_sessions.storage.run_streams import (
    END,
    POLL_SECONDS,
    RETAIN_SECONDS,
    ListeningRelay,
    StreamChunk,
)

log = logging.getLogger("graph_sessions.storage.redis")

#: seconds between two attempts to subscribe again after the connection broke
RECONNECT_SECONDS = 1.0
#: how long a run's rows stay after its last write whatever happens (a replica died)
DAY_MS = 86_400_000

_NOW = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000)\n"

# KEYS: chunks, runs, ended; ARGV: run id, channel, ends ("1"/"0"), seq 1, member 1, …
APPEND = (
    _NOW
    + """
for i = 4, #ARGV, 2 do
  if redis.call('ZCOUNT', KEYS[1], ARGV[i], ARGV[i]) == 0 then
    redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
redis.call('PEXPIRE', KEYS[1], """
    + str(DAY_MS)
    + """)
redis.call('ZADD', KEYS[2], now, ARGV[1])
if ARGV[3] == '1' then redis.call('ZADD', KEYS[3], 'NX', now, ARGV[1]) end
redis.call('PUBLISH', ARGV[2], 'c:' .. ARGV[1])
return 1
"""
)

# KEYS: follows; ARGV: run id, channel
FOLLOW = (
    _NOW
    + """
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PUBLISH', ARGV[2], 'f:' .. ARGV[1])
return 1
"""
)

# KEYS: runs, ended, follows; ARGV: chunks key prefix, retain ms
# Deletes the rows of runs that ended more than retain ms ago or were last written a day
# ago, and the follow requests older than retain ms; returns how many rows went.
PURGE = (
    _NOW
    + """
local cutoff = now - tonumber(ARGV[2])
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. cutoff)
local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - """
    + str(DAY_MS)
    + """))
for _, run in ipairs(stale) do gone[#gone + 1] = run end
local n = 0
for _, run in ipairs(gone) do
  local key = ARGV[1] .. run
  n = n + redis.call('ZCARD', key)
  redis.call('DEL', key)
  redis.call('ZREM', KEYS[1], run)
  redis.call('ZREM', KEYS[2], run)
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. cutoff)
return n
"""
)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisRunStreams(ListeningRelay):
    """The relay of one Redis backend (``RedisBackend.run_stream_relay()``).

    Args:
        client: a ``redis.asyncio.Redis`` with ``decode_responses=False``; the listener takes
            one connection of its pool for pub/sub (``client.pubsub()``).
        prefix: the deployment's key prefix (``"gs:"``).
    """

    def __init__(self, client: Redis, prefix: str) -> None:
        super().__init__()
        self.client = client
        self.prefix = prefix
        self.keys = f"{prefix}runstreams:"
        self.channel = f"{prefix}runstreams"
        self._append = client.register_script(APPEND)
        self._follow = client.register_script(FOLLOW)
        self._purge = client.register_script(PURGE)

    def _chunks(self, run_id: str) -> str:
        return f"{self.keys}chunks:{run_id}"

    # lifecycle -----------------------------------------------------------------------
    # listening -----------------------------------------------------------------------
    async def _poll_follows(self) -> None:
        active = list(self._active())
        if not active or self._on_follow is None:
            return
        scores = await self.client.zmscore(f"{self.keys}follows", active)
        for run_id, score in zip(active, scores, strict=True):
            if score is not None:
                self._dispatch(run_id)

    def _heard(self, message: dict[str, Any]) -> None:
        if message.get("type") != "message":
            return
        data = _text(message["data"])
        kind, _, run_id = data.partition(":")
        if kind == "f":
            self._dispatch(run_id)
        elif kind == "c":
            self._wake(run_id)

    async def _listen(self) -> None:
        # redis-py's get_message can swallow a cancellation (its own timeout handling):
        # each turn looks whether this task was asked to stop, or stop() would wait forever
        me = asyncio.current_task()
        while True:
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                # messages sent while we were not subscribed are lost: look now
                self._wake_all()
                await self._poll_follows()
                due = time.monotonic() + POLL_SECONDS
                while True:
                    message = await pubsub.get_message(timeout=POLL_SECONDS)
                    if me is not None and me.cancelling():
                        raise asyncio.CancelledError
                    if message is not None:
                        self._heard(message)
                    if time.monotonic() >= due:
                        self._wake_all()  # the poll fallback of followers
                        await self._poll_follows()
                        due = time.monotonic() + POLL_SECONDS
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis restarts or is gone: subscribe again
                log.warning("run streams: listening failed (%s); again in 1 s", exc)
                self._wake_all()
                await asyncio.sleep(RECONNECT_SECONDS)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    # follower side -------------------------------------------------------------------
    async def request_follow(self, run_id: str) -> None:
        await self._follow(keys=[f"{self.keys}follows"], args=[run_id, self.channel])

    async def read(self, run_id: str, after_seq: int, limit: int = 500) -> list[StreamChunk]:
        rows: list[Any] = await self.client.zrange(
            self._chunks(run_id), f"({after_seq}", "+inf", byscore=True, offset=0, num=limit
        )
        chunks = []
        for row in rows:
            seq, event, data, event_id = json.loads(row)
            chunks.append(StreamChunk(int(seq), event, data, event_id))
        return chunks

    # executing side ------------------------------------------------------------------
    async def append(self, run_id: str, first_seq: int, chunks: Sequence[StreamChunk]) -> None:
        if not chunks:
            return
        args: list[str | int] = [
            run_id,
            self.channel,
            "1" if any(c.event == END for c in chunks) else "0",
        ]
        for i, c in enumerate(chunks):
            seq = first_seq + i
            args += [seq, json.dumps([seq, c.event, c.data, c.event_id], separators=(",", ":"))]
        await self._append(
            keys=[self._chunks(run_id), f"{self.keys}runs", f"{self.keys}ended"], args=args
        )
        self._wake(run_id)

    async def purge(self, older_than_seconds: float = RETAIN_SECONDS) -> int:
        retain_ms = max(0, int(older_than_seconds * 1000))
        n = await self._purge(
            keys=[f"{self.keys}runs", f"{self.keys}ended", f"{self.keys}follows"],
            args=[f"{self.keys}chunks:", retain_ms],
        )
        return int(n)

    async def count(self, run_id: str | None = None) -> int:
        if run_id is not None:
            return int(await self.client.zcard(self._chunks(run_id)))
        runs: list[Any] = await self.client.zrange(f"{self.keys}runs", 0, -1)
        if not runs:
            return 0
        async with self.client.pipeline(transaction=False) as pipe:
            for run in runs:
                pipe.zcard(self._chunks(_text(run)))
            sizes = await pipe.execute()
        return sum(int(s) for s in sizes)


__all__ = ["RedisRunStreams"]
