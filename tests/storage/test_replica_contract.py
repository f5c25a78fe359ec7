"""What replicas need from a backend: the repair pass's query (running sessions whose
lease expired)."""

from __future__ import annotations

from datetime import datetime, timedelta

from graph_sessions.models import RunInfo, RunStatus, SessionInfo
from graph_sessions.storage import Backend
from graph_sessions.storage.records import RunStart

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
