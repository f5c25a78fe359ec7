"""Adapter for our ``AsyncRedisSaver`` (``graph_sessions.checkpoint.redis_async_saver``):
checkpoint administration on its keys (``redis_keys``), reusing the saver's own removal
plans so that ``DeltaChannel`` bases and shared values are kept as its ``prune`` keeps them.

``cur`` is a ``redis.asyncio`` client or a pipeline in immediate (``WATCH``) mode: the reads
run at once on it; the methods that change the thread (``*_plan``) return the commands for
the caller to queue in its ``MULTI``, so that they commit with the backend's own writes.
"""

from __future__ import annotations

import inspect
from typing import Any

import redis
from redis.exceptions import WatchError

from graph_sessions.checkpoint.redis_async_saver import AsyncRedisSaver
from graph_sessions.checkpoint.redis_core import Command, text
from graph_sessions.checkpoint.redis_keys import AFTER, SEP, split_member, threads_key
from graph_sessions.checkpoint.redis_records import ThreadSnapshot

#: the synchronous connection class of each asyncio one (by name: TCP, TLS, unix socket)
_SYNC_CONNECTIONS: dict[str, type[Any]] = {
    "Connection": redis.Connection,
    "SSLConnection": redis.SSLConnection,
    "UnixDomainSocketConnection": redis.UnixDomainSocketConnection,
}


def sync_twin(client: Any) -> redis.Redis:
    """A synchronous client of the server an asyncio ``client`` talks to, over the same
    kind of connection (TCP, TLS with its certificate options, unix socket) and with its
    credentials and database: its pool's plain connection settings on the matching
    synchronous connection class."""
    pool = client.connection_pool
    cls = _SYNC_CONNECTIONS.get(pool.connection_class.__name__, redis.Connection)
    accepted: set[str] = set()
    for base in cls.__mro__:
        init = base.__dict__.get("__init__")
        if init is not None:
            accepted |= set(inspect.signature(init).parameters)
    plain = (str, bytes, int, float, bool, type(None))
    options: dict[str, Any] = {
        k: v
        for k, v in pool.connection_kwargs.items()
        if k in accepted and k not in ("self", "retry") and isinstance(v, plain)
    }
    return redis.Redis(connection_pool=redis.ConnectionPool(connection_class=cls, **options))


