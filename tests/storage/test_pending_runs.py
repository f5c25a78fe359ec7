"""The Backend contract for pending runs (runs accepted but not begun yet): add, list,
claim (compare-and-set), renew, delete; ``begin_run`` deletes the pending row of its run
in the same transaction; deleting a session deletes its pending runs."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from graph_sessions.models import EventType, RunInfo, RunStatus, SessionInfo
from graph_sessions.storage import Backend
from graph_sessions.storage.backend import NewEvent
from graph_sessions.storage.records import PendingRun, RunStart

T0 = datetime(2026, 1, 1, 12, 0, 0).astimezone()


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def pending(run_id: str, session_id: str = "s1", created: float = 0, **fields: Any) -> PendingRun:
    fields.setdefault("payload", {"body": {"assistant_id": "slow", "input": {"n": 1}}})
    return PendingRun(
        run_id=run_id, session_id=session_id, owner="alice", created_at=at(created), **fields
    )


async def make_session(backend: Backend, session_id: str = "s1") -> None:
    assert await backend.create_session(
        SessionInfo(session_id=session_id, created_at=T0, updated_at=T0)
    )


async def test_add_list_and_delete(backend: Backend) -> None:
    await make_session(backend)
    await make_session(backend, "s2")
    first = pending("r1", created=1, not_before=at(5), claimed_by="me", claimed_until=at(30))
    assert await backend.add_pending_run(pending("r3", created=3))
    assert await backend.add_pending_run(first)
    assert await backend.add_pending_run(pending("r2", "s2", created=2))
    assert not await backend.add_pending_run(pending("r1", created=9))  # id taken
    assert not await backend.add_pending_run(pending("r9", "nobody"))  # no such session
    rows = await backend.list_pending_runs()
    assert [r.run_id for r in rows] == ["r1", "r2", "r3"]  # oldest first
    assert rows[0] == first
    assert rows[0].payload == {"body": {"assistant_id": "slow", "input": {"n": 1}}}
    assert [r.run_id for r in await backend.list_pending_runs("s1")] == ["r1", "r3"]
    assert await backend.list_pending_runs("nobody") == []
    assert await backend.delete_pending_run("r1")
    assert not await backend.delete_pending_run("r1")
    assert [r.run_id for r in await backend.list_pending_runs("s1")] == ["r3"]


async def test_claim_is_a_compare_and_set(backend: Backend) -> None:
    await make_session(backend)
    assert await backend.add_pending_run(pending("r1", claimed_by="dead", claimed_until=at(10)))
    # two claimants reading the same (stale) claim: exactly one wins
    results = await asyncio.gather(
        *(
            backend.claim_pending_run("r1", who, at(60), expect_by="dead", expect_until=at(10))
            for who in ("a", "b", "c")
        )
    )
    assert sorted(results) == [False, False, True]
    (row,) = await backend.list_pending_runs()
    winner = "abc"[results.index(True)]
    assert (row.claimed_by, row.claimed_until) == (winner, at(60))
    # a reading that is out of date claims nothing
    assert not await backend.claim_pending_run(
        "r1", "d", at(90), expect_by="dead", expect_until=at(10)
    )
    assert not await backend.claim_pending_run(
        "r1", "d", at(90), expect_by=winner, expect_until=None
    )
    assert await backend.claim_pending_run("r1", "d", at(90), expect_by=winner, expect_until=at(60))
    assert not await backend.claim_pending_run(
        "gone", "d", at(90), expect_by=None, expect_until=None
    )
    # an unclaimed run is claimed from (None, None)
    assert await backend.add_pending_run(pending("r2", created=1))
    assert await backend.claim_pending_run("r2", "e", at(5), expect_by=None, expect_until=None)


async def test_renew_claims(backend: Backend) -> None:
    await make_session(backend)
    for run_id, who in (("r1", "me"), ("r2", "other"), ("r3", "me")):
        assert await backend.add_pending_run(pending(run_id, claimed_by=who, claimed_until=at(10)))
    assert await backend.renew_pending_claims("me", at(40)) == ["r1", "r3"]
    until = {r.run_id: r.claimed_until for r in await backend.list_pending_runs()}
    assert until == {"r1": at(40), "r2": at(10), "r3": at(40)}
    assert await backend.renew_pending_claims("nobody", at(40)) == []


async def test_begin_run_deletes_its_pending_row(backend: Backend) -> None:
    await make_session(backend)
    assert await backend.add_pending_run(pending("r1"))
    assert await backend.add_pending_run(pending("r2", created=1))
    row = await backend.get_session("s1")
    assert row is not None
    # a begin that does not happen (stale revision) leaves the pending row
    assert (
        await backend.begin_run(
            "s1",
            RunInfo(run_id="r1", session_id="s1", status=RunStatus.RUNNING, started_at=at(1)),
            RunStart(lease_owner="me", lease_expires_at=at(31)),
            expect_revision=row.revision + 7,
        )
        is None
    )
    assert [r.run_id for r in await backend.list_pending_runs()] == ["r1", "r2"]
    begun = await backend.begin_run(
        "s1",
        RunInfo(run_id="r1", session_id="s1", status=RunStatus.RUNNING, started_at=at(1)),
        RunStart(lease_owner="me", lease_expires_at=at(31)),
        expect_revision=row.revision,
        events=[NewEvent(EventType.RUN_STARTED, run_id="r1")],
    )
    assert begun is not None
    assert [r.run_id for r in await backend.list_pending_runs()] == ["r2"]
    assert [r.run_id for r in await backend.list_runs("s1")] == ["r1"]


async def test_deleting_a_session_deletes_its_pending_runs(backend: Backend) -> None:
    await make_session(backend)
    await make_session(backend, "s2")
    assert await backend.add_pending_run(pending("r1"))
    assert await backend.add_pending_run(pending("r2", "s2"))
    assert await backend.delete_session("s1")
    assert [r.run_id for r in await backend.list_pending_runs()] == ["r2"]
    # a session made again under that id starts with none
    await make_session(backend)
    assert await backend.list_pending_runs("s1") == []
