"""What replicas need from a backend: the repair pass's query (running sessions whose
lease expired) and cancel requests for a run executing in another process."""

from __future__ import annotations

from datetime import datetime, timedelta

from graph_sessions.models import RunInfo, RunStatus, SessionInfo, SessionStatus
from graph_sessions.storage import Backend
from graph_sessions.storage.records import RunFinish, RunStart

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
