"""The typed update records of the Backend contract (``storage/records.py``): a field left
out is unchanged, ``None`` sets it to NULL, a name that is not a field is a ``TypeError``
before storage is reached, and ``begin_run`` answers with what it recorded instead of
changing its argument. Every backend test runs on every backend of ``conftest.BACKENDS``."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from graph_sessions.models import EventType, RunInfo, RunStatus, SessionInfo, SessionStatus
from graph_sessions.storage import Backend, backend_from_url
from graph_sessions.storage.backend import NewEvent
from graph_sessions.storage.codec import dump_time
from graph_sessions.storage.records import (
    SESSION_UPDATE_FIELDS,
    UNCHANGED,
    RunFinish,
    RunStart,
    SessionUpdate,
)
from graph_sessions.storage.sqlite.rows import SESSION_FIELDS

T0 = datetime(2026, 1, 1, 12, 0, 0).astimezone()


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def full_info(session_id: str) -> SessionInfo:
    """A row with every nullable field set, so that leaving one out is observable."""
    return SessionInfo(
        session_id=session_id,
        owner="ann",
        task_id="t1",
        metadata={"k": 1},
        created_at=T0,
        updated_at=T0,
        expires_at=at(600),
        ttl=600.0,
        last_error="earlier",
        suspend_reason="why",
        previous_status=SessionStatus.COMPLETED,
        interrupts=[{"id": "i1", "value": "q"}],
        graph_identity="gid",
    )


def new_run(session_id: str, run_id: str = "r1") -> RunInfo:
    return RunInfo(run_id=run_id, session_id=session_id, status=RunStatus.RUNNING, started_at=at(1))


def test_a_session_update_names_exactly_the_changeable_registry_columns() -> None:
    assert set(SESSION_UPDATE_FIELDS) == set(SessionInfo.model_fields) - {
        "session_id",
        "created_at",
    }
    assert set(SESSION_UPDATE_FIELDS) == set(SESSION_FIELDS) - {"session_id", "created_at"}
    for name in ("session_id", "created_at", "no_such_field"):
        with pytest.raises(TypeError):
            SessionUpdate(**{name: "x"})
    with pytest.raises(TypeError):
        SessionUpdate(SessionStatus.FAILED)  # type: ignore[misc]  # keywords only
    update = SessionUpdate(owner=None, ttl=5.0)
    assert update.changes() == {"owner": None, "ttl": 5.0}
    assert SessionUpdate().changes() == {}
    with pytest.raises(dataclasses.FrozenInstanceError):
        update.ttl = 6.0  # type: ignore[misc]
    with pytest.raises(TypeError):  # a run's end needs its time
        RunFinish(run_status=RunStatus.SUCCESS)  # type: ignore[call-arg]
    with pytest.raises(TypeError):  # no expiry in a run's end: slide_ttl decides it
        RunFinish(run_status=RunStatus.SUCCESS, updated_at=T0, expires_at=T0)  # type: ignore[call-arg]


async def test_left_out_is_unchanged_and_none_sets_null(backend: Backend) -> None:
    assert await backend.create_session(full_info("s"))
    before = await backend.get_session("s")
    assert before is not None
    row = await backend.update_session("s", SessionUpdate())
    assert row is not None
    assert row.model_dump(exclude={"revision"}) == before.model_dump(exclude={"revision"})
    assert row.revision == before.revision + 1
    row = await backend.update_session(
        "s", SessionUpdate(expires_at=None, last_error=None, graph_identity=None)
    )
    assert row is not None
    assert (row.expires_at, row.last_error, row.graph_identity) == (None, None, None)
    assert (row.owner, row.task_id, row.ttl, row.suspend_reason) == ("ann", "t1", 600.0, "why")
    assert row.previous_status == SessionStatus.COMPLETED and row.metadata == {"k": 1}
    assert row.interrupts == [{"id": "i1", "value": "q"}] and row.updated_at == T0
    assert await backend.get_session("s") == row


async def test_events_of_an_update_without_updated_at_carry_the_rows(backend: Backend) -> None:
    assert await backend.create_session(full_info("s"))
    await backend.update_session(
        "s", SessionUpdate(task_id="t2"), events=[NewEvent(EventType.METADATA_UPDATED)]
    )
    await backend.update_session(
        "s", SessionUpdate(updated_at=at(7)), events=[NewEvent(EventType.RESUMED)]
    )
    assert [e.at for e in await backend.list_events("s")] == [T0, at(7)]


async def test_begin_run_leaves_its_argument_and_answers_what_it_recorded(
    backend: Backend,
) -> None:
    assert await backend.create_session(full_info("s"))
    given = new_run("s")
    snapshot = given.model_copy()
    begun = await backend.begin_run("s", given, RunStart(lease_owner="me"), expect_revision=0)
    assert begun is not None
    assert given == snapshot and given.writes_mark is None  # not mutated
    assert begun.run.run_id == "r1" and begun.run.writes_mark is not None
    assert begun.run is not given
    [stored] = await backend.list_runs("s")
    assert stored.checkpoint_before == begun.run.checkpoint_before
    row = begun.session
    assert row.status == SessionStatus.RUNNING and row.lease_owner == "me"
    # what RunStart leaves out keeps its value: lease expiry, updated_at, graph identity
    assert (row.lease_expires_at, row.updated_at, row.graph_identity) == (None, T0, "gid")
    assert await backend.get_session("s") == row


async def test_begin_run_sets_what_run_start_gives(backend: Backend) -> None:
    assert await backend.create_session(full_info("s"))
    start = RunStart(lease_owner="me", lease_expires_at=at(30), graph_identity=None)
    begun = await backend.begin_run("s", new_run("s"), start, expect_revision=0)
    assert begun is not None
    assert begun.session.lease_expires_at == at(30) and begun.session.graph_identity is None
    assert begun.session.lease_epoch == 1


async def test_begin_run_can_set_the_metadata_in_its_transaction(backend: Backend) -> None:
    info = full_info("s")
    assert await backend.create_session(info)
    marks = {**info.metadata, "assistant_id": "a1", "nested": {"k": [1, 2]}}
    start = RunStart(lease_owner="me", metadata=marks)
    begun = await backend.begin_run(
        "s", new_run("s"), start, expect_revision=0, events=[NewEvent(EventType.METADATA_UPDATED)]
    )
    assert begun is not None and begun.session.metadata == marks
    stored = await backend.get_session("s")
    assert stored is not None and stored.metadata == marks
    assert EventType.METADATA_UPDATED in [e.type for e in await backend.list_events("s")]


async def test_finish_run_changes_only_what_it_gives(backend: Backend) -> None:
    assert await backend.create_session(full_info("s"))
    begun = await backend.begin_run(
        "s", new_run("s"), RunStart(lease_owner="me", lease_expires_at=at(30)), expect_revision=0
    )
    assert begun is not None
    row, _ = await backend.finish_run(
        "s", "r1", RunFinish(run_status=RunStatus.SUCCESS, updated_at=at(9)), expect_lease="me"
    )
    assert row is not None
    # released and stamped; without slide_ttl the expiry stays; the rest is as it was
    assert (row.lease_owner, row.lease_expires_at, row.updated_at) == (None, None, at(9))
    assert row.status == SessionStatus.RUNNING and row.expires_at == at(600)
    assert (row.last_error, row.run_count) == ("earlier", 0)
    assert row.interrupts == [{"id": "i1", "value": "q"}]
    [done] = await backend.list_runs("s")
    assert done.status == RunStatus.SUCCESS and done.error is None and done.finished_at == at(9)


async def test_finish_run_sets_none_and_slides_only_a_sliding_ttl(backend: Backend) -> None:
    for sid, mode in (("sliding", "sliding"), ("absolute", "absolute")):
        info = full_info(sid).model_copy(update={"ttl_mode": mode})
        assert await backend.create_session(info)
        assert await backend.begin_run(
            sid, new_run(sid, f"r-{sid}"), RunStart(lease_owner="me"), expect_revision=0
        )
        row, _ = await backend.finish_run(
            sid,
            f"r-{sid}",
            RunFinish(
                run_status=RunStatus.SUCCESS,
                updated_at=at(9),
                status=SessionStatus.COMPLETED,
                run_count=1,
                interrupts=[],
                last_error=None,
                slide_ttl=True,
            ),
        )
        assert row is not None and row.status == SessionStatus.COMPLETED
        assert (row.last_error, row.run_count, row.interrupts) == (None, 1, [])
        assert row.expires_at == (at(9 + 600) if mode == "sliding" else at(600))


def test_unchanged_is_one_value_that_is_not_none() -> None:
    assert UNCHANGED is not None and repr(UNCHANGED) == "UNCHANGED"
    assert SessionUpdate().owner is UNCHANGED and SessionUpdate(owner=None).owner is None


async def test_sqlite_create_starts_from_no_events_left_behind(tmp_path: Path) -> None:
    """Moved from the contract suite (it planted them with ``add_events``, now gone): only a
    file can hold events of an unregistered session (written by an earlier version)."""
    db = tmp_path / "left.db"
    backend = backend_from_url(f"sqlite:///{db}")
    await backend.open()
    try:
        with sqlite3.connect(db) as conn:
            conn.execute(
                "INSERT INTO session_events (session_id, type, run_id, at, data) "
                "VALUES ('s', 'resumed', NULL, ?, '{}')",
                (dump_time(T0),),
            )
        assert [e.type for e in await backend.list_events("s")] == [EventType.RESUMED]
        assert await backend.create_session(full_info("s"))
        assert await backend.list_events("s") == []
    finally:
        await backend.close()
