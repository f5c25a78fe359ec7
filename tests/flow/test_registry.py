"""The registry: create/get and owner scoping, list filters, sort and cursor pagination,
count and stats, metadata updates.

Real parts only: SQLite files under tmp_path and the memory backend (``any_backend`` runs a
test on both). Moved from the numbered section 6 of the former tests/test_flow.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from support.flow import (
    manager,
)
from support.flow_graphs import router_graph
from support.graphs import chat_graph

from graph_sessions import (
    EventType,
    GraphSessionManager,
    InvalidInput,
    ManualClock,
    RunFailed,
    SessionExists,
    SessionNotFound,
    SessionStatus,
)

S = SessionStatus


async def test_create_get_and_owner_scoping(chat_manager: GraphSessionManager) -> None:
    given = await chat_manager.create("given-id", owner="alice", metadata={"k": "v"})
    assert given.session_id == "given-id"
    assert given.status == S.CREATED
    generated = await chat_manager.create()
    assert generated.session_id and generated.session_id != "given-id"
    assert (await chat_manager.get(generated.session_id)) is not None

    with pytest.raises(SessionExists) as ei:
        await chat_manager.create("given-id")
    assert ei.value.session_id == "given-id"

    assert await chat_manager.get("unknown") is None
    assert await chat_manager.get("given-id", owner="bob") is None
    got = await chat_manager.get("given-id", owner="alice")
    assert got is not None and got.metadata == {"k": "v"}
    with pytest.raises(SessionNotFound) as nf:
        await chat_manager.get_or_create("given-id", owner="bob")
    assert nf.value.session_id == "given-id"
    with pytest.raises(SessionNotFound):
        await chat_manager.info("given-id", owner="bob")
    same = await chat_manager.get_or_create("given-id", owner="alice")
    assert same.info.created_at == given.info.created_at


async def test_create_of_existing_id_keeps_its_state(chat_manager: GraphSessionManager) -> None:
    s = await chat_manager.create("keep-me")
    await s.invoke({"user_input": "precious"})
    with pytest.raises(SessionExists):
        await chat_manager.create("keep-me")
    # a refused create must not touch the existing session
    assert (await s.get_state())["turns"] == ["precious"]
    assert len(await s.checkpoints(limit=100)) > 0


async def _populate(m: GraphSessionManager, clock: ManualClock, n: int = 25) -> list[str]:
    """n sessions, one second apart: owner alice/bob, task t0..t2, metadata tier/n/vip, and
    statuses by i % 4: 0 created, 1 completed, 2 interrupted, 3 failed."""
    ids = []
    for i in range(n):
        clock.advance(1)
        sid = f"s{i:02d}"
        s = await m.create(
            sid,
            owner="alice" if i % 2 == 0 else "bob",
            task_id=f"t{i % 3}",
            metadata={"tier": "gold" if i % 5 == 0 else "free", "n": i, "vip": i % 3 == 0},
        )
        kind = i % 4
        if kind == 1:
            await s.invoke({"user_input": "hello"})
        elif kind == 2:
            await s.invoke({"user_input": "ask"})
        elif kind == 3:
            with pytest.raises(RunFailed):
                await s.invoke({"user_input": "fail"})
        ids.append(sid)
    return ids


def _ids(page: Any) -> list[str]:
    return [s.session_id for s in page]


async def test_list_filters(any_backend: str) -> None:
    clock = ManualClock(datetime(2030, 1, 1, tzinfo=UTC))
    start = clock.now
    async with manager(router_graph(), any_backend, clock=clock, graph_id="support") as m:
        ids = await _populate(m, clock)
        created = [i for i in range(25) if i % 4 == 0]
        completed = [i for i in range(25) if i % 4 == 1]
        interrupted = [i for i in range(25) if i % 4 == 2]
        failed = [i for i in range(25) if i % 4 == 3]

        def sids(idx: list[int]) -> set[str]:
            return {ids[i] for i in idx}

        assert set(_ids(await m.list(limit=100))) == set(ids)
        assert set(_ids(await m.list(status="completed", limit=100))) == sids(completed)
        assert set(_ids(await m.list(status=S.FAILED, limit=100))) == sids(failed)
        assert set(_ids(await m.list(status=["interrupted", "created"], limit=100))) == sids(
            interrupted + created
        )
        assert set(_ids(await m.list(owner="alice", limit=100))) == sids(
            [i for i in range(25) if i % 2 == 0]
        )
        assert set(_ids(await m.list(owner="carol", limit=100))) == set()
        assert set(_ids(await m.list(graph_id="support", limit=100))) == set(ids)
        assert _ids(await m.list(graph_id="other", limit=100)) == []
        assert set(_ids(await m.list(task_id="t1", limit=100))) == sids(
            [i for i in range(25) if i % 3 == 1]
        )
        # metadata containment: strings, ints, bools, and several keys at once
        assert set(_ids(await m.list(metadata={"tier": "gold"}, limit=100))) == sids(
            [0, 5, 10, 15, 20]
        )
        assert _ids(await m.list(metadata={"n": 7}, limit=100)) == ["s07"]
        assert set(_ids(await m.list(metadata={"vip": True}, limit=100))) == sids(
            [i for i in range(25) if i % 3 == 0]
        )
        assert set(_ids(await m.list(metadata={"vip": False, "tier": "gold"}, limit=100))) == sids(
            [5, 10, 20]
        )
        assert _ids(await m.list(metadata={"tier": "platinum"}, limit=100)) == []
        assert _ids(await m.list(metadata={"n": "7"}, limit=100)) == []  # a string is not the int
        # everything combined
        combo = await m.list(status="completed", owner="bob", metadata={"vip": True}, limit=100)
        assert set(_ids(combo)) == sids([i for i in completed if i % 2 == 1 and i % 3 == 0])
        # created_after is inclusive, created_before exclusive (session i was created at start + i + 1 s)
        window = await m.list(
            created_after=start + timedelta(seconds=6),
            created_before=start + timedelta(seconds=11),
            limit=100,
        )
        assert set(_ids(window)) == sids([5, 6, 7, 8, 9])
        # naive datetimes are read as UTC
        naive = await m.list(
            created_after=(start + timedelta(seconds=24)).replace(tzinfo=None), limit=100
        )
        assert set(_ids(naive)) == sids([23, 24])


async def test_list_metadata_filter_nested_dict_key_order(
    chat_manager: GraphSessionManager,
) -> None:
    await chat_manager.create("nested", metadata={"prefs": {"lang": "en", "tz": "UTC"}})
    assert _ids(await chat_manager.list(metadata={"prefs": {"lang": "en", "tz": "UTC"}})) == [
        "nested"
    ]
    # the same dict value, keys written in another order
    assert _ids(await chat_manager.list(metadata={"prefs": {"tz": "UTC", "lang": "en"}})) == [
        "nested"
    ]


async def test_list_sort_order_and_cursor_pagination(any_backend: str) -> None:
    clock = ManualClock(datetime(2030, 1, 1, tzinfo=UTC))
    async with manager(router_graph(), any_backend, clock=clock) as m:
        ids = await _populate(m, clock)
        desc = _ids(await m.list(limit=100))
        assert desc == list(reversed(ids))  # default: newest created first
        asc = _ids(await m.list(order="asc", limit=100))
        assert asc == ids

        # touch three old sessions: they become the most recently updated
        for sid in ("s04", "s00", "s08"):  # created sessions (i % 4 == 0): invoking completes them
            clock.advance(1)
            await (await m.get(sid)).invoke({"user_input": "later"})  # type: ignore[union-attr]
        by_updated = _ids(await m.list(sort="updated_at", order="desc", limit=3))
        assert by_updated == ["s08", "s00", "s04"]

        for order in ("desc", "asc"):
            full = _ids(await m.list(order=order, limit=100))
            walked: list[str] = []
            cursor = None
            pages = 0
            while True:
                page = await m.list(order=order, limit=7, cursor=cursor)
                pages += 1
                walked.extend(_ids(page))
                cursor = page.next_cursor
                if cursor is None:
                    break
            assert walked == full
            assert len(walked) == len(set(walked)) == 25
            assert pages == 4

        # with a filter, and with the sort on updated_at
        walked = []
        cursor = None
        while True:
            page = await m.list(owner="alice", sort="updated_at", limit=2, cursor=cursor)
            walked.extend(_ids(page))
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert walked == _ids(await m.list(owner="alice", sort="updated_at", limit=100))
        assert len(walked) == 13


async def test_cursor_pagination_with_equal_timestamps(any_backend: str) -> None:
    clock = ManualClock(datetime(2030, 1, 1, tzinfo=UTC))  # never advanced: every created_at ties
    async with manager(chat_graph(), any_backend, clock=clock) as m:
        for i in range(11):
            await m.create(f"tie-{i:02d}")
        walked: list[str] = []
        cursor = None
        while True:
            page = await m.list(limit=3, cursor=cursor)
            walked.extend(_ids(page))
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert sorted(walked) == [f"tie-{i:02d}" for i in range(11)]
        assert len(walked) == 11


async def test_list_rejects_bad_arguments(chat_manager: GraphSessionManager) -> None:
    await chat_manager.create("one")
    for bad in ("not-a-cursor!!", "W10", "WyJ4Il0"):  # garbage, "[]", '["x"]'
        with pytest.raises(InvalidInput):
            await chat_manager.list(cursor=bad)
    with pytest.raises(InvalidInput):
        await chat_manager.list(status="bogus")
    with pytest.raises(InvalidInput):
        await chat_manager.list(status=["completed", "bogus"])
    with pytest.raises(InvalidInput):
        await chat_manager.count(status="bogus")
    for limit in (0, -1, 1001, "10"):
        with pytest.raises(InvalidInput):
            await chat_manager.list(limit=limit)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        await chat_manager.list(sort="session_id")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        await chat_manager.list(order="up")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        await chat_manager.list(metadata=["x"])  # type: ignore[arg-type]


async def test_count_and_stats(any_backend: str) -> None:
    clock = ManualClock(datetime(2030, 1, 1, tzinfo=UTC))
    async with manager(router_graph(), any_backend, clock=clock) as m:
        await _populate(m, clock, n=12)  # statuses: 3 of each
        assert await m.count() == 12
        assert await m.count(status="completed") == 3
        assert await m.count(status=["failed", "interrupted"]) == 6
        assert await m.count(owner="bob") == 6
        assert await m.count(metadata={"vip": True}) == 4
        assert await m.count(status="created", owner="alice") == 3
        assert await m.count(metadata={"vip": True}) == len(await m.list(metadata={"vip": True}))

        stats = await m.stats()
        assert stats.total == 12
        assert stats.by_status == {"created": 3, "completed": 3, "interrupted": 3, "failed": 3}
        assert stats.expired == 0
        assert stats.runs_total == 9
        assert stats.oldest_created_at == datetime(2030, 1, 1, 0, 0, 1, tzinfo=UTC)
        assert stats.newest_created_at == datetime(2030, 1, 1, 0, 0, 12, tzinfo=UTC)


async def test_update_metadata_merge_and_replace(chat_manager: GraphSessionManager) -> None:
    s = await chat_manager.create("meta", metadata={"plan": "pro", "a": 1})
    merged = await chat_manager.update_metadata("meta", {"a": 2, "b": 3})
    assert merged.metadata == {"plan": "pro", "a": 2, "b": 3}
    assert (await chat_manager.info("meta")).metadata == {"plan": "pro", "a": 2, "b": 3}
    replaced = await s.update_metadata({"only": True}, merge=False)
    assert replaced.metadata == {"only": True}
    assert s.metadata == {"only": True}
    assert (await chat_manager.info("meta")).metadata == {"only": True}
    assert _ids(await chat_manager.list(metadata={"only": True})) == ["meta"]
    assert _ids(await chat_manager.list(metadata={"plan": "pro"})) == []
    assert [e.type for e in await s.events()].count(EventType.METADATA_UPDATED) == 2
    with pytest.raises(InvalidInput):
        await chat_manager.update_metadata("meta", ["x"])  # type: ignore[arg-type]
    with pytest.raises(SessionNotFound) as ei:
        await chat_manager.update_metadata("ghost", {"a": 1})
    assert ei.value.session_id == "ghost"
