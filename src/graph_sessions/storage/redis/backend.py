"""Redis backend: ``redis://host:port/db`` (or ``rediss://``), on plain Redis >= 7.

One ``redis.asyncio.Redis`` client (``decode_responses=False``) serves the registry, runs,
events, messages (keys: ``keys.py``), the checkpoint saver (``AsyncRedisSaver``, same
prefix), the store and the run-stream relay.

**Atomicity.** Every write that belongs together is one optimistic transaction: the keys
it reads are ``WATCH``ed, the writes go in one ``MULTI``/``EXEC`` (log appends inside it as
a Lua script, so ids follow commit order), and the whole is tried again when another client
wrote a watched key in between. So ``begin_run``'s compare-and-set of the revision, new
lease, run row and events; ``finish_run`` guarded by the lease epoch; ``delete_session``
with every key of the session and its checkpoints: each commits whole or not at all, under
many tasks and many processes.

**Fencing.** ``P s:S:lease`` holds ``owner \\0 epoch``, written with every change of the
row's lease; the saver's put scripts refuse (``LeaseLost``) unless it still holds the value
of the run that writes.

**TTL by Redis.** A session with an ``expires_at`` that is neither running nor marked
``expired`` carries a Redis expiry on all its keys and its checkpoint keys, at
``max(expires_at, now) + expiry_grace`` (``?expiry_grace=`` seconds, default 3600),
renewed with every write of the row (a sliding TTL slides it). An idle deployment so stays
bounded with no sweeper; a sweeper that runs within the grace still finds the session
through ``find_expired`` (the ``expires`` index is kept for that) and applies
``on_expire`` (``keep_latest``, ``mark``: a marked session is kept with no expiry).
``?expiry_grace=0`` drops a session at its expiry (``on_expire="delete"`` by Redis alone).
A session whose keys expired reads as gone; index members left behind are dropped by the
reads that meet them and by ``find_expired``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError, WatchError

from graph_sessions.checkpoint.redis_async_saver import AsyncRedisSaver
from graph_sessions.checkpoint.redis_keys import SEP, run_member, runs_key, threads_key
from graph_sessions.clock import utcnow
from graph_sessions.errors import BackendError, InvalidInput, LeaseLost
from graph_sessions.models import (
    AssistantInfo,
    CronInfo,
    Event,
    Message,
    MessageSummary,
    RunInfo,
    RunStatus,
    SessionInfo,
    SessionStats,
    SessionStatus,
)
from graph_sessions.storage.backend import Backend, NewEvent, NewMessage, SessionQuery
from graph_sessions.storage.checkpoints import register_admin
from graph_sessions.storage.checkpoints.redis import RedisSaverAdmin
from graph_sessions.storage.codec import (
    dump_json,
    dump_time,
    load_json,
    load_time,
    redact_password,
)
from graph_sessions.storage.encryption import encrypt_saver
from graph_sessions.storage.records import (
    UNCHANGED,
    PendingRun,
    QueueCheck,
    RunBegun,
    RunFinish,
    RunStart,
    SessionRecord,
    SessionUpdate,
)
from graph_sessions.storage.redis import rows
from graph_sessions.storage.redis.durability import read_durability
from graph_sessions.storage.redis.keys import AFTER_MEMBER, APPEND_LOG, Keys
from graph_sessions.storage.redis.keys import run_member as session_run
from graph_sessions.storage.redis.rekey import RedisRekeySource
from graph_sessions.storage.redis.run_streams import RedisRunStreams
from graph_sessions.storage.redis.store import RedisStore
from graph_sessions.storage.run_streams import RunStreamRelay

log = logging.getLogger("graph_sessions.storage")

register_admin(AsyncRedisSaver, RedisSaverAdmin)

DEFAULT_PREFIX = "gs:"
#: seconds a session's keys outlive its ``expires_at`` (see the module doc)
DEFAULT_EXPIRY_GRACE = 3600.0
#: statuses whose sessions never expire (``P i:due`` leaves them out)
_NEVER_DUE = (SessionStatus.RUNNING, SessionStatus.EXPIRED)
#: connections of the backend's client (``?max_connections=`` in the URL overrides it);
#: a transaction holds one while it watches its keys
DEFAULT_MAX_CONNECTIONS = 64
#: seconds a command waits for a free connection before it fails
DEFAULT_POOL_TIMEOUT = 30.0
#: session ids read per round trip while listing
_PAGE = 200


class _After:
    """A transaction body's answer computed from the ``EXEC`` replies."""

    def __init__(self, fn: Callable[[list[Any]], Any]) -> None:
        self.fn = fn