class RedisSaverAdmin:
    """Checkpoint administration of an ``AsyncRedisSaver`` (asyncio; see the module doc)."""

    def __init__(self, saver: AsyncRedisSaver, url: str | None = None) -> None:
        """``url``: the server's URL (``redis://``, ``rediss://``, ``unix://``), for the
        synchronous client; without it, that client copies the saver's client's settings."""
        self.saver = saver
        self.url = url

    def thread_keys(self, thread_id: str) -> list[str]:
        """Every key the saver keeps for ``thread_id``."""
        return self.saver.keys(thread_id).all()

    async def alatest_id(self, cur: Any, thread_id: str) -> str | None:
        """Id of the thread's newest root-namespace checkpoint, or ``None``."""
        found = await cur.zrevrangebylex(
            self.saver.keys(thread_id).idx, "(" + AFTER, "[" + SEP, start=0, num=1
        )
        return split_member(text(found[0]))[1] if found else None

    async def root_writes(self, cur: Any, thread_id: str, checkpoint_id: str | None) -> list[str]:
        """The fields of the pending writes stored on root checkpoint ``checkpoint_id``."""
        if checkpoint_id is None:
            return []
        member = SEP + checkpoint_id + SEP
        found = await cur.zrangebylex(
            self.saver.keys(thread_id).wi, "[" + member, "(" + member[:-1] + AFTER
        )
        return [text(f) for f in found]

    async def snapshot(self, cur: Any, thread_id: str) -> ThreadSnapshot:
        """What the removal plans read of the thread."""
        replies = [await cur.execute_command(*c) for c in self.saver.snapshot_commands(thread_id)]
        return ThreadSnapshot.from_replies(*replies)

    def drop_plan(self, thread_id: str, snap: ThreadSnapshot) -> list[Command]:
        """Commands deleting every key of the thread and its index entries."""
        self.saver.forget(thread_id)
        if not snap.records and not snap.write_fields and not snap.value_fields:
            return [
                ("DEL", *self.thread_keys(thread_id)),
                ("ZREM", threads_key(self.saver.prefix), thread_id),
            ]
        return self.saver.drop_plan(thread_id, snap)

    def after_plan(
        self,
        thread_id: str,
        snap: ThreadSnapshot,
        checkpoint_id: str | None,
        keep_writes: list[str] | None,
    ) -> list[Command]:
        """Commands dropping the checkpoints newer than ``checkpoint_id`` (all when
        ``None``) and, with ``keep_writes`` (the fields the root checkpoint had when the
        mark was taken), the writes stored on it since."""
        self.saver.forget(thread_id)
        if checkpoint_id is None:
            return self.drop_plan(thread_id, snap)
        remove = {m for m in snap.records if split_member(m)[1] > checkpoint_id}
        plan = self.saver.remove_plan(thread_id, snap, remove)
        if keep_writes is not None:
            prefix = SEP + checkpoint_id + SEP
            kept = set(keep_writes)
            extra = [f for f in snap.write_fields if f.startswith(prefix) and f not in kept]
            if extra:
                k = self.saver.keys(thread_id)
                plan += [("HDEL", k.w, *extra), ("ZREM", k.wi, *extra)]
        return plan

    def keep_newest_plan(
        self, thread_id: str, snap: ThreadSnapshot, keep: int
    ) -> tuple[list[Command], int]:
        """Commands keeping the newest ``keep`` root checkpoints (at least one), the ones
        of other namespaces written alongside and what their ``DeltaChannel`` values are
        rebuilt from; and how many root checkpoints they remove."""
        roots = sorted((m for m in snap.records if split_member(m)[0] == ""), reverse=True)
        if len(roots) <= keep:
            return [], 0
        heads = roots[: max(keep, 1)]
        oldest = split_member(heads[-1])[1]
        support = self.saver.delta_support(snap, heads)
        remove = {m for m in snap.records if split_member(m)[1] < oldest and m not in support}
        self.saver.forget(thread_id)
        plan = self.saver.remove_plan(thread_id, snap, set(remove))
        return plan, sum(1 for m in remove if split_member(m)[0] == "")

    async def acopy_thread(self, cur: Any, source: str, target: str) -> None:
        """Copy every checkpoint and write of ``source`` to ``target``."""
        await self.saver.acopy_thread(source, target)

    # the synchronous ``CheckpointAdmin`` (``tx`` unused): a client of its own -----------
    def _sync_client(self) -> redis.Redis:
        client: redis.Redis | None = self.__dict__.get("_sync")
        if client is None:
            made = (
                redis.Redis.from_url(self.url)
                if self.url is not None
                else sync_twin(self.saver.client)
            )
            client = self.__dict__.setdefault("_sync", made)
        return client

    def _sync_rewrite(self, thread_id: str, planner: Any) -> Any:
        with self._sync_client().pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(*self.thread_keys(thread_id))
                    replies = [
                        pipe.execute_command(*c) for c in self.saver.snapshot_commands(thread_id)
                    ]
                    plan, answer = planner(ThreadSnapshot.from_replies(*replies))
                    if plan:
                        pipe.multi()
                        for command in plan:
                            pipe.execute_command(*command)
                        pipe.execute()
                    else:
                        pipe.reset()
                    return answer
                except WatchError:
                    continue

    def latest_id(self, tx: object, thread_id: str) -> str | None:
        """See ``CheckpointAdmin.latest_id``."""
        found = self._sync_client().zrevrangebylex(
            self.saver.keys(thread_id).idx, "(" + AFTER, "[" + SEP, start=0, num=1
        )
        return split_member(text(found[0]))[1] if found else None

    def writes_mark(self, tx: object, thread_id: str, checkpoint_id: str | None) -> int:
        """See ``CheckpointAdmin.writes_mark`` (how many writes ``checkpoint_id`` has)."""
        if checkpoint_id is None:
            return 0
        member = SEP + checkpoint_id + SEP
        return int(
            self._sync_client().zlexcount(
                self.saver.keys(thread_id).wi, "[" + member, "(" + member[:-1] + AFTER
            )
        )

    def delete_thread(self, tx: object, thread_id: str) -> int:
        """See ``CheckpointAdmin.delete_thread``."""

        def plan(snap: ThreadSnapshot) -> tuple[list[Command], int]:
            n = len(snap.records) + len(snap.write_fields)
            return (self.drop_plan(thread_id, snap) if n else []), n

        return int(self._sync_rewrite(thread_id, plan))

    def delete_after(
        self, tx: object, thread_id: str, checkpoint_id: str | None, *, writes_mark: int | None
    ) -> None:
        """See ``CheckpointAdmin.delete_after`` (``writes_mark`` is not kept by this
        adapter: the backend keeps the fields themselves)."""
        self._sync_rewrite(
            thread_id, lambda snap: (self.after_plan(thread_id, snap, checkpoint_id, None), None)
        )

    def keep_newest(self, tx: object, thread_id: str, keep: int) -> int:
        """See ``CheckpointAdmin.keep_newest``."""
        return int(
            self._sync_rewrite(thread_id, lambda snap: self.keep_newest_plan(thread_id, snap, keep))
        )

    def copy_thread(self, tx: object, source: str, target: str) -> None:
        """See ``CheckpointAdmin.copy_thread``."""
        k = self.saver.keys(source)
        with self._sync_client().pipeline(transaction=True) as pipe:
            pipe.hgetall(k.cp)
            pipe.hgetall(k.v)
            pipe.hgetall(k.w)
            pipe.hgetall(k.vb)
            records, values, writes, bases = pipe.execute()
        plan = self.saver.copy_plan(target, records, values, writes, bases)
        if plan:
            with self._sync_client().pipeline(transaction=True) as pipe:
                for command in plan:
                    pipe.execute_command(*command)
                pipe.execute()

    def close(self) -> None:
        """Close the synchronous client, if one was made."""
        client = self.__dict__.pop("_sync", None)
        if client is not None:
            client.close()
