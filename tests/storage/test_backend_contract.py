"""The Backend contract: what every storage backend promises (see ``storage/backend.py``).

Every test runs on every backend of ``conftest.BACKENDS``; a backend passes it unchanged."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
from support.contract import cfg, graph, turns

from graph_sessions.errors import LeaseLost
from graph_sessions.models import (
    AssistantInfo,
    EventType,
    RunInfo,
    RunStatus,
    SessionInfo,
    SessionStatus,
)
from graph_sessions.storage import Backend, SessionQuery
from graph_sessions.storage.backend import NewEvent, NewMessage
from graph_sessions.storage.codec import dump_time
from graph_sessions.storage.records import RunFinish, RunStart, SessionUpdate

T0 = datetime(2026, 1, 1, 12, 0, 0).astimezone()


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def info(session_id: str, **fields: Any) -> SessionInfo:
    fields.setdefault("created_at", T0)
    fields.setdefault("updated_at", fields["created_at"])
    return SessionInfo(session_id=session_id, **fields)


def run(session_id: str, run_id: str = "r1", started: float = 1) -> RunInfo:
    return RunInfo(
        run_id=run_id, session_id=session_id, status=RunStatus.RUNNING, started_at=at(started)
    )


async def start(backend: Backend, session_id: str, owner: str = "me", run_id: str = "r1") -> Any:
    row = await backend.get_session(session_id)
    assert row is not None
    begun = await backend.begin_run(
        session_id,
        run(session_id, run_id),
        RunStart(lease_owner=owner, updated_at=at(1), lease_expires_at=at(31)),
        expect_revision=row.revision,
        events=[NewEvent(EventType.RUN_STARTED, run_id=run_id)],
    )
    return None if begun is None else begun.session


# registry ---------------------------------------------------------------------------
async def test_create_get_and_duplicate(backend: Backend) -> None:
    assert await backend.get_session("s") is None
    assert await backend.create_session(
        info("s", owner="ann", metadata={"a": {"b": 1}}), NewEvent(EventType.CREATED)
    )
    assert not await backend.create_session(info("s", owner="bob"))
    row = await backend.get_session("s")
    assert row is not None and row.owner == "ann" and row.metadata == {"a": {"b": 1}}
    assert row.status == SessionStatus.CREATED and row.created_at == T0
    assert [e.type for e in await backend.list_events("s")] == [EventType.CREATED]


async def test_create_starts_from_nothing_left_by_an_unregistered_thread(
    backend: Backend,
) -> None:
    await turns(backend, "s", 1)
    await backend.append_messages("s", [NewMessage("user", "hi")])
    assert await backend.create_session(info("s"))
    assert await backend.latest_checkpoint_id("s") is None
    assert await backend.list_events("s") == []
    assert await backend.load_messages("s") == []


async def test_update_bumps_revision_and_checks_expectations(backend: Backend) -> None:
    await backend.create_session(info("s"))
    row = await backend.update_session(
        "s",
        SessionUpdate(updated_at=at(5), metadata={"k": 1}),
        events=[NewEvent(EventType.METADATA_UPDATED, data={"k": 1})],
    )
    assert row is not None and row.revision == 1 and row.metadata == {"k": 1}
    assert row.updated_at == at(5)
    events = await backend.list_events("s")
    assert events[-1].type == EventType.METADATA_UPDATED and events[-1].data == {"k": 1}
    assert await backend.update_session("s", SessionUpdate(ttl=5.0), expect_revision=0) is None
    assert (
        await backend.update_session(
            "s", SessionUpdate(ttl=5.0), expect_status=[SessionStatus.FAILED]
        )
        is None
    )
    assert await backend.update_session("missing", SessionUpdate(ttl=5.0)) is None
    row = await backend.update_session(
        "s", SessionUpdate(ttl=5.0), expect_revision=1, expect_status=[SessionStatus.CREATED]
    )
    assert row is not None and row.revision == 2 and row.ttl == 5.0
    row = await backend.update_session("s", SessionUpdate(revision=7))
    assert row is not None and row.revision == 7  # an explicit revision is kept as given
    with pytest.raises(TypeError):  # an update names only the fields that may change
        SessionUpdate(session_id="x")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        SessionUpdate(no_such_field=1)  # type: ignore[call-arg]


async def test_append_events_leaves_the_row_alone(backend: Backend) -> None:
    await backend.create_session(info("s"))
    before = await backend.get_session("s")
    assert before is not None
    with backend.event_signals.watch("s") as grew:
        appended = await backend.append_events(
            "s",
            [
                NewEvent(EventType.WEBHOOK_DELIVERED, run_id="r1", data={"status_code": 200}),
                NewEvent(EventType.WEBHOOK_FAILED, run_id="r2", data={"attempts": 3}),
            ],
            at(9),
        )
        assert appended is True and grew.is_set()  # live tails are woken
    after = await backend.get_session("s")
    assert after is not None
    assert (after.revision, after.updated_at) == (before.revision, before.updated_at)
    events = await backend.list_events("s")
    assert [(e.type, e.run_id, e.data, e.at) for e in events[-2:]] == [
        (EventType.WEBHOOK_DELIVERED, "r1", {"status_code": 200}, at(9)),
        (EventType.WEBHOOK_FAILED, "r2", {"attempts": 3}, at(9)),
    ]
    assert events[-1].id > events[-2].id
    # a session that is not there gets nothing (no orphan rows for a later session)
    assert await backend.append_events("gone", [NewEvent(EventType.WEBHOOK_FAILED)], at(9)) is False
    assert await backend.list_events("gone") == []
    await backend.delete_session("s")
    assert await backend.append_events("s", [NewEvent(EventType.WEBHOOK_FAILED)], at(9)) is False
    await backend.create_session(info("s"))
    assert [e.type for e in await backend.list_events("s")] == []


async def test_list_count_filters_sort_and_cursor(backend: Backend) -> None:
    for i in range(7):
        await backend.create_session(
            info(
                f"s{i}",
                created_at=at(i),
                owner="ann" if i % 2 else "bob",
                graph_id="g" if i < 3 else "h",
                metadata={"team": {"id": i % 3}, "tag": "x"},
                status=SessionStatus.FAILED if i == 6 else SessionStatus.CREATED,
            )
        )
    everything = await backend.list_sessions(SessionQuery(limit=100))
    assert [s.session_id for s in everything] == [f"s{i}" for i in reversed(range(7))]
    assert await backend.count_sessions(SessionQuery(limit=1)) == 7
    q = SessionQuery(owner="ann")
    assert {s.session_id for s in await backend.list_sessions(q)} == {"s1", "s3", "s5"}
    assert await backend.count_sessions(SessionQuery(graph_id="g")) == 3
    assert await backend.count_sessions(SessionQuery(metadata={"team": {"id": 0}})) == 3
    assert await backend.count_sessions(SessionQuery(metadata={"tag": "y"})) == 0
    assert await backend.count_sessions(SessionQuery(status=[SessionStatus.FAILED])) == 1
    assert (
        await backend.count_sessions(SessionQuery(created_after=at(2), created_before=at(4))) == 2
    )
    # pages of 3, ascending, by cursor: every row once, in order
    seen: list[str] = []
    cursor = None
    while True:
        page = await backend.list_sessions(SessionQuery(descending=False, limit=3, cursor=cursor))
        if not page:
            break
        seen.extend(s.session_id for s in page)
        last = page[-1]
        cursor = (dump_time(last.created_at), last.session_id)
    assert seen == [f"s{i}" for i in range(7)]


async def test_list_by_id_prefix_takes_the_text_literally(backend: Backend) -> None:
    ids = ["a%b", "a%bc", "axb", "a_b", "acb", "a\\b", "a\\\\b", "ab", "b", "a", "é1", "éx"]
    for i, sid in enumerate(ids):
        await backend.create_session(info(sid, created_at=at(i), owner="ann" if i % 2 else "bob"))

    async def listed(prefix: str, **more: Any) -> list[str]:
        rows = await backend.list_sessions(SessionQuery(id_prefix=prefix, limit=100, **more))
        count = await backend.count_sessions(SessionQuery(id_prefix=prefix, **more))
        assert count == len(rows)
        return sorted(s.session_id for s in rows)

    assert await listed("a%") == ["a%b", "a%bc"]  # % is no wildcard
    assert await listed("a_") == ["a_b"]  # nor _
    assert await listed("a\\") == sorted(["a\\b", "a\\\\b"])  # a backslash escapes nothing
    assert await listed("a\\\\") == ["a\\\\b"]
    assert await listed("a%b") == ["a%b", "a%bc"]
    assert await listed("é") == ["é1", "éx"]
    assert await listed("zz") == []
    assert await listed("a", owner="ann") == sorted(ids[i] for i in (1, 3, 5, 7, 9))
    assert len(await listed("a")) == 9
    # pages by cursor under a prefix: every match once
    seen: list[str] = []
    cursor = None
    while page := await backend.list_sessions(
        SessionQuery(id_prefix="a", descending=False, limit=3, cursor=cursor)
    ):
        seen.extend(s.session_id for s in page)
        cursor = (dump_time(page[-1].created_at), page[-1].session_id)
    assert seen == [sid for sid in ids if sid.startswith("a")]


async def test_expiry_in_listing_stats_and_find_expired(backend: Backend) -> None:
    await backend.create_session(info("old", expires_at=at(10)))
    await backend.create_session(info("new", expires_at=at(100)))
    await backend.create_session(info("forever"))
    now = at(50)
    live = await backend.list_sessions(SessionQuery(now=now))
    assert {s.session_id for s in live} == {"new", "forever"}
    assert await backend.count_sessions(SessionQuery(now=now, include_expired=True)) == 3
    expired = SessionQuery(now=now, status=[SessionStatus.EXPIRED], include_expired=True)
    assert [s.session_id for s in await backend.list_sessions(expired)] == ["old"]
    assert [s.session_id for s in await backend.find_expired(now, 10)] == ["old"]
    stats = await backend.stats(now)
    assert stats.total == 3 and stats.expired == 1 and stats.by_status == {"created": 3}
    assert stats.oldest_created_at == T0 and stats.runs_total == 0
    await backend.update_session("old", SessionUpdate(status=SessionStatus.EXPIRED))
    assert await backend.find_expired(now, 10) == []  # already marked


async def test_delete_removes_every_row_and_honours_only_if_expired(backend: Backend) -> None:
    assert not await backend.delete_session("missing")
    await backend.create_session(info("s", expires_at=at(10)))
    await turns(backend, "s", 2)
    await start(backend, "s")
    await backend.append_messages("s", [NewMessage("user", "hi")])
    assert not await backend.delete_session("s", only_if_expired_at=at(50))  # running
    await backend.finish_run(
        "s",
        "r1",
        RunFinish(run_status=RunStatus.SUCCESS, updated_at=at(2), status=SessionStatus.COMPLETED),
    )
    assert not await backend.delete_session("s", only_if_expired_at=at(5))  # not yet
    assert await backend.delete_session("s", only_if_expired_at=at(50))
    assert await backend.get_session("s") is None
    assert await backend.latest_checkpoint_id("s") is None
    assert await backend.list_events("s") == []
    assert await backend.load_messages("s") == []
    assert await backend.list_runs("s") == []
    assert (await backend.stats(at(50))).runs_total == 0
    assert not await backend.delete_session("s")


# runs, leases, revisions -----------------------------------------------------------
async def test_begin_run_is_a_compare_and_set(backend: Backend) -> None:
    await backend.create_session(info("s"))
    ids = await turns(backend, "s", 2)
    stale = await backend.begin_run(
        "s",
        run("s", "r0"),
        RunStart(lease_owner="me", updated_at=at(1)),
        expect_revision=5,
    )
    assert stale is None and await backend.list_runs("s") == []
    r = run("s")
    begun = await backend.begin_run(
        "s",
        r,
        RunStart(lease_owner="me", updated_at=at(1), lease_expires_at=at(31)),
        expect_revision=0,
        events=[NewEvent(EventType.RUN_STARTED, run_id="r1")],
    )
    assert begun is not None
    row = begun.session
    assert row.status == SessionStatus.RUNNING
    assert (row.lease_owner, row.lease_epoch, row.revision) == ("me", 1, 1)
    assert row.lease_expires_at == at(31)
    assert begun.run.checkpoint_before == ids[-1] and begun.run.writes_mark is not None
    [stored] = await backend.list_runs("s")
    assert stored.run_id == "r1" and stored.checkpoint_before == ids[-1]
    assert stored.status == RunStatus.RUNNING
    assert [s.session_id for s in await backend.find_running()] == ["s"]
    assert (
        await backend.begin_run(  # gone
            "nope", run("nope", "r9"), RunStart(lease_owner="me"), expect_revision=0
        )
        is None
    )


async def test_finish_run_records_the_end_and_releases_the_lease(backend: Backend) -> None:
    await backend.create_session(info("s", ttl=60.0, expires_at=at(60)))
    await start(backend, "s")
    ids = await turns(backend, "s", 1)
    row, after = await backend.finish_run(
        "s",
        "r1",
        RunFinish(
            run_status=RunStatus.ERROR,
            error="boom",
            updated_at=at(9),
            status=SessionStatus.FAILED,
            slide_ttl=True,
        ),
        events=[NewEvent(EventType.RUN_FAILED, run_id="r1")],
        expect_lease="me",
        expect_epoch=1,
    )
    assert after == ids[-1]
    assert row is not None and row.status == SessionStatus.FAILED
    assert row.lease_owner is None and row.lease_expires_at is None and row.lease_epoch == 1
    assert row.expires_at == at(9 + 60)  # sliding: the TTL as it is now, from updated_at
    [done] = await backend.list_runs("s")
    assert done.run_id == "r1" and done.status == RunStatus.ERROR and done.error == "boom"
    assert done.finished_at == at(9) and done.checkpoint_after == ids[-1]
    assert (await backend.list_events("s"))[-1].type == EventType.RUN_FAILED
    assert (await backend.stats(at(9))).runs_total == 1


async def test_finish_run_under_a_lost_lease_records_nothing(backend: Backend) -> None:
    await backend.create_session(info("s"))
    await start(backend, "s", owner="a", run_id="r1")
    assert await backend.update_session("s", SessionUpdate(lease_owner="b", lease_epoch=2))
    for lease, epoch in (("a", None), ("b", 1)):
        row, after = await backend.finish_run(
            "s",
            "r1",
            RunFinish(
                run_status=RunStatus.SUCCESS, updated_at=at(5), status=SessionStatus.COMPLETED
            ),
            expect_lease=lease,
            expect_epoch=epoch,
        )
        assert (row, after) == (None, None)
    held = await backend.get_session("s")
    assert held is not None and held.status == SessionStatus.RUNNING and held.lease_owner == "b"
    [pending] = await backend.list_runs("s")
    assert pending.run_id == "r1" and pending.status == RunStatus.RUNNING


async def test_renew_lease_needs_the_same_owner_and_epoch_and_keeps_the_revision(
    backend: Backend,
) -> None:
    await backend.create_session(info("s"))
    assert not await backend.renew_lease("s", "me", 1, at(60))  # not running
    row = await start(backend, "s")
    assert await backend.renew_lease("s", "me", 1, at(60))
    assert not await backend.renew_lease("s", "me", 2, at(90))
    assert not await backend.renew_lease("s", "other", 1, at(90))
    assert not await backend.renew_lease("missing", "me", 1, at(90))
    now = await backend.get_session("s")
    assert now is not None and now.lease_expires_at == at(60) and now.revision == row.revision


async def test_list_runs_newest_first(backend: Backend) -> None:
    await backend.create_session(info("s"))
    for i in range(3):
        await backend.begin_run(
            "s",
            run("s", f"r{i}", started=i),
            RunStart(lease_owner="me"),
            expect_revision=(await backend.get_session("s")).revision,  # type: ignore[union-attr]
        )
    assert [r.run_id for r in await backend.list_runs("s")] == ["r2", "r1", "r0"]
    assert [r.run_id for r in await backend.list_runs("s", limit=1)] == ["r2"]


# fencing ---------------------------------------------------------------------------
async def test_fenced_writes_and_rollbacks_are_refused_once_the_lease_is_lost(
    backend: Backend,
) -> None:
    await backend.create_session(info("s"))
    row = await start(backend, "s")
    backend.fence("s", "me", row.lease_epoch)
    ids = await turns(backend, "s", 2)  # held: written
    await backend.update_session("s", SessionUpdate(lease_owner="thief", lease_epoch=9))
    with pytest.raises(LeaseLost):
        await turns(backend, "s", 1)
    with pytest.raises(LeaseLost):
        await backend.delete_checkpoints_after("s", None)
    assert await backend.latest_checkpoint_id("s") == ids[-1]
    backend.unfence("s")
    await turns(backend, "s", 1)
    assert await backend.latest_checkpoint_id("s") != ids[-1]


async def test_fenced_writes_of_a_deleted_session_are_refused(backend: Backend) -> None:
    await backend.create_session(info("s"))
    row = await start(backend, "s")
    backend.fence("s", "me", row.lease_epoch)
    await backend.delete_session("s")
    with pytest.raises(LeaseLost):
        await turns(backend, "s", 1)
    assert await backend.latest_checkpoint_id("s") is None


# events and messages ----------------------------------------------------------------
async def test_events_in_order_after_an_id_with_a_limit(backend: Backend) -> None:
    await backend.create_session(info("s"))
    await backend.update_session(  # events are appended at the update's updated_at
        "s",
        SessionUpdate(updated_at=at(3)),
        events=[NewEvent(EventType.RESUMED, data={"i": i}) for i in range(5)],
    )
    events = await backend.list_events("s")
    assert [e.data["i"] for e in events] == list(range(5))
    assert all(e.at == at(3) and e.session_id == "s" for e in events)
    later = await backend.list_events("s", after_id=events[1].id, limit=2)
    assert [e.data["i"] for e in later] == [2, 3]
    assert await backend.list_events("other") == []


async def test_messages_append_load_summary_and_clear(backend: Backend) -> None:
    ids = await backend.append_messages(
        "s",
        [NewMessage("user", {"text": "a"}), NewMessage("assistant", "b", {"k": 1})],
        at=at(1),
    )
    ids += await backend.append_messages("s", [NewMessage("user", "c")], at=at(2))
    assert ids == sorted(ids) and len(set(ids)) == 3
    loaded = await backend.load_messages("s")
    assert [m.content for m in loaded] == [{"text": "a"}, "b", "c"]
    assert loaded[1].data == {"k": 1} and loaded[1].role == "assistant"
    assert [m.content for m in await backend.load_messages("s", limit=2)] == ["b", "c"]
    assert [m.content for m in await backend.load_messages("s", before_id=ids[2])] == [
        {"text": "a"},
        "b",
    ]
    summary = await backend.message_summary("s")
    assert summary.count == 3 and summary.by_role == {"user": 2, "assistant": 1}
    assert summary.first_at == at(1) and summary.last_at == at(2)
    assert summary.last_message is not None and summary.last_message.content == "c"
    assert await backend.clear_messages("s") == 3
    assert (await backend.message_summary("s")).count == 0


# checkpoints -----------------------------------------------------------------------
async def test_delete_checkpoints_after_rolls_back_checkpoints_and_writes(
    backend: Backend,
) -> None:
    await backend.create_session(info("s"))
    ids = await turns(backend, "s", 3)
    begun = await backend.begin_run("s", run("s"), RunStart(lease_owner="me"), expect_revision=0)
    assert begun is not None
    r = begun.run
    assert r.checkpoint_before == ids[-1]
    head = {"configurable": {"thread_id": "s", "checkpoint_ns": "", "checkpoint_id": ids[-1]}}
    await backend.checkpointer.aput_writes(head, [("turns", ["late"])], task_id="t1")
    await turns(backend, "s", 2)
    await backend.delete_checkpoints_after("s", ids[-1], writes_mark=r.writes_mark)
    assert await backend.latest_checkpoint_id("s") == ids[-1]
    found = await backend.checkpointer.aget_tuple(head)
    assert found is not None and not [w for w in found.pending_writes or [] if w[0] == "t1"]
    state = await graph(backend).aget_state(cfg("s"))
    assert state.values["turns"] == ["u", "t"] * 3
    await backend.delete_checkpoints_after("s", ids[0])
    assert await backend.latest_checkpoint_id("s") == ids[0]
    await backend.delete_checkpoints_after("s", None)
    assert await backend.latest_checkpoint_id("s") is None


async def test_prune_keeps_the_newest_and_the_state(backend: Backend) -> None:
    ids = await turns(backend, "s", 6)
    before = (await graph(backend).aget_state(cfg("s"))).values
    assert await backend.prune_checkpoints("s", 100) == 0
    removed = await backend.prune_checkpoints("s", 2)
    assert removed > 0
    history = [
        s.config["configurable"]["checkpoint_id"]
        async for s in graph(backend).aget_state_history(cfg("s"))
    ]
    assert history[0] == ids[-1] and len(history) == 2 and ids[0] not in history
    assert (await graph(backend).aget_state(cfg("s"))).values == before
    assert await backend.prune_checkpoints("other", 1) == 0


async def test_copy_checkpoints_copies_the_whole_history(backend: Backend) -> None:
    ids = await turns(backend, "s", 3)
    before = (await graph(backend).aget_state(cfg("s"))).values
    await backend.copy_checkpoints("s", "copy")
    assert (await graph(backend).aget_state(cfg("copy"))).values == before
    copied = [
        s.config["configurable"]["checkpoint_id"]
        async for s in graph(backend).aget_state_history(cfg("copy"))
    ]
    assert copied[0] == ids[-1] and set(ids) <= set(copied)
    await turns(backend, "copy", 1)  # the copy moves on alone
    assert (await graph(backend).aget_state(cfg("s"))).values == before
    assert await backend.latest_checkpoint_id("s") == ids[-1]


# assistants ------------------------------------------------------------------------
def assistant(assistant_id: str = "a1", version: int = 1, **fields: Any) -> AssistantInfo:
    fields.setdefault("created_at", at(version))
    fields.setdefault("updated_at", fields["created_at"])
    fields.setdefault("graph_id", "g")
    return AssistantInfo(assistant_id=assistant_id, version=version, **fields)


async def test_assistants_create_get_list_delete(backend: Backend) -> None:
    first = assistant(
        owner="me",
        name="mine",
        description="d",
        config={"configurable": {"x": 1}},
        context={"x": 1},
        metadata={"team": "a", "nested": {"k": [1, 2]}},
    )
    assert await backend.create_assistant(first)
    assert not await backend.create_assistant(assistant(name="again"))
    assert await backend.get_assistant("a1") == first
    assert await backend.get_assistant("nope") is None
    assert await backend.create_assistant(assistant("a0", created_at=at(5)))
    assert [a.assistant_id for a in await backend.list_assistants()] == ["a1", "a0"]
    assert await backend.delete_assistant("a1")
    assert not await backend.delete_assistant("a1")
    assert await backend.get_assistant("a1") is None
    assert await backend.list_assistant_versions("a1") == []
    assert await backend.create_assistant(assistant(name="reborn"))  # the id is free again
    assert [v.name for v in await backend.list_assistant_versions("a1")] == ["reborn"]


async def test_assistant_versions_are_a_compare_and_set(backend: Backend) -> None:
    await backend.create_assistant(assistant(name="v1", metadata={"v": 1}))
    v2 = assistant(version=2, name="v2", metadata={"v": 2}, updated_at=at(9))
    assert await backend.add_assistant_version(v2)
    assert not await backend.add_assistant_version(v2)  # version 2 exists already
    assert not await backend.add_assistant_version(assistant(version=4))  # not the next one
    assert not await backend.add_assistant_version(assistant("gone", version=2))
    assert await backend.get_assistant("a1") == v2
    assert [v.version for v in await backend.list_assistant_versions("a1")] == [2, 1]
    back = await backend.set_assistant_version("a1", 1, at(20))
    assert back is not None and back.version == 1 and back.name == "v1"
    assert back.updated_at == at(20)
    assert (await backend.get_assistant("a1")) == back
    assert [a.version for a in await backend.list_assistants()] == [1]
    assert await backend.set_assistant_version("a1", 7, at(21)) is None
    assert await backend.set_assistant_version("nope", 1, at(21)) is None
    # the next version follows the highest stored, not the current one
    assert not await backend.add_assistant_version(assistant(version=2))
    assert await backend.add_assistant_version(assistant(version=3, name="v3"))
    assert (await backend.get_assistant("a1")).name == "v3"  # type: ignore[union-attr]


async def test_racing_assistant_versions_one_wins(backend: Backend) -> None:
    await backend.create_assistant(assistant())
    results = await asyncio.gather(
        *(backend.add_assistant_version(assistant(version=2, name=f"n{i}")) for i in range(8))
    )
    assert sum(results) == 1
    assert len(await backend.list_assistant_versions("a1")) == 2


# concurrency -----------------------------------------------------------------------
async def test_many_tasks_racing_for_one_revision_exactly_one_wins(backend: Backend) -> None:
    await backend.create_session(info("s"))

    async def contender(i: int) -> Any:
        return await backend.begin_run(
            "s", run("s", f"r{i}"), RunStart(lease_owner=f"o{i}"), expect_revision=0
        )

    results = await asyncio.gather(*(contender(i) for i in range(40)))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1 and winners[0].session.lease_epoch == 1
    assert len(await backend.list_runs("s", limit=100)) == 1

    async def updater(i: int) -> Any:
        return await backend.update_session("s", SessionUpdate(task_id=f"t{i}"), expect_revision=1)

    assert sum(r is not None for r in await asyncio.gather(*(updater(i) for i in range(40)))) == 1


async def test_many_sessions_at_once_never_cross(backend: Backend) -> None:
    async def life(i: int) -> None:
        sid = f"s{i}"
        assert await backend.create_session(info(sid, metadata={"i": i}))
        await backend.update_session(
            sid, SessionUpdate(), events=[NewEvent(EventType.RESUMED, data={"i": i})] * 3
        )
        await backend.append_messages(sid, [NewMessage("user", i)])
        row = await backend.update_session(sid, SessionUpdate(task_id=str(i)))
        assert row is not None and row.metadata == {"i": i}

    await asyncio.gather(*(life(i) for i in range(30)))
    assert await backend.count_sessions(SessionQuery()) == 30
    all_ids: list[int] = []
    for i in range(30):
        events = await backend.list_events(f"s{i}")
        assert [e.data for e in events] == [{"i": i}] * 3
        all_ids += [e.id for e in events]
        assert [m.content for m in await backend.load_messages(f"s{i}")] == [i]
    assert len(set(all_ids)) == len(all_ids)