class RedisBackend(Backend):
    """Sessions, checkpoints and store on one Redis server (see the module doc)."""

    supports_encryption = True

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        expiry_grace: float = DEFAULT_EXPIRY_GRACE,
        client: Redis | None = None,
    ) -> None:
        """``url``: ``redis://[user:password@]host:port/db`` or ``rediss://``.
        ``prefix``: of every key, so one Redis serves several deployments. ``expiry_grace``:
        seconds a session's keys outlive its ``expires_at`` before Redis drops them."""
        self.url = url
        self.prefix = prefix
        self.expiry_grace = expiry_grace
        self.keys = Keys(prefix)
        self.fences: dict[str, tuple[str | None, int]] = {}
        self._client = client
        self._owns_client = client is None
        self._relay: RunStreamRelay | None = None
        self._cancel_task: asyncio.Task[None] | None = None
        self._cancel_event = asyncio.Event()
        self._closing = False
        self._relay_made = False

    # lifecycle -----------------------------------------------------------------------
    @property
    def client(self) -> Any:
        """The client (once open)."""
        if self._client is None:
            raise BackendError("the Redis backend is not open")
        return self._client

    async def open(self) -> None:
        if self._client is not None and hasattr(self, "checkpointer"):
            return
        self._closing = False
        if self._client is None:
            # A blocking pool: a burst of transactions (each holds a connection while it
            # watches) waits for a free connection instead of failing.
            pool = BlockingConnectionPool.from_url(
                self.url, max_connections=DEFAULT_MAX_CONNECTIONS, timeout=DEFAULT_POOL_TIMEOUT
            )
            self._client = Redis.from_pool(pool)
        try:
            await self._client.ping()
        except (RedisError, OSError) as exc:
            if self._owns_client:
                await self._client.aclose()
                self._client = None
            raise BackendError(
                f"cannot reach Redis at {redact_password(self.url)!r}: {exc}"
            ) from exc
        client = self._client
        saver = AsyncRedisSaver(client, prefix=self.prefix)
        encrypt_saver(saver, self.encryption)
        self.checkpointer = saver
        # its synchronous client: of the same URL (unix sockets, TLS options), or like ours
        self.admin = RedisSaverAdmin(saver, self.url if self._owns_client else None)
        self.store = RedisStore(client, self.prefix)
        self._append = client.register_script(APPEND_LOG)
        self._after_member = client.register_script(AFTER_MEMBER)
        try:
            log.info("Redis durability: %s", (await read_durability(client)).summary())
        except Exception as exc:  # pragma: no cover - a report must not stop the open
            log.warning("could not read Redis's persistence settings: %s", exc)

    async def close(self) -> None:
        """Stop what runs on the client (cancel listener, run-stream relay, the store's TTL
        sweeper), close the admin's synchronous client and the client this backend made.
        A later :meth:`open` starts afresh: a new client, relay, saver and store."""
        await self._close_cancel_listener()
        relay, self._relay, self._relay_made = self._relay, None, False
        if relay is not None:
            await relay.stop()
        store = getattr(self, "store", None)
        if store is not None:
            await store.stop_ttl_sweeper(timeout=3.0)
        admin = getattr(self, "admin", None)
        if admin is not None:
            admin.close()
        if self._client is not None and self._owns_client:
            await self._client.aclose()
        self._client = None

    async def ping(self) -> bool:
        try:
            return bool(await self.client.ping())
        except Exception:
            return False

    def run_stream_relay(self) -> RunStreamRelay | None:
        if not self._relay_made:
            self._relay_made = True
            if RedisRunStreams is not None:
                self._relay = RedisRunStreams(self.client, self.prefix)
        return self._relay

    async def change_token(self) -> Any:
        return await self.client.get(self.keys.changes)

    def rekey_source(self) -> RedisRekeySource:
        return RedisRekeySource(self.client, self.prefix)

    async def read_setting(self, name: str) -> str | None:
        value = await self.client.hget(f"{self.keys.prefix}settings", name)
        return value.decode() if isinstance(value, bytes) else value

    async def write_setting(self, name: str, value: str) -> None:
        await self.client.hset(f"{self.keys.prefix}settings", name, value)

    async def write_problem(self) -> str | None:
        try:
            info = await self.client.info("replication")
        except (RedisError, OSError) as exc:
            return f"Redis does not answer: {exc}"
        if info.get("role") == "slave" and str(info.get("slave_read_only", 1)) == "1":
            return "the Redis server is a read-only replica"
        return None

    # fencing -------------------------------------------------------------------------
    @staticmethod
    def _lease_value(owner: str | None, epoch: int) -> str:
        return f"{owner or ''}{SEP}{epoch}"

    def fence(self, session_id: str, lease_owner: str | None, epoch: int) -> None:
        super().fence(session_id, lease_owner, epoch)
        saver = getattr(self, "checkpointer", None)
        if isinstance(saver, AsyncRedisSaver):
            saver.fence(
                session_id, self.keys.lease(session_id), self._lease_value(lease_owner, epoch)
            )

    def unfence(self, session_id: str) -> None:
        super().unfence(session_id)
        saver = getattr(self, "checkpointer", None)
        if isinstance(saver, AsyncRedisSaver):
            saver.unfence(session_id)

    # transactions --------------------------------------------------------------------
    async def _tx(self, watch: Sequence[str], body: Callable[[Any], Awaitable[Any]]) -> Any:
        """Run ``body`` with ``watch`` watched: it reads at once on the pipeline, then (to
        write) calls ``pipe.multi()`` and queues commands; they commit together, or the
        whole is tried again if a watched key changed meanwhile."""
        async with self.client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(*watch)
                    result = await body(pipe)
                    if pipe.explicit_transaction:
                        replies = await pipe.execute()
                        return result.fn(replies) if isinstance(result, _After) else result
                    await pipe.reset()
                    return result
                except WatchError:
                    continue

    async def _read_row(self, cur: Any, session_id: str) -> SessionInfo | None:
        return rows.session_from_fields(await cur.hgetall(self.keys.row(session_id)))

    def _deadline_ms(self, info: SessionInfo | None) -> int | None:
        """When Redis drops the session's keys (ms since the epoch), ``None``: never."""
        if (
            info is None
            or info.expires_at is None
            or info.status in (SessionStatus.RUNNING, SessionStatus.EXPIRED)
        ):
            return None
        at = max(info.expires_at, utcnow()) + timedelta(seconds=self.expiry_grace)
        return rows.score(at) // 1000

    def _all_keys(self, session_id: str) -> list[str]:
        return [*self.keys.session_keys(session_id), *self.admin.thread_keys(session_id)]

    def _queue_expiry(self, pipe: Any, info: SessionInfo) -> None:
        deadline = self._deadline_ms(info)
        for key in self._all_keys(info.session_id):
            if deadline is None:
                pipe.persist(key)
            else:
                pipe.pexpireat(key, deadline)

    def _queue_row(self, pipe: Any, old: SessionInfo | None, new: SessionInfo) -> None:
        """Write the row, its lease value and its index entries; then its expiry."""
        k = self.keys
        sid = new.session_id
        pipe.hset(k.row(sid), mapping=rows.session_fields(new))
        if old is None or (old.lease_owner, old.lease_epoch) != (new.lease_owner, new.lease_epoch):
            pipe.set(k.lease(sid), self._lease_value(new.lease_owner, new.lease_epoch))
        # indexes: only what changed (an index entry exists exactly while its row does)
        for key, field in (
            (k.created, "created_at"),
            (k.updated, "updated_at"),
            (k.expires, "expires_at"),
        ):
            if old is None or getattr(old, field) != getattr(new, field):
                pipe.zadd(key, {sid: rows.score(getattr(new, field))})
        due = new.expires_at is not None and new.status not in _NEVER_DUE
        was_due = old is not None and old.expires_at is not None and old.status not in _NEVER_DUE
        if due and (not was_due or old is None or old.expires_at != new.expires_at):
            pipe.zadd(k.due, {sid: rows.score(new.expires_at)})
        elif was_due and not due:
            pipe.zrem(k.due, sid)
        changed = False
        for old_key, new_key in (
            (old and k.status(str(old.status)), k.status(str(new.status))),
            (
                old and old.owner is not None and k.owner(old.owner),
                new.owner is not None and k.owner(new.owner),
            ),
            (old and k.graph(old.graph_id), k.graph(new.graph_id)),
            (
                old and old.task_id is not None and k.task(old.task_id),
                new.task_id is not None and k.task(new.task_id),
            ),
        ):
            if old_key == new_key and old is not None:
                continue
            changed = True
            if old_key:
                pipe.zrem(old_key, sid)
            if new_key:
                pipe.zadd(new_key, {sid: 0})
        if changed:
            where = {
                "status": str(new.status),
                "owner": new.owner,
                "graph": new.graph_id,
                "task": new.task_id,
            }
            pipe.hset(k.where, sid, dump_json(where))
        self._queue_expiry(pipe, new)

    def _queue_events(
        self, pipe: Any, session_id: str, events: Sequence[NewEvent], at: datetime | str | None
    ) -> None:
        if not events:
            return
        stamp = at if isinstance(at, str) or at is None else dump_time(at)
        payloads = [rows.event_payload(str(e.type), e.run_id, dict(e.data), stamp) for e in events]
        k = self.keys
        pipe.eval(
            APPEND_LOG,
            4,
            k.events(session_id),
            k.event_seq,
            k.changes,
            k.row(session_id),
            *payloads,
        )

    # registry ------------------------------------------------------------------------
    async def create_session(self, info: SessionInfo, event: NewEvent | None = None) -> bool:
        sid = info.session_id

        async def body(pipe: Any) -> Any:
            if await pipe.exists(self.keys.row(sid)):
                return False
            stale = await self._pending_of(pipe, sid)
            snap = await self.admin.snapshot(pipe, sid)
            where = load_json(await pipe.hget(self.keys.where, sid)) or {}
            pipe.multi()
            # what a former session of this id left (its keys expired in Redis)
            self._queue_unindex(pipe, sid, where)
            pipe.delete(*self._all_keys(sid))
            for command in self.admin.drop_plan(sid, snap):
                pipe.execute_command(*command)
            pipe.zremrangebylex(self.keys.runs_all, "[" + sid + SEP, "(" + sid + "\x01")
            if stale:
                pipe.hdel(self.keys.pending, *stale)
            self._queue_row(pipe, None, info)
            if event is not None:
                self._queue_events(pipe, sid, [event], info.created_at)
            return True

        return bool(
            await self._tx(
                [self.keys.row(sid), self.keys.pending, *self.admin.thread_keys(sid)], body
            )
        )

    async def get_session(self, session_id: str) -> SessionInfo | None:
        return await self._read_row(self.client, session_id)

    async def update_session(
        self,
        session_id: str,
        update: SessionUpdate,
        *,
        events: Sequence[NewEvent] = (),
        expect_status: Sequence[SessionStatus] | None = None,
        expect_revision: int | None = None,
    ) -> SessionInfo | None:

        async def body(pipe: Any) -> Any:
            info = await self._read_row(pipe, session_id)
            if info is None or (expect_status is not None and info.status not in expect_status):
                return None
            if expect_revision is not None and info.revision != expect_revision:
                return None
            new = self._applied(info, update.changes())
            pipe.multi()
            self._queue_row(pipe, info, new)
            at = update.updated_at
            self._queue_events(pipe, session_id, events, new.updated_at if at is UNCHANGED else at)
            return new

        return await self._tx([self.keys.row(session_id)], body)

    @staticmethod
    def _applied(info: SessionInfo, changes: dict[str, Any]) -> SessionInfo:
        new = info.model_copy(deep=True)
        for name, value in changes.items():
            setattr(new, name, value)
        if "revision" not in changes:
            new.revision = info.revision + 1
        return SessionInfo.model_validate(new.model_dump())

    async def _load_rows(self, ids: Sequence[str]) -> list[SessionInfo | None]:
        if not ids:
            return []
        async with self.client.pipeline(transaction=False) as pipe:
            for sid in ids:
                pipe.hgetall(self.keys.row(sid))
            replies = await pipe.execute()
        return [rows.session_from_fields(r) for r in replies]

    async def _forget(self, session_ids: Sequence[str]) -> None:
        """Drop index entries (and global records: pending runs, crons, the saver's
        ``P runs`` members) of sessions whose keys Redis expired."""
        k = self.keys
        for sid in session_ids:

            async def body(pipe: Any, sid: str = sid) -> Any:
                if await pipe.exists(k.row(sid)):
                    return None
                where = load_json(await pipe.hget(k.where, sid)) or {}
                stale = await self._pending_of(pipe, sid)
                crons = await self._crons_of(pipe, sid)
                # the run ids from the run-count index (the session's runs hash is gone)
                members = await pipe.zrangebylex(k.runs_all, "[" + sid + SEP, "(" + sid + "\x01")
                run_ids = [m.decode()[len(sid) + len(SEP) :] for m in members]
                pipe.multi()
                self._queue_unindex(pipe, sid, where)
                if stale:
                    pipe.hdel(k.pending, *stale)
                if crons:
                    pipe.hdel(k.crons, *crons)
                if run_ids:
                    pipe.zrem(runs_key(self.prefix), *[run_member(r, sid) for r in run_ids])
                pipe.zrem(threads_key(self.prefix), sid)
                return None

            await self._tx([k.row(sid), k.pending, k.crons, k.runs_all], body)

    def _queue_unindex(self, pipe: Any, sid: str, where: dict[str, Any]) -> None:
        k = self.keys
        for key in (k.created, k.updated, k.expires, k.due):
            pipe.zrem(key, sid)
        for status in SessionStatus:
            pipe.zrem(k.status(str(status)), sid)
        if where.get("owner") is not None:
            pipe.zrem(k.owner(where["owner"]), sid)
        if where.get("graph") is not None:
            pipe.zrem(k.graph(where["graph"]), sid)
        if where.get("task") is not None:
            pipe.zrem(k.task(where["task"]), sid)
        pipe.hdel(k.where, sid)
        pipe.zremrangebylex(k.runs_all, "[" + sid + SEP, "(" + sid + "\x01")

    async def _read_page(
        self,
        source: str,
        cursor: tuple[int, str] | None,
        lo: Any,
        hi: Any,
        size: int,
        descending: bool,
    ) -> list[tuple[bytes, float]]:
        """Up to ``size`` members of ``source`` from the cursor on, in the listing's order:
        by the cursor member's rank when it is still there, else by score."""
        if cursor is not None:
            page = await self._page_after(source, cursor, size, descending)
            if page is not None:
                return page
        if descending:
            found = await self.client.zrevrangebyscore(
                source, hi, lo, start=0, num=size, withscores=True
            )
        else:
            found = await self.client.zrangebyscore(
                source, lo, hi, start=0, num=size, withscores=True
            )
        return list(found)

    async def _page_after(
        self, source: str, cursor: tuple[int, str], size: int, descending: bool
    ) -> list[tuple[bytes, float]] | None:
        """Up to ``size`` members after the cursor's member in the listing's order, found
        by its rank (``None``: it left the index or changed score: read by score instead).
        Reading by score from the cursor's score re-reads every member of that score
        before it: quadratic over a big group of one score (``expires_at``: every session
        without a TTL scores 0)."""
        flat = await self._after_member(
            keys=[source], args=[cursor[1], cursor[0], size, "1" if descending else "0"]
        )
        if flat is None:
            return None
        return [(flat[i], float(flat[i + 1])) for i in range(0, len(flat), 2)]

    async def _source(self, q: SessionQuery) -> tuple[str, list[str]]:
        """The zset to read ``q``'s rows from in its order: the sort index, or (with
        filters an index answers) a short-lived intersection of it with them; and the
        short-lived keys to delete after."""
        k = self.keys
        sort_key = {"created_at": k.created, "updated_at": k.updated, "expires_at": k.expires}[
            str(q.sort)
        ]
        filters = []
        if q.owner is not None:
            filters.append(k.owner(q.owner))
        if q.graph_id is not None:
            filters.append(k.graph(q.graph_id))
        if q.task_id is not None:
            filters.append(k.task(q.task_id))
        statuses: list[str] = []
        if q.status and not (SessionStatus.EXPIRED in q.status and q.now is not None):
            statuses = [k.status(str(s)) for s in q.status]
        if not filters and not statuses:
            return sort_key, []
        name = uuid.uuid4().hex
        source = k.temp(name)
        temp = [source]
        async with self.client.pipeline(transaction=True) as pipe:
            parts = {sort_key: 1.0, **{f: 0.0 for f in filters}}
            if statuses:
                union = k.temp(name + ":status")
                temp.append(union)
                pipe.zunionstore(union, statuses)
                parts[union] = 0.0
            pipe.zinterstore(source, parts, aggregate="SUM")
            for key in temp:
                pipe.expire(key, 60)
            await pipe.execute()
        return source, temp

    async def _scan(self, q: SessionQuery, limit: int | None) -> list[SessionInfo]:
        """The rows matching ``q`` in its order, from its cursor: read by pages of the
        sort index (intersected in Redis with the filter indexes first). ``id_prefix`` has
        no index here (no lex index of session ids): the rows are read and checked, so a
        prefix search costs a scan of the (filtered) sort index until a page is full."""
        source, temp = await self._source(q)
        lo: Any = "-inf"
        hi: Any = "+inf"
        cursor: tuple[int, str] | None = None
        if q.cursor is not None:
            try:
                cursor = (rows.score_of_text(q.cursor[0]), q.cursor[1])
            except (TypeError, ValueError):
                raise InvalidInput("this cursor is not one this API returned") from None
            if q.descending:
                hi = cursor[0]
            else:
                lo = cursor[0]
        out: list[SessionInfo] = []
        taken: set[str] = set()
        gone: list[str] = []
        size = _PAGE if limit is None else min(_PAGE, limit + 1)
        try:
            # Each round reads from the last row read (its score, then its id), not from an
            # offset: rows added or removed meanwhile shift no later page.
            while limit is None or len(out) < limit:
                if cursor is not None:
                    if q.descending:
                        hi = cursor[0]
                    else:
                        lo = cursor[0]
                page = await self._read_page(source, cursor, lo, hi, size, q.descending)
                fresh = [
                    (m.decode(), int(value))
                    for m, value in page
                    if not _seen(cursor, int(value), m.decode(), q.descending)
                ]
                ids = [sid for sid, _ in fresh if sid not in taken]
                for sid, info in zip(ids, await self._load_rows(ids), strict=True):
                    if info is None:
                        gone.append(sid)
                    elif q.matches(info) and (limit is None or len(out) < limit):
                        out.append(info)
                        taken.add(sid)  # a row moved past the cursor meanwhile: once only
                if len(page) < size:
                    break
                if fresh:
                    cursor = (fresh[-1][1], fresh[-1][0])
                    size = min(_PAGE, size * 2)
                else:  # a whole page of one score, read already: read a longer one
                    size *= 2
        finally:
            if temp:
                await self.client.delete(*temp)
        if gone:
            await self._forget(gone)
        return out

    async def list_sessions(self, query: SessionQuery) -> list[SessionInfo]:
        return await self._scan(query, query.limit)

    async def count_sessions(self, query: SessionQuery) -> int:
        indexed = (
            not query.metadata
            and not query.id_prefix
            and query.created_after is None
            and query.created_before is None
            and query.updated_after is None
            and query.updated_before is None
            and not (query.status and SessionStatus.EXPIRED in query.status and query.now)
        )
        if not indexed:
            return len(await self._scan(query, None))
        # |matching| from the indexes' sizes: the filter sets' intersection, less (unless
        # expired ones count) those marked expired and those whose TTL passed by now
        now = query.now or utcnow()
        due = [
            m.decode() for m in await self.client.zrangebyscore(self.keys.due, 1, rows.score(now))
        ]
        source, temp = await self._source(
            query.__class__(**{**query.__dict__, "sort": "created_at"})
        )
        try:
            total = int(await self.client.zcard(source))
            if query.include_expired or query.now is None:
                gone = [
                    sid for sid, i in zip(due, await self._load_rows(due), strict=True) if i is None
                ]
                if gone:
                    await self._forget(gone)
                    return await self.count_sessions(query)
                return total
            marked = int(
                await self.client.zintercard(
                    2, [source, self.keys.status(str(SessionStatus.EXPIRED))]
                )
            )
            lapsed = 0
            if due:
                lapsed = sum(1 for x in await self.client.zmscore(source, due) if x is not None)
            return total - marked - lapsed
        finally:
            if temp:
                await self.client.delete(*temp)

    async def _expired_candidates(self, now: datetime) -> list[SessionInfo]:
        """Rows neither running nor marked expired whose ``expires_at`` passed by ``now``
        (``P i:due``); those whose keys Redis expired are dropped from the indexes (they
        are all there: only such rows carry an expiry)."""
        ids = [
            m.decode() for m in await self.client.zrangebyscore(self.keys.due, 1, rows.score(now))
        ]
        found = await self._load_rows(ids)
        gone = [sid for sid, info in zip(ids, found, strict=True) if info is None]
        if gone:
            await self._forget(gone)
        return [info for info in found if info is not None]

    async def _drop_gone(self, now: datetime) -> None:
        await self._expired_candidates(now)

    async def stats(self, now: datetime) -> SessionStats:
        candidates = await self._expired_candidates(now)
        k = self.keys
        async with self.client.pipeline(transaction=True) as pipe:
            for status in SessionStatus:
                pipe.zcard(k.status(str(status)))
            pipe.zcard(k.created)
            pipe.zrange(k.created, 0, 0)
            pipe.zrange(k.created, -1, -1)
            pipe.zcard(k.runs_all)
            replies = await pipe.execute()
        counts = replies[: len(SessionStatus)]
        by_status = {str(s): int(n) for s, n in zip(SessionStatus, counts, strict=True) if n}
        total, first, last, runs = replies[len(SessionStatus) :]
        expired = by_status.get(str(SessionStatus.EXPIRED), 0) + sum(
            1 for c in candidates if c.status not in (SessionStatus.RUNNING, SessionStatus.EXPIRED)
        )
        ends = await self._load_rows([m.decode() for m in (*first, *last)])
        times = [e.created_at for e in ends if e is not None]
        return SessionStats(
            total=int(total),
            by_status=by_status,
            expired=expired,
            oldest_created_at=min(times, default=None),
            newest_created_at=max(times, default=None),
            runs_total=int(runs),
        )

    async def _pending_of(self, cur: Any, session_id: str) -> list[str]:
        found = await cur.hgetall(self.keys.pending)
        return [
            rid.decode()
            for rid, raw in found.items()
            if rows.pending_from_json(raw).session_id == session_id
        ]

    async def _crons_of(self, cur: Any, session_id: str) -> list[str]:
        found = await cur.hgetall(self.keys.crons)
        return [
            cid.decode()
            for cid, raw in found.items()
            if CronInfo.model_validate_json(raw).thread_id == session_id
        ]

    async def delete_session(
        self, session_id: str, *, only_if_expired_at: datetime | None = None
    ) -> bool:
        sid = session_id
        k = self.keys

        async def body(pipe: Any) -> Any:
            info = await self._read_row(pipe, sid)
            if only_if_expired_at is not None and (
                info is None
                or info.status == SessionStatus.RUNNING
                or not info.is_expired(only_if_expired_at)
            ):
                return False
            present = int(await pipe.exists(*self._all_keys(sid)))
            where = load_json(await pipe.hget(k.where, sid)) or {}
            stale = await self._pending_of(pipe, sid)
            crons = await self._crons_of(pipe, sid)
            run_ids = [r.decode() for r in await pipe.hkeys(k.runs(sid))]
            snap = await self.admin.snapshot(pipe, sid)
            pipe.multi()
            for command in self.admin.drop_plan(sid, snap):
                pipe.execute_command(*command)
            pipe.delete(*self._all_keys(sid))
            if run_ids:
                pipe.zrem(runs_key(self.prefix), *[run_member(r, sid) for r in run_ids])
            self._queue_unindex(pipe, sid, where)
            if stale:
                pipe.hdel(k.pending, *stale)
            if crons:
                pipe.hdel(k.crons, *crons)
            pipe.incr(k.changes)
            return info is not None or present > 0 or bool(stale)

        watched = [*self._all_keys(sid), k.pending, k.crons]
        return bool(await self._tx(watched, body))

    async def find_expired(self, now: datetime, limit: int) -> list[SessionInfo]:
        found = [
            s
            for s in await self._expired_candidates(now)
            if s.expires_at is not None
            and s.expires_at <= now
            and s.status not in (SessionStatus.RUNNING, SessionStatus.EXPIRED)
        ]
        found.sort(key=lambda s: (s.expires_at or now, s.session_id))
        return found[:limit]

    async def find_running(self, lapsed_at: datetime | None = None) -> list[SessionInfo]:
        status_key = self.keys.status(str(SessionStatus.RUNNING))
        ids = [m.decode() for m in await self.client.zrange(status_key, 0, -1)]
        found = await self._load_rows(ids)
        gone = [sid for sid, info in zip(ids, found, strict=True) if info is None]
        if gone:
            await self._forget(gone)
        return [
            s
            for s in found
            if s is not None
            and s.status == SessionStatus.RUNNING
            and (lapsed_at is None or s.lease_expires_at is None or s.lease_expires_at <= lapsed_at)
        ]

    # runs ----------------------------------------------------------------------------
    async def begin_run(
        self,
        session_id: str,
        run: RunInfo,
        start: RunStart,
        *,
        expect_revision: int,
        events: Sequence[NewEvent] = (),
        queue: QueueCheck | None = None,
    ) -> RunBegun | None:
        sid = session_id
        k = self.keys

        async def body(pipe: Any) -> Any:
            info = await self._read_row(pipe, sid)
            if info is None or info.revision != expect_revision:
                return None
            if queue is not None:
                for seq, raw in (await pipe.hgetall(k.tickets)).items():
                    t = load_json(raw)
                    expires = load_time(t["expires_at"])
                    if (
                        t["session_id"] == sid
                        and expires is not None
                        and expires > queue.now
                        and t["owner"] != queue.owner
                        and int(seq) < queue.position
                    ):
                        return None
            before = await self.admin.alatest_id(pipe, sid)
            marked = await self.admin.root_writes(pipe, sid, before)
            recorded = run.model_copy(
                update={"checkpoint_before": before, "writes_mark": len(marked)}
            )
            new = self._applied(info, {**start.changes(), "lease_epoch": info.lease_epoch + 1})
            pipe.multi()
            self._queue_row(pipe, info, new)
            pipe.set(k.writes_mark(sid), dump_json({"checkpoint": before, "writes": marked}))
            pipe.hset(k.runs(sid), run.run_id, rows.run_json(recorded))
            pipe.zadd(k.runs_all, {session_run(sid, run.run_id): 0})
            pipe.hdel(k.pending, run.run_id)
            if queue is not None and queue.ticket is not None:
                pipe.hdel(k.tickets, str(queue.ticket))
            self._queue_events(pipe, sid, events, run.started_at)
            return RunBegun(new, recorded)

        idx = self.admin.saver.keys(sid)
        watched = [k.row(sid), idx.idx, idx.wi, k.pending]
        if queue is not None:
            watched.append(k.tickets)
        return await self._tx(watched, body)

    async def finish_run(
        self,
        session_id: str,
        run_id: str,
        finish: RunFinish,
        *,
        events: Sequence[NewEvent] = (),
        expect_lease: str | None = None,
        expect_epoch: int | None = None,
    ) -> tuple[SessionInfo | None, str | None]:
        sid = session_id
        k = self.keys

        async def body(pipe: Any) -> Any:
            latest = await self.admin.alatest_id(pipe, sid)
            info = await self._read_row(pipe, sid)
            if expect_lease is not None and (info is None or info.lease_owner != expect_lease):
                return None, None
            if expect_epoch is not None and (info is None or info.lease_epoch != expect_epoch):
                return None, None
            if info is None:
                return None, latest
            raw = await pipe.hget(k.runs(sid), run_id)
            changes = finish.changes()
            if finish.slide_ttl and info.ttl is not None and info.ttl_mode == "sliding":
                changes["expires_at"] = finish.updated_at + timedelta(seconds=info.ttl)
            new = self._applied(info, changes)
            pipe.multi()
            if raw is not None:
                done = rows.run_from_json(raw).model_copy(
                    update={
                        "status": finish.run_status,
                        "finished_at": finish.updated_at,
                        "error": finish.error,
                        "checkpoint_after": latest,
                    }
                )
                pipe.hset(k.runs(sid), run_id, rows.run_json(done))
            self._queue_row(pipe, info, new)
            self._queue_events(pipe, sid, events, finish.updated_at)
            return new, latest

        idx = self.admin.saver.keys(sid)
        return await self._tx([k.row(sid), k.runs(sid), idx.idx], body)

    async def renew_lease(
        self, session_id: str, lease_owner: str, epoch: int, expires_at: datetime
    ) -> bool:
        async def body(pipe: Any) -> Any:
            info = await self._read_row(pipe, session_id)
            if (
                info is None
                or info.status != SessionStatus.RUNNING
                or (info.lease_owner, info.lease_epoch) != (lease_owner, epoch)
            ):
                return False
            renewed = info.model_copy(update={"lease_expires_at": expires_at})
            pipe.multi()
            pipe.hset(self.keys.row(session_id), mapping=rows.session_fields(renewed))
            return True

        return bool(await self._tx([self.keys.row(session_id)], body))

    async def list_runs(self, session_id: str, limit: int = 50) -> list[RunInfo]:
        found = await self.client.hvals(self.keys.runs(session_id))
        runs = [rows.run_from_json(raw) for raw in found]
        runs.sort(key=lambda r: r.started_at, reverse=True)
        return runs[:limit]

    # cancel requests -------------------------------------------------------------------
    async def _run_running(self, cur: Any, session_id: str, run_id: str) -> bool:
        raw = await cur.hget(self.keys.runs(session_id), run_id)
        return raw is not None and rows.run_from_json(raw).status == RunStatus.RUNNING

    async def request_cancel(
        self, session_id: str, run_id: str, action: str, requested_at: datetime
    ) -> bool:
        k = self.keys
        for rid, raw in (await self.client.hgetall(k.cancels)).items():
            sid = raw.decode().partition(SEP)[0]
            if not await self._run_running(self.client, sid, rid.decode()):
                await self.client.hdel(k.cancels, rid)

        async def body(pipe: Any) -> Any:
            if not await self._run_running(pipe, session_id, run_id):
                return False
            pipe.multi()
            pipe.hset(k.cancels, run_id, f"{session_id}{SEP}{action}")
            pipe.publish(k.cancel_channel, run_id)
            return True

        return bool(await self._tx([k.runs(session_id), k.cancels], body))

    #: notifications (pub/sub) wake the waiters; this poll is the fallback
    cancel_poll_interval = 2.0

    async def wait_cancel_request(self, timeout: float) -> None:
        """Return when a cancel request was published on the prefix's channel (by any
        process) since the last return, or after ``timeout`` seconds. A listener task of
        the backend's own reads the channel; waiting here is plain asyncio."""
        if (self._cancel_task is None or self._cancel_task.done()) and not self._closing:
            self._cancel_task = asyncio.create_task(
                self._listen_cancels(), name="graph-sessions-redis-cancels"
            )
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation
        # that arrives as the event is set, and the manager's close then waits forever
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._cancel_event.wait()
        self._cancel_event.clear()

    #: seconds before listening again after the listener's connection failed
    cancel_retry = 0.5

    async def _listen_cancels(self) -> None:
        """Set ``_cancel_event`` for each message on the cancel channel until close (it
        checks ``_closing`` every second, so a swallowed cancellation cannot keep it)."""
        while not self._closing:
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.keys.cancel_channel)
                self._cancel_event.set()  # requests made before we listened: look once
                while not self._closing:
                    if await pubsub.get_message(timeout=1.0) is not None:
                        self._cancel_event.set()
            except (RedisError, OSError) as exc:
                log.debug("the Redis cancel listener lost its connection: %s", exc)
                await asyncio.sleep(self.cancel_retry)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()

    async def _close_cancel_listener(self) -> None:
        self._closing = True
        task, self._cancel_task = self._cancel_task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task}, timeout=3.0)

    async def take_cancel_requests(self, run_ids: Sequence[str]) -> dict[str, str]:
        if not run_ids:
            return {}
        k = self.keys

        async def body(pipe: Any) -> Any:
            found = await pipe.hmget(k.cancels, list(run_ids))
            taken = {
                rid: raw.decode().partition(SEP)[2]
                for rid, raw in zip(run_ids, found, strict=True)
                if raw is not None
            }
            if taken:
                pipe.multi()
                pipe.hdel(k.cancels, *taken)
            return taken

        return await self._tx([k.cancels], body)

    # queue tickets ---------------------------------------------------------------------
    async def take_ticket(self, session_id: str, owner: str, expires_at: datetime) -> int:
        seq = int(await self.client.incr(self.keys.ticket_seq))
        record = {"session_id": session_id, "owner": owner, "expires_at": dump_time(expires_at)}
        await self.client.hset(self.keys.tickets, str(seq), dump_json(record))
        return seq

    async def renew_tickets(
        self, owner: str, expires_at: datetime, tickets: Sequence[int] | None = None
    ) -> int:
        k = self.keys

        async def body(pipe: Any) -> Any:
            mine = {}
            for seq, raw in (await pipe.hgetall(k.tickets)).items():
                t = load_json(raw)
                if t["owner"] == owner and (tickets is None or int(seq) in tickets):
                    t["expires_at"] = dump_time(expires_at)
                    mine[seq] = dump_json(t)
            if mine:
                pipe.multi()
                pipe.hset(k.tickets, mapping=mine)
            return len(mine)

        return int(await self._tx([k.tickets], body))

    async def drop_ticket(self, ticket: int) -> None:
        await self.client.hdel(self.keys.tickets, str(ticket))

    # pending runs ----------------------------------------------------------------------
    async def add_pending_run(self, pending: PendingRun) -> bool:
        k = self.keys

        async def body(pipe: Any) -> Any:
            if not await pipe.exists(k.row(pending.session_id)):
                return False
            if await pipe.hexists(k.pending, pending.run_id):
                return False
            pipe.multi()
            pipe.hset(k.pending, pending.run_id, rows.pending_json(pending))
            return True

        return bool(await self._tx([k.row(pending.session_id), k.pending], body))

    async def list_pending_runs(self, session_id: str | None = None) -> list[PendingRun]:
        found = [rows.pending_from_json(raw) for raw in await self.client.hvals(self.keys.pending)]
        picked = [p for p in found if session_id is None or p.session_id == session_id]
        picked.sort(key=lambda p: (p.created_at, p.run_id))
        return picked

    async def claim_pending_run(
        self,
        run_id: str,
        claimed_by: str,
        claimed_until: datetime,
        *,
        expect_by: str | None,
        expect_until: datetime | None,
    ) -> bool:
        k = self.keys

        async def body(pipe: Any) -> Any:
            raw = await pipe.hget(k.pending, run_id)
            if raw is None:
                return False
            found = rows.pending_from_json(raw)
            if (found.claimed_by, found.claimed_until) != (expect_by, expect_until):
                return False
            claimed = _replace(found, claimed_by=claimed_by, claimed_until=claimed_until)
            pipe.multi()
            pipe.hset(k.pending, run_id, rows.pending_json(claimed))
            return True

        return bool(await self._tx([k.pending], body))

    async def renew_pending_claims(self, claimed_by: str, claimed_until: datetime) -> list[str]:
        k = self.keys

        async def body(pipe: Any) -> Any:
            held = {}
            every = [rows.pending_from_json(raw) for raw in await pipe.hvals(k.pending)]
            for found in sorted(every, key=lambda p: (p.created_at, p.run_id)):
                if found.claimed_by == claimed_by:
                    held[found.run_id] = rows.pending_json(
                        _replace(found, claimed_until=claimed_until)
                    )
            if held:
                pipe.multi()
                pipe.hset(k.pending, mapping=held)
            return list(held)

        return await self._tx([k.pending], body)

    async def delete_pending_run(self, run_id: str) -> bool:
        return bool(await self.client.hdel(self.keys.pending, run_id))

    # events --------------------------------------------------------------------------
    async def append_events(
        self, session_id: str, events: Sequence[NewEvent], at: datetime
    ) -> bool:

        async def body(pipe: Any) -> Any:
            if not await pipe.exists(self.keys.row(session_id)):
                return False
            pipe.multi()
            self._queue_events(pipe, session_id, events, at)
            return True

        return bool(await self._tx([self.keys.row(session_id)], body))

    async def list_events(
        self, session_id: str, *, after_id: int | None = None, limit: int = 100
    ) -> list[Event]:
        found = await self.client.zrangebyscore(
            self.keys.events(session_id), f"({after_id or 0}", "+inf", start=0, num=limit
        )
        return [rows.event_from_member(session_id, m) for m in found]

    # messages ------------------------------------------------------------------------
    async def append_messages(
        self, session_id: str, messages: Sequence[NewMessage], at: datetime | None = None
    ) -> list[int]:
        if not messages:
            return []
        stamp = dump_time(at or utcnow())
        payloads = [rows.message_payload(m.role, m.content, dict(m.data), stamp) for m in messages]
        k = self.keys
        ids = await self._append(
            keys=[k.messages(session_id), k.message_seq, k.changes, k.row(session_id)],
            args=payloads,
        )
        return [int(i) for i in ids]

    async def load_messages(
        self, session_id: str, *, limit: int | None = None, before_id: int | None = None
    ) -> list[Message]:
        top = "+inf" if before_id is None else f"({before_id}"
        if limit is not None and limit <= 0:
            return []
        if limit is None:
            found = await self.client.zrevrangebyscore(self.keys.messages(session_id), top, "-inf")
        else:
            found = await self.client.zrevrangebyscore(
                self.keys.messages(session_id), top, "-inf", start=0, num=limit
            )
        return [rows.message_from_member(session_id, m) for m in reversed(found)]

    async def clear_messages(self, session_id: str) -> int:
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.zcard(self.keys.messages(session_id))
            pipe.delete(self.keys.messages(session_id))
            count, _ = await pipe.execute()
        return int(count)

    async def message_summary(self, session_id: str) -> MessageSummary:
        found = [
            rows.message_from_member(session_id, m)
            for m in await self.client.zrange(self.keys.messages(session_id), 0, -1)
        ]
        return MessageSummary(
            count=len(found),
            by_role=dict(Counter(m.role for m in found)),
            first_at=found[0].created_at if found else None,
            last_at=found[-1].created_at if found else None,
            last_message=found[-1] if found else None,
        )

    # assistants ----------------------------------------------------------------------
    async def create_assistant(self, info: AssistantInfo) -> bool:
        key = self.keys.assistant(info.assistant_id)

        async def body(pipe: Any) -> Any:
            if await pipe.exists(key):
                return False
            pipe.multi()
            pipe.hset(
                key, mapping={f"v:{info.version}": info.model_dump_json(), "current": info.version}
            )
            pipe.sadd(self.keys.assistants, info.assistant_id)
            return True

        return bool(await self._tx([key], body))

    async def _assistant_versions(
        self, cur: Any, assistant_id: str
    ) -> tuple[dict[int, AssistantInfo], int | None]:
        found = await cur.hgetall(self.keys.assistant(assistant_id))
        versions = {
            int(f[2:]): AssistantInfo.model_validate_json(v)
            for f, v in found.items()
            if f.startswith(b"v:")
        }
        current = found.get(b"current")
        return versions, int(current) if current is not None else None

    async def get_assistant(self, assistant_id: str) -> AssistantInfo | None:
        versions, current = await self._assistant_versions(self.client, assistant_id)
        return versions.get(current) if current is not None else None

    async def list_assistants(self) -> list[AssistantInfo]:
        ids = sorted(m.decode() for m in await self.client.smembers(self.keys.assistants))
        found = [await self.get_assistant(a) for a in ids]
        return sorted(
            (a for a in found if a is not None), key=lambda a: (a.created_at, a.assistant_id)
        )

    async def add_assistant_version(self, info: AssistantInfo) -> bool:
        key = self.keys.assistant(info.assistant_id)

        async def body(pipe: Any) -> Any:
            versions, _ = await self._assistant_versions(pipe, info.assistant_id)
            if not versions or max(versions) != info.version - 1:
                return False
            pipe.multi()
            pipe.hset(
                key, mapping={f"v:{info.version}": info.model_dump_json(), "current": info.version}
            )
            return True

        return bool(await self._tx([key], body))

    async def set_assistant_version(
        self, assistant_id: str, version: int, updated_at: datetime
    ) -> AssistantInfo | None:
        key = self.keys.assistant(assistant_id)

        async def body(pipe: Any) -> Any:
            versions, _ = await self._assistant_versions(pipe, assistant_id)
            if version not in versions:
                return None
            chosen = versions[version].model_copy(update={"updated_at": updated_at})
            pipe.multi()
            pipe.hset(key, mapping={f"v:{version}": chosen.model_dump_json(), "current": version})
            return chosen

        return await self._tx([key], body)

    async def list_assistant_versions(self, assistant_id: str) -> list[AssistantInfo]:
        versions, _ = await self._assistant_versions(self.client, assistant_id)
        return [versions[v] for v in sorted(versions, reverse=True)]

    async def delete_assistant(self, assistant_id: str) -> bool:
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.delete(self.keys.assistant(assistant_id))
            pipe.srem(self.keys.assistants, assistant_id)
            deleted, _ = await pipe.execute()
        return bool(deleted)

    # crons ---------------------------------------------------------------------------
    async def create_cron(self, info: CronInfo) -> bool:
        return bool(await self.client.hsetnx(self.keys.crons, info.cron_id, info.model_dump_json()))

    async def get_cron(self, cron_id: str) -> CronInfo | None:
        raw = await self.client.hget(self.keys.crons, cron_id)
        return CronInfo.model_validate_json(raw) if raw is not None else None

    async def _all_crons(self) -> list[CronInfo]:
        return [CronInfo.model_validate_json(v) for v in await self.client.hvals(self.keys.crons)]

    async def list_crons(
        self, *, owner: str | None = None, thread_id: str | None = None
    ) -> list[CronInfo]:
        found = [
            c
            for c in await self._all_crons()
            if (owner is None or c.owner == owner)
            and (thread_id is None or c.thread_id == thread_id)
        ]
        return sorted(found, key=lambda c: (c.created_at, c.cron_id))

    async def update_cron(self, info: CronInfo) -> bool:
        async def body(pipe: Any) -> Any:
            if not await pipe.hexists(self.keys.crons, info.cron_id):
                return False
            pipe.multi()
            pipe.hset(self.keys.crons, info.cron_id, info.model_dump_json())
            return True

        return bool(await self._tx([self.keys.crons], body))

    async def delete_cron(self, cron_id: str) -> bool:
        return bool(await self.client.hdel(self.keys.crons, cron_id))

    async def due_crons(self, now: datetime, limit: int = 100) -> list[CronInfo]:
        found = [
            c
            for c in await self._all_crons()
            if c.enabled and c.next_run_date <= now and (c.end_time is None or c.end_time >= now)
        ]
        found.sort(key=lambda c: (c.next_run_date, c.cron_id))
        return found[:limit]

    async def claim_cron(self, cron_id: str, seen: datetime, next_run_date: datetime) -> bool:
        async def body(pipe: Any) -> Any:
            raw = await pipe.hget(self.keys.crons, cron_id)
            if raw is None:
                return False
            found = CronInfo.model_validate_json(raw)
            if found.next_run_date != seen:
                return False
            found.next_run_date = next_run_date
            pipe.multi()
            pipe.hset(self.keys.crons, cron_id, found.model_dump_json())
            return True

        return bool(await self._tx([self.keys.crons], body))

    # checkpoints ---------------------------------------------------------------------
    async def latest_checkpoint_id(self, session_id: str) -> str | None:
        return await self.admin.alatest_id(self.client, session_id)

    async def delete_checkpoints_after(
        self, session_id: str, checkpoint_id: str | None, *, writes_mark: int | None = None
    ) -> None:
        sid = session_id
        fence = self.fences.get(sid)

        async def body(pipe: Any) -> Any:
            if fence is not None:
                held = await pipe.get(self.keys.lease(sid))
                wanted = self._lease_value(*fence).encode()
                if held != wanted:
                    raise LeaseLost(
                        f"session {sid!r} was deleted or taken over during the run: "
                        "its checkpoint rollback was refused",
                        session_id=sid,
                    )
            keep: list[str] | None = None
            if writes_mark is not None:
                mark = load_json(await pipe.get(self.keys.writes_mark(sid))) or {}
                if mark.get("checkpoint") == checkpoint_id:
                    keep = list(mark.get("writes") or [])
            snap = await self.admin.snapshot(pipe, sid)
            plan = self.admin.after_plan(sid, snap, checkpoint_id, keep)
            if plan:
                pipe.multi()
                for command in plan:
                    pipe.execute_command(*command)
            return None

        watched = [self.keys.lease(sid), self.keys.writes_mark(sid), *self.admin.thread_keys(sid)]
        await self._tx(watched, body)

    async def copy_checkpoints(self, source_id: str, target_id: str) -> None:
        await self.admin.acopy_thread(self.client, source_id, target_id)
        info = await self.get_session(target_id)
        if info is not None:
            async with self.client.pipeline(transaction=True) as pipe:
                self._queue_expiry(pipe, info)
                await pipe.execute()

    async def prune_checkpoints(self, session_id: str, keep: int) -> int:
        async def body(pipe: Any) -> Any:
            snap = await self.admin.snapshot(pipe, session_id)
            plan, removed = self.admin.keep_newest_plan(session_id, snap, keep)
            if plan:
                pipe.multi()
                for command in plan:
                    pipe.execute_command(*command)
            return removed

        return int(await self._tx(self.admin.thread_keys(session_id), body))

    # restore (export/import) ---------------------------------------------------------
    async def restore_session(self, record: SessionRecord) -> bool:
        sid = record.info.session_id
        k = self.keys
        row = record.row()

        async def body(pipe: Any) -> Any:
            if await pipe.exists(k.row(sid)):
                return False
            stale = await self._pending_of(pipe, sid)
            where = load_json(await pipe.hget(k.where, sid)) or {}
            pipe.multi()
            self._queue_unindex(pipe, sid, where)
            pipe.delete(*self.keys.session_keys(sid))
            pipe.zremrangebylex(k.runs_all, "[" + sid + SEP, "(" + sid + "\x01")
            if stale:
                pipe.hdel(k.pending, *stale)
            self._queue_row(pipe, None, row)
            for run in record.runs:
                copy = run.model_copy(update={"session_id": sid, "writes_mark": None})
                pipe.hset(k.runs(sid), run.run_id, rows.run_json(copy))
                pipe.zadd(k.runs_all, {session_run(sid, run.run_id): 0})
            for e in record.events:
                payload = rows.event_payload(str(e.type), e.run_id, dict(e.data), dump_time(e.at))
                pipe.eval(APPEND_LOG, 4, k.events(sid), k.event_seq, k.changes, k.row(sid), payload)
            for m in record.messages:
                payload = rows.message_payload(
                    m.role, m.content, dict(m.data), dump_time(m.created_at)
                )
                pipe.eval(
                    APPEND_LOG,
                    4,
                    k.messages(sid),
                    k.message_seq,
                    k.changes,
                    k.row(sid),
                    payload,
                )
            self._queue_expiry(pipe, row)
            return True

        return bool(await self._tx([k.row(sid), k.pending], body))

    def __repr__(self) -> str:
        return f"RedisBackend({redact_password(self.url)!r}, prefix={self.prefix!r})"


def _seen(cursor: tuple[int, str] | None, value: int, sid: str, descending: bool) -> bool:
    """True for a row at or before the cursor (``(score, id)``) in the listing's order."""
    if cursor is None or value != cursor[0]:
        return False
    return sid >= cursor[1] if descending else sid <= cursor[1]


def _replace(found: PendingRun, **changes: Any) -> PendingRun:
    return dataclasses.replace(found, **changes)


__all__ = ["DEFAULT_EXPIRY_GRACE", "DEFAULT_PREFIX", "RedisBackend"]
