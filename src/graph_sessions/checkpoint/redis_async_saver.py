"""``AsyncRedisSaver``: a LangGraph checkpoint saver on plain Redis (no modules) with
``redis.asyncio``. Key scheme: ``redis_keys``; scripts: ``redis_scripts``; encoding:
``redis_records``; what the sync saver shares: ``redis_core``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    SerializerProtocol,
)
from redis.asyncio import Redis
from redis.exceptions import ResponseError, WatchError

from graph_sessions.checkpoint.redis_core import (
    PAGE,
    Command,
    RedisSaverCore,
    is_rebase,
    text,
)
from graph_sessions.checkpoint.redis_keys import runs_key, threads_key
from graph_sessions.checkpoint.redis_records import ThreadSnapshot
from graph_sessions.checkpoint.redis_scripts import PUT, PUT_WRITES, READ
from graph_sessions.errors import ConfigError, InvalidInput

T = TypeVar("T")
_LOOP_ERROR = (
    "Synchronous calls to AsyncRedisSaver are only allowed from a different thread. "
    "From the event loop's thread, use the async interface (e.g. `await saver.aget_tuple(...)`)."
)


class AsyncRedisSaver(RedisSaverCore):
    """A checkpoint saver on plain Redis ≥ 7 whose writes per turn do not grow with the
    conversation: a channel's value is stored once per version, every ``put`` and
    ``put_writes`` is one Lua script (atomic, one round trip), reads of a checkpoint are
    one script too. See ``docs/checkpoint-saver.md`` (*Redis*).

    Args:
        client_or_url: a ``redis.asyncio.Redis`` (with ``decode_responses=False``, the
            default) or a ``redis://`` / ``rediss://`` URL (the saver then owns the client:
            ``aclose()`` closes it).
        prefix: prefix of every key, so several deployments can share one Redis.
        serde: serializer (LangGraph's ``JsonPlusSerializer`` by default).
        ttl: seconds; every write of a thread sets this expiry on all of its keys
            (sliding), so an idle thread disappears without a sweeper.
        snapshot_every: a growing list is stored as its new tail over the version this
            process stored before, and whole at least every this many versions (a read
            follows at most that many tails, inside the read script); ``1`` turns tails off.
        cache_threads: threads whose last list versions are remembered for that (LRU).

    >>> async with AsyncRedisSaver.from_conn_string("redis://localhost:6379/0") as saver:
    ...     graph = builder.compile(checkpointer=saver)  # doctest: +SKIP
    """

    client: Redis

    def __init__(
        self,
        client_or_url: Redis | str,
        *,
        prefix: str = "gs:",
        serde: SerializerProtocol | None = None,
        ttl: float | None = None,
        snapshot_every: int = 256,
        cache_threads: int = 512,
    ) -> None:
        super().__init__(
            prefix=prefix,
            serde=serde,
            ttl=ttl,
            snapshot_every=snapshot_every,
            cache_threads=cache_threads,
        )
        self._owned = isinstance(client_or_url, str)
        client = Redis.from_url(client_or_url) if isinstance(client_or_url, str) else client_or_url
        if client.get_connection_kwargs().get("decode_responses"):
            raise ConfigError("AsyncRedisSaver needs a client with decode_responses=False")
        self.client = client
        self._put = client.register_script(PUT)
        self._put_writes = client.register_script(PUT_WRITES)
        self._read = client.register_script(READ)
        try:
            self.loop = asyncio.get_running_loop()
        except RuntimeError:
            self.loop = asyncio.get_event_loop_policy().get_event_loop()

    @classmethod
    @asynccontextmanager
    async def from_conn_string(cls, url: str, **kwargs: Any) -> AsyncIterator[AsyncRedisSaver]:
        """A saver on a new client of ``url``, closed on exit."""
        saver = cls(url, **kwargs)
        try:
            yield saver
        finally:
            await saver.aclose()

    async def aclose(self) -> None:
        """Close the client if the saver opened it."""
        if self._owned:
            await self.client.aclose()

    async def setup(self) -> None:
        """Nothing to create (Redis has no schema); checks the server answers. Idempotent."""
        await self.client.ping()

    # async API -----------------------------------------------------------------------
    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint named by ``config`` (or the latest of its thread and namespace):
        record, values and pending writes in one script call."""
        thread_id = str(config["configurable"]["thread_id"])
        rows = await self._read(keys=self.keys(thread_id).all(), args=self.read_args(config))
        found = self.decode(thread_id, rows)
        return found[0] if found else None

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """Checkpoints newest first (by id; per thread when ``config`` is None), filtered
        on metadata like LangGraph's savers; read ``PAGE`` checkpoints per script call."""
        if limit is not None and limit <= 0:
            return
        before_id = before["configurable"].get("checkpoint_id") if before else None
        if config is None:
            threads = [text(t) for t in await self.client.zrange(threads_key(self.prefix), 0, -1)]
            conf: dict[str, Any] = {}
        else:
            conf = config["configurable"]
            threads = [str(conf["thread_id"])]
        left = limit
        for thread_id in threads:
            members = await self._members(thread_id, conf, before_id, None if filter else left)
            for start in range(0, len(members), PAGE):
                rows = await self._read(
                    keys=self.keys(thread_id).all(),
                    args=["members", *members[start : start + PAGE]],
                )
                for tup in self.decode(thread_id, rows):
                    if self.matches(tup, filter):
                        yield tup
                        if left is not None:
                            left -= 1
                            if left <= 0:
                                return

    async def _members(
        self, thread_id: str, conf: dict[str, Any], before_id: str | None, limit: int | None
    ) -> list[str]:
        idx = self.keys(thread_id).idx
        ns = conf.get("checkpoint_ns")
        checkpoint_id = conf.get("checkpoint_id")
        if ns is not None and not checkpoint_id:
            top, bottom = self.member_range(ns, before_id)
            page = {} if limit is None else {"start": 0, "num": limit}
            found = await self.client.zrevrangebylex(idx, top, bottom, **page)
            return [text(m) for m in found]
        members: list[bytes] = await self.client.zrange(idx, 0, -1)  # type: ignore[assignment]
        ordered = self.order_members(members, checkpoint_id, before_id)
        if ns is not None:
            ordered = [m for m in ordered if m.startswith(ns + "\x00")]
        return ordered

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store a checkpoint and the values of the channels in ``new_versions`` (one
        script: all or nothing)."""
        call = self.put_call(config, checkpoint, metadata, new_versions)
        try:
            try:
                await self._put(keys=call.keys, args=call.args)
            except ResponseError as exc:
                if not is_rebase(exc):
                    raise
                self.forget(call.thread_id)  # a base was pruned meanwhile: store whole values
                call = self.put_call(config, checkpoint, metadata, new_versions)
                await self._put(keys=call.keys, args=call.args)
        except ResponseError as exc:
            raise self._lost(call.thread_id, exc) from exc
        self.remember(call)
        return call.answer

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store a task's pending writes against the checkpoint in ``config`` (one script)."""
        keys, args = self.writes_call(config, writes, task_id, task_path)
        if len(args) <= 2:
            return
        try:
            await self._put_writes(keys=keys, args=args)
        except ResponseError as exc:
            raise self._lost(str(config["configurable"]["thread_id"]), exc) from exc

    async def adelete_thread(self, thread_id: str) -> None:
        """Delete every key of a thread and its index entries (one transaction)."""
        await self._rewrite(str(thread_id), lambda snap: self.drop_plan(str(thread_id), snap))

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the checkpoints and writes of the given runs (found by the runs index),
        keeping any a surviving ``DeltaChannel`` value is rebuilt from."""
        wanted = {str(r) for r in run_ids}
        threads: set[str] = set()
        for run_id in wanted:
            low, high = self.runs_range(run_id)
            for m in await self.client.zrangebylex(runs_key(self.prefix), low, high):
                threads.add(text(m).split("\x00", 1)[1])
        for thread_id in sorted(threads):
            await self._rewrite(
                thread_id,
                lambda snap, t=thread_id: self.remove_plan(t, snap, self.for_runs(snap, wanted)),
            )

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy all checkpoints, values and writes of a thread to another (one read
        transaction, one write transaction)."""
        k = self.keys(str(source_thread_id))
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hgetall(k.cp)
            pipe.hgetall(k.v)
            pipe.hgetall(k.w)
            pipe.hgetall(k.vb)
            records, values, writes, bases = await pipe.execute()
        plan = self.copy_plan(str(target_thread_id), records, values, writes, bases)
        await self._apply(plan)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """``keep_latest`` (the newest checkpoint of each namespace, and what its
        ``DeltaChannel`` values are rebuilt from) or ``delete`` (everything)."""
        if strategy not in ("keep_latest", "delete"):
            raise InvalidInput(f"unknown prune strategy {strategy!r}: keep_latest or delete")
        for thread_id in thread_ids:
            tid = str(thread_id)
            if strategy == "delete":
                await self._rewrite(tid, lambda snap, t=tid: self.drop_plan(t, snap))
            else:
                await self._rewrite(
                    tid,
                    lambda snap, t=tid: self.remove_plan(t, snap, self.keep_latest(snap)),
                )

    async def _apply(self, plan: list[Command]) -> None:
        if not plan:
            return
        async with self.client.pipeline(transaction=True) as pipe:
            for command in plan:
                pipe.execute_command(*command)
            await pipe.execute()

    async def _rewrite(self, thread_id: str, planner: Any) -> None:
        """Read a thread under ``WATCH``, plan, apply in ``MULTI``; again if a write came
        in between (optimistic: the hot path never waits for maintenance)."""
        self.forget(thread_id)
        keys = self.keys(thread_id).all()
        async with self.client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(*keys)
                    replies: list[Any] = [
                        await pipe.execute_command(*c) for c in self.snapshot_commands(thread_id)
                    ]
                    plan = planner(ThreadSnapshot.from_replies(*replies))
                    if not plan:
                        await pipe.reset()
                        return
                    pipe.multi()
                    for command in plan:
                        pipe.execute_command(*command)
                    await pipe.execute()
                    return
                except WatchError:
                    continue

    # sync API: bridged onto the saver's event loop from other threads ---------------------
    def _bridge(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            if asyncio.get_running_loop() is self.loop:
                coro.close()
                raise asyncio.InvalidStateError(_LOOP_ERROR)
        except RuntimeError:
            pass
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Sync ``aget_tuple``, from a thread other than the event loop's."""
        return self._bridge(self.aget_tuple(config))

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Sync ``alist``, from a thread other than the event loop's."""

        async def collect() -> list[CheckpointTuple]:
            return [t async for t in self.alist(config, filter=filter, before=before, limit=limit)]

        yield from self._bridge(collect())

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Sync ``aput``, from a thread other than the event loop's."""
        return self._bridge(self.aput(config, checkpoint, metadata, new_versions))

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Sync ``aput_writes``, from a thread other than the event loop's."""
        self._bridge(self.aput_writes(config, writes, task_id, task_path))

    def delete_thread(self, thread_id: str) -> None:
        """Sync ``adelete_thread``, from a thread other than the event loop's."""
        self._bridge(self.adelete_thread(thread_id))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Sync ``adelete_for_runs``, from a thread other than the event loop's."""
        self._bridge(self.adelete_for_runs(run_ids))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Sync ``acopy_thread``, from a thread other than the event loop's."""
        self._bridge(self.acopy_thread(source_thread_id, target_thread_id))

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Sync ``aprune``, from a thread other than the event loop's."""
        self._bridge(self.aprune(thread_ids, strategy=strategy))
