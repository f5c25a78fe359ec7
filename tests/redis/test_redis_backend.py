"""What only the Redis backend has to prove: its key prefix isolates deployments sharing one
server, Redis's own expiry removes an expired session's keys (and the lists follow), a
deleted session leaves no key behind, concurrent starts of a run on one session let one
win, and a lease taken over by another process (another client) fences the old writer."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import tempfile
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aredis
from support.contract import cfg, graph, turns
from support.graphs import chat_graph
from support.redis import RedisServer, provision

from graph_sessions import GraphSessionManager
from graph_sessions.clock import utcnow
from graph_sessions.errors import BackendError, LeaseLost
from graph_sessions.models import (
    CronInfo,
    EventType,
    RunInfo,
    RunStatus,
    SessionInfo,
    SessionStatus,
)
from graph_sessions.storage import backend_from_url
from graph_sessions.storage.backend import NewEvent, NewMessage, SessionQuery
from graph_sessions.storage.records import RunFinish, RunStart, SessionUpdate
from graph_sessions.storage.redis import RedisBackend
from graph_sessions.storage.redis.backend import _PAGE

#: keys of a prefix that outlive every session: id counters and the change counter
COUNTERS = {"seq:event", "seq:message", "seq:ticket", "changes"}


async def keys_of(server: RedisServer, prefix: str) -> set[str]:
    """Every key under ``prefix`` (SCAN), without the prefix."""
    client = aredis.Redis.from_url(server.url())
    try:
        return {k.decode()[len(prefix) :] async for k in client.scan_iter(match=prefix + "*")}
    finally:
        await client.aclose()


async def opened(server: RedisServer, prefix: str, query: str = "") -> RedisBackend:
    backend = backend_from_url(f"{server.url()}?prefix={prefix}{query}")
    assert isinstance(backend, RedisBackend)
    await backend.open()
    return backend


@pytest.fixture
async def pair(redis_server: RedisServer) -> AsyncIterator[tuple[RedisBackend, RedisBackend]]:
    """Two backends (two clients: two processes) on one prefix."""
    prefix = redis_server.new_prefix()
    a = await opened(redis_server, prefix)
    b = await opened(redis_server, prefix)
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()


def info(sid: str, **fields: object) -> SessionInfo:
    now = utcnow()
    return SessionInfo(session_id=sid, created_at=now, updated_at=now, **fields)  # type: ignore[arg-type]


def run(sid: str, rid: str) -> RunInfo:
    return RunInfo(run_id=rid, session_id=sid, status=RunStatus.RUNNING, started_at=utcnow())


async def test_two_prefixes_on_one_server_do_not_see_each_other(
    redis_server: RedisServer,
) -> None:
    p1, p2 = redis_server.new_prefix(), redis_server.new_prefix()
    one, two = await opened(redis_server, p1), await opened(redis_server, p2)
    try:
        assert await one.create_session(info("s", owner="alice"))
        assert await two.create_session(info("s", owner="bob"))  # same id, other deployment
        await turns(one, "s", 2)
        await one.append_messages("s", [NewMessage(role="user", content="hi")])
        assert (await one.get_session("s")).owner == "alice"  # type: ignore[union-attr]
        assert (await two.get_session("s")).owner == "bob"  # type: ignore[union-attr]
        assert await two.latest_checkpoint_id("s") is None
        assert (await two.message_summary("s")).count == 0
        assert [s.owner for s in await two.list_sessions(SessionQuery())] == ["bob"]
        assert await two.count_sessions(SessionQuery(owner="alice")) == 0
        assert await two.delete_session("s")
        assert (await one.get_session("s")) is not None
        assert len(await one.list_runs("s")) == 0
        assert await one.latest_checkpoint_id("s") is not None
        assert await keys_of(redis_server, p2) <= COUNTERS
        assert "s:s:row" in await keys_of(redis_server, p1)
    finally:
        await one.close()
        await two.close()


async def naming(server: RedisServer, prefix: str, sid: str) -> list[str]:
    """Every key under ``prefix`` whose name, or a member or field of which, names the
    session ``sid`` (SCAN, then each set, sorted set and hash read whole)."""
    client = aredis.Redis.from_url(server.url())
    found: list[str] = []
    try:
        async for raw in client.scan_iter(match=prefix + "*"):
            key = raw.decode()
            if sid in key[len(prefix) :]:
                found.append(key)
                continue
            kind = (await client.type(raw)).decode()
            if kind == "zset":
                items = await client.zrange(raw, 0, -1)
            elif kind == "set":
                items = list(await client.smembers(raw))
            elif kind == "hash":
                fields = await client.hgetall(raw)
                items = [*fields, *fields.values()]
            else:
                items = []
            found += [f"{key} ∋ {i!r}" for i in items if sid.encode() in i]
    finally:
        await client.aclose()
    return found


async def a_session_with_everything(backend: RedisBackend, sid: str) -> None:
    """A session with a run, checkpoints, messages, events and a cron of its thread."""
    assert await backend.create_session(
        info(sid, owner="o", task_id="t"), NewEvent(EventType.CREATED)
    )
    begun = await backend.begin_run(
        sid, run(sid, "r1"), RunStart(lease_owner="me"), expect_revision=0
    )
    assert begun is not None
    await turns(backend, sid, 3)
    await backend.finish_run(
        sid, "r1", RunFinish(run_status=RunStatus.SUCCESS, updated_at=utcnow())
    )
    await backend.append_messages(sid, [NewMessage(role="user", content="x")])
    await backend.append_events(sid, [NewEvent(EventType.METADATA_UPDATED)], utcnow())
    now = utcnow()
    cron = CronInfo(
        cron_id="c-" + sid,
        assistant_id="a",
        thread_id=sid,
        schedule="* * * * *",
        next_run_date=now,
        created_at=now,
        updated_at=now,
    )
    assert await backend.create_cron(cron)


async def test_a_deleted_session_leaves_no_key_behind(redis_server: RedisServer) -> None:
    prefix = redis_server.new_prefix()
    backend = await opened(redis_server, prefix)
    try:
        await a_session_with_everything(backend, "gone")
        before = await keys_of(redis_server, prefix)
        assert {"s:gone:row", "s:gone:ev", "s:gone:msg", "s:gone:runs", "t:gone:cp"} <= before
        assert await naming(redis_server, prefix, "gone")
        assert await backend.delete_session("gone")
        assert await keys_of(redis_server, prefix) <= COUNTERS
        assert await naming(redis_server, prefix, "gone") == []
        assert await backend.get_session("gone") is None
        assert (await backend.stats(utcnow())).total == 0
    finally:
        await backend.close()


async def test_a_session_redis_expired_leaves_no_member_behind(redis_server: RedisServer) -> None:
    """When Redis drops a session's keys (its expiry), the next read forgets it: no index,
    ``P runs`` member, pending run or cron names it after."""
    prefix = redis_server.new_prefix()
    backend = await opened(redis_server, prefix)
    raw = aredis.Redis.from_url(redis_server.url())
    try:
        await a_session_with_everything(backend, "gone")
        await a_session_with_everything(backend, "kept")
        # what Redis's expiry removes: the session's own keys and its saver's thread keys
        own = [k async for k in raw.scan_iter(match=prefix + "s:gone:*")]
        own += [k async for k in raw.scan_iter(match=prefix + "t:gone:*")]
        assert own
        await raw.delete(*own)
        listed = await backend.list_sessions(SessionQuery(include_expired=True))
        assert [s.session_id for s in listed] == ["kept"]
        assert await naming(redis_server, prefix, "gone") == []
        assert await naming(redis_server, prefix, "kept")
        assert await backend.get_cron("c-kept") is not None
    finally:
        await raw.aclose()
        await backend.close()


@pytest.mark.slow
async def test_redis_expiry_removes_an_expired_sessions_keys_and_the_lists_follow(
    redis_server: RedisServer,
) -> None:
    prefix = redis_server.new_prefix()
    url = f"{redis_server.url()}?prefix={prefix}&expiry_grace=0"
    # no sweeper: Redis alone removes the expired session
    async with GraphSessionManager(
        graph=chat_graph(), backend=url, ttl=1.0, sweep_interval=None
    ) as m:
        short = await m.create("short")
        await short.invoke({"user_input": "hello"})
        kept = await m.create("kept", ttl=30.0)
        await kept.invoke({"user_input": "hello"})
        backend = m.context.backend
        assert {"s:short:row", "t:short:cp", "s:short:ev"} <= await keys_of(redis_server, prefix)
        await asyncio.sleep(1.6)
        left = await keys_of(redis_server, prefix)
        assert not [k for k in left if k.startswith(("s:short:", "t:short:"))], left
        assert await backend.get_session("short") is None
        listed = await backend.list_sessions(SessionQuery(include_expired=True))
        assert [s.session_id for s in listed] == ["kept"]
        assert await backend.count_sessions(SessionQuery()) == 1
        assert (await backend.stats(utcnow())).total == 1
        # the indexes dropped the gone session as the reads met it
        raw = aredis.Redis.from_url(redis_server.url())
        try:
            assert await raw.zrange(prefix + "i:created", 0, -1) == [b"kept"]
            assert await raw.hkeys(prefix + "i:where") == [b"kept"]
        finally:
            await raw.aclose()


async def test_keys_carry_the_grace_deadline_and_a_running_or_marked_session_none(
    redis_server: RedisServer,
) -> None:
    prefix = redis_server.new_prefix()
    backend = await opened(redis_server, prefix, "&expiry_grace=100")
    raw = aredis.Redis.from_url(redis_server.url())
    try:
        expires = utcnow() + timedelta(seconds=50)
        await backend.create_session(info("s", expires_at=expires, ttl=50.0))
        ttl = await raw.pttl(prefix + "s:s:row")
        assert 140_000 < ttl <= 150_000
        begun = await backend.begin_run(
            "s", run("s", "r"), RunStart(lease_owner="me"), expect_revision=0
        )
        assert begun is not None
        assert await raw.pttl(prefix + "s:s:row") == -1  # a running session never expires
        await turns(backend, "s", 1)
        finished, _ = await backend.finish_run(
            "s",
            "r",
            RunFinish(
                run_status=RunStatus.SUCCESS,
                updated_at=utcnow(),
                status=SessionStatus.COMPLETED,
            ),
        )
        assert finished is not None
        for key in ("s:s:row", "s:s:lease", "s:s:runs", "t:s:cp", "t:s:idx"):
            assert 140_000 < await raw.pttl(prefix + key) <= 150_000, key
        await backend.update_session("s", SessionUpdate(status=SessionStatus.EXPIRED))
        assert await raw.pttl(prefix + "s:s:row") == -1  # marked expired: kept
        assert await raw.pttl(prefix + "t:s:cp") == -1
    finally:
        await raw.aclose()
        await backend.close()


async def test_of_many_concurrent_begin_runs_on_one_session_one_wins(
    pair: tuple[RedisBackend, RedisBackend],
) -> None:
    a, b = pair
    assert await a.create_session(info("s"))

    async def start(backend: RedisBackend, i: int) -> object:
        return await backend.begin_run(
            "s",
            run("s", f"r{i}"),
            RunStart(lease_owner=f"w{i}"),
            expect_revision=0,
            events=[NewEvent(EventType.RUN_STARTED, run_id=f"r{i}")],
        )

    results = await asyncio.gather(*(start(a if i % 2 else b, i) for i in range(40)))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    row = await a.get_session("s")
    assert row is not None and row.status == SessionStatus.RUNNING
    assert row.lease_epoch == 1 and row.revision == 1
    assert row.lease_owner == winners[0].session.lease_owner  # type: ignore[attr-defined]
    assert [r.run_id for r in await a.list_runs("s")] == [winners[0].run.run_id]  # type: ignore[attr-defined]
    assert [e.type for e in await b.list_events("s")] == [EventType.RUN_STARTED]


async def test_a_lease_taken_over_by_another_process_fences_the_old_writer(
    pair: tuple[RedisBackend, RedisBackend],
) -> None:
    a, b = pair
    await a.create_session(info("s"))
    await turns(a, "s", 1)
    begun = await a.begin_run("s", run("s", "r1"), RunStart(lease_owner="A"), expect_revision=0)
    assert begun is not None
    a.fence("s", "A", begun.session.lease_epoch)
    await graph(a).ainvoke({"turns": ["u"]}, cfg("s"))  # A holds the lease: it writes
    # B repairs the run (the lease lapsed) and starts one of its own
    repaired = await b.update_session(
        "s",
        SessionUpdate(status=SessionStatus.COMPLETED, lease_owner=None, lease_expires_at=None),
        expect_status=[SessionStatus.RUNNING],
    )
    assert repaired is not None
    taken = await b.begin_run(
        "s", run("s", "r2"), RunStart(lease_owner="B"), expect_revision=repaired.revision
    )
    assert taken is not None and taken.session.lease_epoch == 2
    b.fence("s", "B", 2)
    latest = await b.latest_checkpoint_id("s")
    with pytest.raises(LeaseLost):
        await graph(a).ainvoke({"turns": ["u"]}, cfg("s"))
    with pytest.raises(LeaseLost):
        await a.delete_checkpoints_after("s", None)
    assert await b.latest_checkpoint_id("s") == latest  # nothing of A's landed
    late, _ = await a.finish_run(
        "s",
        "r1",
        RunFinish(run_status=RunStatus.SUCCESS, updated_at=utcnow()),
        expect_lease="A",
        expect_epoch=1,
    )
    assert late is None
    await graph(b).ainvoke({"turns": ["u"]}, cfg("s"))  # the new holder writes
    assert await b.latest_checkpoint_id("s") != latest
    # deleting the session fences its writer too
    assert await a.delete_session("s")
    with pytest.raises(LeaseLost):
        await graph(b).ainvoke({"turns": ["u"]}, cfg("s"))


async def test_a_cancel_request_wakes_the_other_process_waiting_for_one(
    pair: tuple[RedisBackend, RedisBackend],
) -> None:
    a, b = pair
    await a.create_session(info("s"))
    assert await a.begin_run("s", run("s", "r"), RunStart(lease_owner="A"), expect_revision=0)
    await b.wait_cancel_request(0.05)  # subscribed, nothing published: returns by itself
    waiting = asyncio.create_task(b.wait_cancel_request(60.0))
    await asyncio.sleep(0.1)
    assert await a.request_cancel("s", "r", "interrupt", utcnow())
    await asyncio.wait_for(waiting, 30.0)  # woken by the request, long before its 60 s
    assert await b.take_cancel_requests(["r"]) == {"r": "interrupt"}
    assert await a.take_cancel_requests(["r"]) == {}


async def test_counts_from_the_indexes_agree_with_the_listings(
    pair: tuple[RedisBackend, RedisBackend],
) -> None:
    a, _ = pair
    now = utcnow()
    statuses = [SessionStatus.CREATED, SessionStatus.COMPLETED, SessionStatus.EXPIRED]
    for i in range(30):
        expires = now + timedelta(seconds=(-100 if i % 4 == 0 else 100)) if i % 3 else None
        await a.create_session(
            info(
                f"s{i:02d}",
                owner=f"o{i % 2}",
                graph_id=f"g{i % 3}",
                status=statuses[i % 3],
                expires_at=expires,
            )
        )
    queries = [
        SessionQuery(now=now),
        SessionQuery(now=now, include_expired=True),
        SessionQuery(now=now, owner="o1"),
        SessionQuery(now=now, owner="o0", graph_id="g1"),
        SessionQuery(now=now, status=[SessionStatus.COMPLETED]),
        SessionQuery(now=now, status=[SessionStatus.EXPIRED]),
        SessionQuery(now=now, status=[SessionStatus.CREATED, SessionStatus.EXPIRED], owner="o1"),
        SessionQuery(),
        SessionQuery(status=[SessionStatus.CREATED, SessionStatus.COMPLETED]),
    ]
    for q in queries:
        listed = await a.list_sessions(dataclasses.replace(q, limit=1000))
        assert await a.count_sessions(q) == len(listed), q
    assert 0 < await a.count_sessions(queries[0]) < 30


async def test_an_unreachable_server_is_a_backend_error_without_the_password() -> None:
    backend = backend_from_url("redis://user:secret@127.0.0.1:1/0")
    with pytest.raises(BackendError) as caught:
        await backend.open()
    assert "secret" not in str(caught.value) and "127.0.0.1:1" in str(caught.value)
    with pytest.raises(BackendError, match="expiry_grace"):
        backend_from_url("redis://127.0.0.1:1/0?expiry_grace=soon")


async def test_a_cursor_this_api_never_returned_is_bad_input(redis_server: RedisServer) -> None:
    """Not a crash (a 500 over HTTP): a typed InvalidInput."""
    from graph_sessions.errors import InvalidInput

    prefix = redis_server.new_prefix()
    backend = await opened(redis_server, prefix)
    try:
        assert await backend.create_session(info("a"))
        with pytest.raises(InvalidInput, match="cursor"):
            await backend.list_sessions(SessionQuery(cursor=("zzz", "x")))
    finally:
        await backend.close()


async def test_a_long_listing_is_stable_under_writes_between_its_pages(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A listing longer than one round of the sort index: sessions deleted and added after
    the first round was read shift no later round (no row skipped, none twice)."""
    prefix = redis_server.new_prefix()
    backend = await opened(redis_server, prefix)
    other = await opened(redis_server, prefix)  # another process writing meanwhile
    try:
        start = utcnow()
        n = 2 * _PAGE + 50
        for i in range(n):
            at = start + timedelta(seconds=i)
            made = SessionInfo(session_id=f"s{i:04d}", created_at=at, updated_at=at)
            assert await backend.create_session(made)
        real = backend._load_rows
        rounds = 0

        async def load_rows(ids: list[str]) -> list[SessionInfo | None]:
            nonlocal rounds
            found = await real(ids)
            rounds += 1
            if rounds == 1:  # between the first round and the next: 10 rows read go away
                for sid in ids[:10]:
                    assert await other.delete_session(sid)
            return found

        monkeypatch.setattr(backend, "_load_rows", load_rows)
        listed = await backend.list_sessions(
            SessionQuery(sort="created_at", descending=False, limit=n)
        )
        assert rounds > 1
        names = [s.session_id for s in listed]
        assert names == [f"s{i:04d}" for i in range(n)]
        assert await backend.count_sessions(SessionQuery()) == n - 10
    finally:
        await other.close()
        await backend.close()


