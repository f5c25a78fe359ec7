"""``RedisSaver``: the synchronous Redis saver (``redis.Redis``), same storage as
``AsyncRedisSaver`` (``redis_core``); the async methods run the sync ones in a thread."""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    SerializerProtocol,
)
from redis import Redis
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


class RedisSaver(RedisSaverCore):
    """The synchronous ``AsyncRedisSaver`` (same keys, scripts and options; see its
    docstring and ``docs/checkpoint-saver.md``). Safe to share between threads (redis-py's
    connection pool).

    >>> with RedisSaver.from_conn_string("redis://localhost:6379/0") as saver:
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
            raise ConfigError("RedisSaver needs a client with decode_responses=False")
        self.client = client
        self._put = client.register_script(PUT)
        self._put_writes = client.register_script(PUT_WRITES)
        self._read = client.register_script(READ)

    @classmethod
    @contextmanager
    def from_conn_string(cls, url: str, **kwargs: Any) -> Iterator[RedisSaver]:
        """A saver on a new client of ``url``, closed on exit."""
        saver = cls(url, **kwargs)
        try:
            yield saver
        finally:
            saver.close()

    def close(self) -> None:
        """Close the client if the saver opened it."""
        if self._owned:
            self.client.close()

    def setup(self) -> None:
        """Nothing to create (Redis has no schema); checks the server answers."""
        self.client.ping()

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint named by ``config`` (or the latest of its thread and namespace)."""
        thread_id = str(config["configurable"]["thread_id"])
        rows = self._read(keys=self.keys(thread_id).all(), args=self.read_args(config))
        found = self.decode(thread_id, rows)
        return found[0] if found else None

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Checkpoints newest first, filtered like LangGraph's savers (see ``AsyncRedisSaver.alist``)."""
        if limit is not None and limit <= 0:
            return
        before_id = before["configurable"].get("checkpoint_id") if before else None
        if config is None:
            threads = [text(t) for t in self.client.zrange(threads_key(self.prefix), 0, -1)]
            conf: dict[str, Any] = {}
        else:
            conf = config["configurable"]
            threads = [str(conf["thread_id"])]
        left = limit
        for thread_id in threads:
            members = self._members(thread_id, conf, before_id, None if filter else left)
            for start in range(0, len(members), PAGE):
                rows = self._read(
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

    def _members(
        self, thread_id: str, conf: dict[str, Any], before_id: str | None, limit: int | None
    ) -> builtins.list[str]:
        idx = self.keys(thread_id).idx
        ns = conf.get("checkpoint_ns")
        checkpoint_id = conf.get("checkpoint_id")
        if ns is not None and not checkpoint_id:
            top, bottom = self.member_range(ns, before_id)
            page = {} if limit is None else {"start": 0, "num": limit}
            return [text(m) for m in self.client.zrevrangebylex(idx, top, bottom, **page)]
        members: builtins.list[bytes] = self.client.zrange(idx, 0, -1)  # type: ignore[assignment]
        ordered = self.order_members(members, checkpoint_id, before_id)
        if ns is not None:
            ordered = [m for m in ordered if m.startswith(ns + "\x00")]
        return ordered

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store a checkpoint and the values of the channels in ``new_versions`` (one script)."""
        call = self.put_call(config, checkpoint, metadata, new_versions)
        try:
            try:
                self._put(keys=call.keys, args=call.args)
            except ResponseError as exc:
                if not is_rebase(exc):
                    raise
                self.forget(call.thread_id)  # a base was pruned meanwhile: store whole values
                call = self.put_call(config, checkpoint, metadata, new_versions)
                self._put(keys=call.keys, args=call.args)
        except ResponseError as exc:
            raise self._lost(call.thread_id, exc) from exc
        self.remember(call)
        return call.answer

    def put_writes(
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
            self._put_writes(keys=keys, args=args)
        except ResponseError as exc:
            raise self._lost(str(config["configurable"]["thread_id"]), exc) from exc

    def delete_thread(self, thread_id: str) -> None:
        """Delete every key of a thread and its index entries (one transaction)."""
        self._rewrite(str(thread_id), lambda snap: self.drop_plan(str(thread_id), snap))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the checkpoints and writes of the given runs (see ``AsyncRedisSaver``)."""
        wanted = {str(r) for r in run_ids}
        threads: set[str] = set()
        for run_id in wanted:
            low, high = self.runs_range(run_id)
            for m in self.client.zrangebylex(runs_key(self.prefix), low, high):
                threads.add(text(m).split("\x00", 1)[1])
        for thread_id in sorted(threads):
            self._rewrite(
                thread_id,
                lambda snap, t=thread_id: self.remove_plan(t, snap, self.for_runs(snap, wanted)),
            )

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy all checkpoints, values and writes of a thread to another."""
        k = self.keys(str(source_thread_id))
        with self.client.pipeline(transaction=True) as pipe:
            pipe.hgetall(k.cp)
            pipe.hgetall(k.v)
            pipe.hgetall(k.w)
            pipe.hgetall(k.vb)
            records, values, writes, bases = pipe.execute()
        self._apply(self.copy_plan(str(target_thread_id), records, values, writes, bases))

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """``keep_latest`` or ``delete`` (see ``AsyncRedisSaver.aprune``)."""
        if strategy not in ("keep_latest", "delete"):
            raise InvalidInput(f"unknown prune strategy {strategy!r}: keep_latest or delete")
        for thread_id in thread_ids:
            tid = str(thread_id)
            if strategy == "delete":
                self._rewrite(tid, lambda snap, t=tid: self.drop_plan(t, snap))
            else:
                self._rewrite(
                    tid,
                    lambda snap, t=tid: self.remove_plan(t, snap, self.keep_latest(snap)),
                )

    def _apply(self, plan: builtins.list[Command]) -> None:
        if not plan:
            return
        with self.client.pipeline(transaction=True) as pipe:
            for command in plan:
                pipe.execute_command(*command)
            pipe.execute()

    def _rewrite(self, thread_id: str, planner: Any) -> None:
        self.forget(thread_id)
        keys = self.keys(thread_id).all()
        with self.client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(*keys)
                    replies: list[Any] = [
                        pipe.execute_command(*c) for c in self.snapshot_commands(thread_id)
                    ]
                    plan = planner(ThreadSnapshot.from_replies(*replies))
                    if not plan:
                        pipe.reset()
                        return
                    pipe.multi()
                    for command in plan:
                        pipe.execute_command(*command)
                    pipe.execute()
                    return
                except WatchError:
                    continue

    # async API: the sync calls in a thread ---------------------------------------------
    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """``get_tuple`` in a thread."""
        return await asyncio.to_thread(self.get_tuple, config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """``list`` in a thread."""
        found = await asyncio.to_thread(
            lambda: [*self.list(config, filter=filter, before=before, limit=limit)]
        )
        for tup in found:
            yield tup

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """``put`` in a thread."""
        return await asyncio.to_thread(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """``put_writes`` in a thread."""
        await asyncio.to_thread(self.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        """``delete_thread`` in a thread."""
        await asyncio.to_thread(self.delete_thread, thread_id)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        """``delete_for_runs`` in a thread."""
        await asyncio.to_thread(self.delete_for_runs, run_ids)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """``copy_thread`` in a thread."""
        await asyncio.to_thread(self.copy_thread, source_thread_id, target_thread_id)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """``prune`` in a thread."""
        await asyncio.to_thread(self.prune, thread_ids, strategy=strategy)
