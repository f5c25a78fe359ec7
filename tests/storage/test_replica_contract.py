"""What replicas need from a backend: the repair pass's query (running sessions whose
lease expired), cancel requests for a run executing in another process, and the queue
tickets that keep ``enqueue`` in order across processes."""

from __future__ import annotations

from datetime import datetime, timedelta

from graph_sessions.models import RunInfo, RunStatus, SessionInfo, SessionStatus
from graph_sessions.storage import Backend
from graph_sessions.storage.records import QueueCheck, RunFinish, RunStart

T0 = datetime(2026, 1, 1, 12, 0, 0).astimezone()


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def hold(backend: Backend, session_id: str, expires: datetime | None) -> None:
    """Create ``session_id`` and mark it running under a lease expiring at ``expires``."""
    await backend.create_session(SessionInfo(session_id=session_id, created_at=T0, updated_at=T0))
    run = RunInfo(
        run_id=f"r-{session_id}",
        session_id=session_id,
        status=RunStatus.RUNNING,
        started_at=at(1),
    )
    begun = await backend.begin_run(
        session_id,
        run,
        RunStart(lease_owner="elsewhere:1:x", updated_at=at(1), lease_expires_at=expires),
        expect_revision=0,
    )
    assert begun is not None


async def test_find_running_with_lapsed_at_answers_only_expired_leases(backend: Backend) -> None:
    await hold(backend, "early", at(10))
    await hold(backend, "late", at(100))
    await hold(backend, "never", None)  # a lease without expiry (older rows): a candidate
    await backend.create_session(SessionInfo(session_id="idle", created_at=T0, updated_at=T0))

    def ids(rows: list[SessionInfo]) -> list[str]:
        return sorted(r.session_id for r in rows)

    assert ids(await backend.find_running()) == ["early", "late", "never"]
    assert ids(await backend.find_running(lapsed_at=at(5))) == ["never"]
    assert ids(await backend.find_running(lapsed_at=at(10))) == ["early", "never"]
    assert ids(await backend.find_running(lapsed_at=at(1000))) == ["early", "late", "never"]


async def test_a_cancel_request_is_recorded_for_a_running_run_and_taken_once(
    backend: Backend,
) -> None:
    await hold(backend, "s", at(100))
    await hold(backend, "t", at(100))
    assert not await backend.request_cancel("s", "no-such-run", "interrupt", at(2))
    assert not await backend.request_cancel("t", "r-s", "interrupt", at(2))  # not t's run
    assert await backend.take_cancel_requests(["r-s", "r-t"]) == {}
    assert await backend.request_cancel("s", "r-s", "interrupt", at(2))
    assert await backend.request_cancel("s", "r-s", "rollback", at(3))  # replaces it
    assert await backend.request_cancel("t", "r-t", "cancel", at(3))
    assert await backend.take_cancel_requests([]) == {}
    assert await backend.take_cancel_requests(["r-s", "other"]) == {"r-s": "rollback"}
    assert await backend.take_cancel_requests(["r-s"]) == {}  # answered once
    assert await backend.take_cancel_requests(["r-t"]) == {"r-t": "cancel"}
    await backend.wait_cancel_request(0.01)  # returns (a notification or the timeout)


async def test_a_finished_run_takes_no_cancel_request(backend: Backend) -> None:
    await hold(backend, "s", at(100))
    assert await backend.request_cancel("s", "r-s", "interrupt", at(2))
    after, _ = await backend.finish_run(
        "s",
        "r-s",
        RunFinish(run_status=RunStatus.SUCCESS, updated_at=at(3), status=SessionStatus.COMPLETED),
    )
    assert after is not None
    assert not await backend.request_cancel("s", "r-s", "interrupt", at(4))
    await hold(backend, "u", at(100))  # any later request drops the finished run's
    assert await backend.request_cancel("u", "r-u", "interrupt", at(5))
    assert await backend.take_cancel_requests(["r-s", "r-u"]) == {"r-u": "interrupt"}


async def begin(backend: Backend, session_id: str, queue: QueueCheck) -> bool:
    row = await backend.get_session(session_id)
    assert row is not None
    run = RunInfo(
        run_id=f"{session_id}-q{row.revision}",
        session_id=session_id,
        status=RunStatus.RUNNING,
        started_at=at(1),
    )
    begun = await backend.begin_run(
        session_id,
        run,
        RunStart(lease_owner=queue.owner, lease_expires_at=at(100)),
        expect_revision=row.revision,
        queue=queue,
    )
    return begun is not None


async def test_begin_run_keeps_the_queue_of_tickets_in_order(backend: Backend) -> None:
    await backend.create_session(SessionInfo(session_id="s", created_at=T0, updated_at=T0))
    await backend.create_session(SessionInfo(session_id="t", created_at=T0, updated_at=T0))
    first = await backend.take_ticket("s", "B", at(100))
    second = await backend.take_ticket("s", "C", at(100))
    other = await backend.take_ticket("t", "C", at(100))
    assert first < second < other
    now = at(50)
    # no ticket: behind every live ticket of another owner; B's own tickets never block B
    assert not await begin(backend, "s", QueueCheck(owner="A", now=now))
    assert not await begin(
        backend, "s", QueueCheck(owner="C", now=now, position=second, ticket=second)
    )
    assert await begin(backend, "s", QueueCheck(owner="B", now=now, position=first, ticket=first))
    # the begun run's ticket is gone: C is first now (the session is running: finish it)
    finished, _ = await backend.finish_run(
        "s", "s-q0", RunFinish(run_status=RunStatus.SUCCESS, updated_at=at(2))
    )
    assert finished is not None
    assert not await begin(backend, "s", QueueCheck(owner="A", now=now))
    assert await begin(backend, "s", QueueCheck(owner="C", now=now, position=second, ticket=second))
    # a queue check on another session is not blocked by t's ticket for its owner
    assert await begin(backend, "t", QueueCheck(owner="C", now=now, position=other, ticket=other))


async def test_tickets_lapse_unless_renewed_and_can_be_dropped(backend: Backend) -> None:
    await backend.create_session(SessionInfo(session_id="s", created_at=T0, updated_at=T0))
    dead = await backend.take_ticket("s", "dead", at(10))
    live = await backend.take_ticket("s", "live", at(10))
    assert await backend.renew_tickets("live", at(100)) == 1
    assert await backend.renew_tickets("nobody", at(100)) == 0
    # at 50 the dead owner's ticket has lapsed, the renewed one holds
    assert not await begin(backend, "s", QueueCheck(owner="A", now=at(50)))
    await backend.drop_ticket(live)
    await backend.drop_ticket(live)  # gone already: nothing
    assert await begin(backend, "s", QueueCheck(owner="A", now=at(50)))
    assert dead < live


async def test_renewing_named_tickets_lets_a_forgotten_one_lapse(backend: Backend) -> None:
    """A process renews only the tickets it knows of: one it lost track of (taken by a
    cancelled caller, or whose drop failed) lapses instead of holding the queue for good."""
    await backend.create_session(SessionInfo(session_id="s", created_at=T0, updated_at=T0))
    known = await backend.take_ticket("s", "me", at(10))
    forgotten = await backend.take_ticket("s", "me", at(10))
    assert await backend.renew_tickets("me", at(100), [known]) == 1
    assert await backend.renew_tickets("me", at(100), []) == 0
    await backend.drop_ticket(known)
    # at 50 the forgotten ticket has lapsed: another owner's run is not held behind it
    assert await begin(backend, "s", QueueCheck(owner="other", now=at(50)))
    assert known < forgotten