async def test_reopening_leaks_no_connection_and_no_task(redis_server: RedisServer) -> None:
    """Open and close one backend 20 times, each time with its relay listening, the store's
    TTL sweeper running and the admin's synchronous client made: the server's connections
    and this loop's tasks do not grow, and each open gets a relay of its own client."""
    prefix = redis_server.new_prefix()
    backend = backend_from_url(f"{redis_server.url()}?prefix={prefix}")
    assert isinstance(backend, RedisBackend)
    watcher = aredis.Redis.from_url(redis_server.url())

    async def follow(run_id: str) -> None:
        return None

    async def connections() -> int:
        return len(await watcher.client_list())

    try:
        baseline = (await connections(), len(asyncio.all_tasks()))
        relays = []
        for _ in range(20):
            await backend.open()
            relay = backend.run_stream_relay()
            assert relay is not None
            relays.append(relay)
            await relay.start(follow, list)
            await backend.store.start_ttl_sweeper(1)
            assert backend.admin.latest_id(None, "nothing") is None  # the sync client
            assert await backend.list_sessions(SessionQuery()) == []
            await backend.close()
        assert len({id(r) for r in relays}) == 20  # never a stale relay of a closed client
        for _ in range(50):  # closed connections leave the server's list shortly after
            now = (await connections(), len(asyncio.all_tasks()))
            if now[0] <= baseline[0] and now[1] <= baseline[1]:
                break
            await asyncio.sleep(0.05)
        assert now[0] <= baseline[0] and now[1] <= baseline[1], (now, baseline)
    finally:
        await backend.close()
        await watcher.aclose()


