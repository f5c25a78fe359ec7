"""``Backend.restore_session`` (export/import): a session's rows written exactly as another
storage held them, in one transaction, never over an existing session. Runs on every backend
of ``conftest.BACKENDS``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from graph_sessions.models import EventType, RunInfo, RunStatus, SessionInfo, SessionStatus
from graph_sessions.storage import Backend
from graph_sessions.storage.backend import NewEvent, SessionQuery
from graph_sessions.storage.records import (
    RestoredEvent,
    RestoredMessage,
    SessionRecord,
    SessionUpdate,
)

T0 = datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def record(session_id: str = "s1") -> SessionRecord:
    """An interrupted session with two runs, events and a transcript, held by a lease."""
    info = SessionInfo(
        session_id=session_id,
        graph_id="chat",
        owner="ann",
        task_id="t9",
        status=SessionStatus.INTERRUPTED,
        metadata={"topic": "x", "n": [1, 2]},
        created_at=T0,
        updated_at=at(50),
        expires_at=at(3600),
        ttl=3600.0,
        ttl_mode="sliding",
        last_error=None,
        run_count=2,
        revision=17,
        interrupts=[{"id": "i1", "value": "name?"}],
        lease_owner="host:1:abc",
        lease_expires_at=at(60),
        lease_epoch=5,
        graph_identity="gid-1",
    )
    runs = (
        RunInfo(
            run_id=f"{session_id}-r1",
            session_id=session_id,
            status=RunStatus.SUCCESS,
            started_at=at(1),
            finished_at=at(2),
            checkpoint_before=None,
            checkpoint_after="c1",
        ),
        RunInfo(
            run_id=f"{session_id}-r2",
            session_id=session_id,
            status=RunStatus.INTERRUPTED,
            kind="resume",
            multitask="enqueue",
            started_at=at(10),
            finished_at=at(12),
            error="boom",
            checkpoint_before="c1",
            checkpoint_after="c2",
        ),
    )
    events = (
        RestoredEvent(type="created", at=T0),
        RestoredEvent(type="run_started", at=at(1), run_id=f"{session_id}-r1"),
        RestoredEvent(type="interrupted", at=at(12), run_id=f"{session_id}-r2", data={"v": 1}),
    )
    messages = (
        RestoredMessage(role="user", content="hi", created_at=at(1)),
        RestoredMessage(role="assistant", content={"text": "yo", "n": [1]}, created_at=at(2)),
        RestoredMessage(role="user", content="again", created_at=at(10), data={"k": "v"}),
    )
    return SessionRecord(info=info, runs=runs, events=events, messages=messages)


async def test_restore_writes_the_rows_as_they_were(backend: Backend) -> None:
    rec = record()
    assert await backend.restore_session(rec)
    got = await backend.get_session("s1")
    assert got is not None
    expected = rec.info.model_dump()
    expected.update(lease_owner=None, lease_expires_at=None)
    assert got.model_dump() == expected  # status, revision, timestamps, TTL kept; no lease
    runs = await backend.list_runs("s1", limit=100)
    assert [r.model_dump() for r in reversed(runs)] == [r.model_dump() for r in rec.runs]
    events = await backend.list_events("s1", limit=100)
    assert [(str(e.type), e.at, e.run_id, e.data) for e in events] == [
        (e.type, e.at, e.run_id, e.data) for e in rec.events
    ]
    assert [e.id for e in events] == sorted(e.id for e in events)
    messages = await backend.load_messages("s1")
    assert [(m.role, m.content, m.data, m.created_at) for m in messages] == [
        (m.role, m.content, m.data, m.created_at) for m in rec.messages
    ]
    listed = await backend.list_sessions(SessionQuery(owner="ann"))
    assert [s.session_id for s in listed] == ["s1"]


async def test_restore_never_overwrites_an_existing_session(backend: Backend) -> None:
    first = SessionInfo(session_id="s1", created_at=T0, updated_at=T0)
    assert await backend.create_session(first, NewEvent(type=EventType.CREATED))
    assert not await backend.restore_session(record())
    got = await backend.get_session("s1")
    assert got is not None and got.status == SessionStatus.CREATED and got.revision == 0
    assert await backend.list_runs("s1") == []
    assert [e.type for e in await backend.list_events("s1")] == [EventType.CREATED]
    assert await backend.load_messages("s1") == []


async def test_restored_session_takes_new_runs_and_events(backend: Backend) -> None:
    """A restored row is an ordinary row: the next update compares its revision, new
    events come after the restored ones."""
    assert await backend.restore_session(record())
    updated = await backend.update_session(
        "s1",
        SessionUpdate(status=SessionStatus.COMPLETED, updated_at=at(100)),
        events=[NewEvent(type=EventType.STATE_UPDATED)],
        expect_revision=17,
    )
    assert updated is not None and updated.revision == 18
    events = await backend.list_events("s1")
    assert [str(e.type) for e in events][-2:] == ["interrupted", "state_updated"]
    assert await backend.delete_session("s1")
    assert await backend.list_runs("s1") == [] and await backend.load_messages("s1") == []