@pytest.mark.slow  # a redis-server of its own
async def test_the_admins_sync_client_reaches_a_unix_socket_server() -> None:
    """A backend on ``unix://``: the checkpoint admin's synchronous client talks to the same
    server (from the URL; and, for a client given to the backend, over the same socket)."""
    folder = Path(tempfile.mkdtemp(prefix="gs-sock-"))  # short: a socket path is bounded
    sock = folder / "redis.sock"
    try:
        with provision("--unixsocket", str(sock), "--unixsocketperm", "700"):
            url = f"unix://{sock}"
            backend = RedisBackend(url, prefix="u:")
            given = aredis.Redis.from_url(url)
            other = RedisBackend(url, prefix="u:", client=given)
            await backend.open()
            await other.open()
            try:
                ids = await turns(backend, "th", 2)
                for b in (backend, other):
                    assert b.admin.latest_id(None, "th") == ids[-1]
                    assert b.admin.writes_mark(None, "th", ids[-1]) >= 0
                assert other.admin.keep_newest(None, "th", 1) >= 1
                assert backend.admin.delete_thread(None, "th") >= 1
                assert await backend.latest_checkpoint_id("th") is None
            finally:
                await other.close()
                await given.aclose()
                await backend.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def test_a_log_without_a_row_gets_no_expiry_and_keeps_the_one_it_has(
    redis_server: RedisServer,
) -> None:
    """Appends follow the row's expiry; without a row they set none: a never-created
    session's transcript has no TTL, and the log of a session whose row Redis removed first
    keeps its deadline (an append does not make it permanent)."""
    prefix = redis_server.new_prefix()
    backend = await opened(redis_server, prefix)
    raw = aredis.Redis.from_url(redis_server.url())
    try:
        await backend.append_messages("loose", [NewMessage(role="user", content="x")])
        assert await raw.pttl(prefix + "s:loose:msg") == -1
        await backend.append_messages("loose", [NewMessage(role="user", content="y")])
        assert await raw.pttl(prefix + "s:loose:msg") == -1
        assert len(await backend.load_messages("loose")) == 2

        expires = utcnow() + timedelta(seconds=100)
        assert await backend.create_session(info("s", expires_at=expires, ttl=100.0))
        await backend.append_messages("s", [NewMessage(role="user", content="x")])
        assert 0 < await raw.pttl(prefix + "s:s:msg") <= (100 + backend.expiry_grace) * 1000
        await raw.delete(prefix + "s:s:row")  # Redis removed the row first
        await backend.append_messages("s", [NewMessage(role="user", content="late")])
        assert await raw.pttl(prefix + "s:s:msg") > 0  # still dies with its session
    finally:
        await raw.aclose()
        await backend.close()


async def test_a_cancel_watch_stops_when_cancelled_as_a_request_arrives(
    redis_server: RedisServer,
) -> None:
    """Regression: ``wait_cancel_request`` used ``asyncio.wait_for``, which on Python 3.11
    swallows a cancellation that arrives in the same loop step as the event it waits for;
    the cancel watch (a ``while True`` around it) then never stopped and a manager's close
    waited forever (seen in CI as a hung test). Cancelled as a request arrives, the loop
    must end cancelled."""
    backend = await opened(redis_server, redis_server.new_prefix())
    try:
        await backend.wait_cancel_request(0.01)  # the listener is up

        async def watch() -> None:
            while True:
                await backend.wait_cancel_request(30)

        for _ in range(20):
            task = asyncio.create_task(watch())
            await asyncio.sleep(0.01)  # parked in the wait
            backend._cancel_event.set()  # a request arrives...
            task.cancel()  # ...in the step the watch is cancelled
            done, _ = await asyncio.wait({task}, timeout=5)
            assert task in done and task.cancelled()
    finally:
        await backend.close()


@pytest.mark.parametrize("descending", [False, True])
async def test_paging_through_one_big_group_of_a_score_reads_each_row_about_once(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch, descending: bool
) -> None:
    """Sorted by ``expires_at``, every session without a TTL has the same score (0). Paging
    through them by cursor reads on from the cursor's member (its rank), not from the start
    of its score: each member of the index is read about once (before, each page read the
    group again from its start up to the cursor: quadratic), and every session comes once,
    in order."""
    prefix = redis_server.new_prefix()
    backend = await opened(redis_server, prefix)
    try:
        n = 3 * _PAGE
        at = utcnow()
        for i in range(n):
            made = SessionInfo(session_id=f"s{i:04d}", created_at=at, updated_at=at)
            assert await backend.create_session(made)
        loaded = 0  # members of the sort index read

        def counting(real: Any) -> Any:
            async def read(*args: Any, **kwargs: Any) -> Any:
                nonlocal loaded
                found = await real(*args, **kwargs)
                loaded += len(found or ()) // (2 if real is after else 1)
                return found

            return read

        after = getattr(backend, "_after_member", None)
        for name in ("zrangebyscore", "zrevrangebyscore"):
            monkeypatch.setattr(backend.client, name, counting(getattr(backend.client, name)))
        if after is not None:
            monkeypatch.setattr(backend, "_after_member", counting(after))
        seen: list[str] = []
        cursor = None
        while True:
            page = await backend.list_sessions(
                SessionQuery(sort="expires_at", descending=descending, limit=50, cursor=cursor)
            )
            if not page:
                break
            seen.extend(s.session_id for s in page)
            cursor = ("", page[-1].session_id)
        expected = [f"s{i:04d}" for i in range(n)]
        assert seen == (expected[::-1] if descending else expected)
        assert loaded <= 2 * n, loaded
    finally:
        await backend.close()
