"""The lease watch (``core/lease_watch.py``): every manager repairs sessions whose lease
lapsed every ``lease_ttl / 3``, and two managers repairing at once close a run once."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from support.graphs import chat_graph

from graph_sessions import EventType, GraphSessionManager, RunStatus, SessionStatus
from graph_sessions.core.lease_watch import repair_lapsed
from graph_sessions.models import RunInfo
from graph_sessions.storage.records import RunStart

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(params=["sqlite", "postgres", "redis"])
def shared_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """One database two managers share, as replicas do."""
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    if request.param == "redis":
        server = request.getfixturevalue("redis_server")
        return f"{server.url()}?prefix={server.new_prefix()}"
    return f"sqlite:///{tmp_path / 'shared.db'}"


async def leave_running(m: GraphSessionManager, session_id: str, expires_in: float) -> None:
    """Mark ``session_id`` running under the lease of a replica on another host that stopped
    renewing it, with its run row open (what a SIGKILLed replica leaves)."""
    info = await m.info(session_id)
    begun = await m.backend.begin_run(
        session_id,
        RunInfo(
            run_id=f"dead-{session_id}",
            session_id=session_id,
            status=RunStatus.RUNNING,
            started_at=datetime.now(UTC),
        ),
        RunStart(
            lease_owner="gone-host:4242:feedface0000",
            lease_expires_at=datetime.now(UTC) + timedelta(seconds=expires_in),
        ),
        expect_revision=info.revision,
    )
    assert begun is not None


async def test_every_manager_repairs_a_lapsed_lease_within_a_third_of_lease_ttl(
    shared_url: str,
) -> None:
    async with GraphSessionManager(
        graph=chat_graph(), backend=shared_url, sweep_interval=3600, lease_ttl=0.6
    ) as m:
        await (await m.create("held")).invoke({"user_input": "hi"})
        await leave_running(m, "held", expires_in=0.3)
        since = time.monotonic()
        while (await m.info("held")).status == SessionStatus.RUNNING:
            assert time.monotonic() - since < 10, "the lease watch never repaired the session"
            await asyncio.sleep(0.05)
        took = time.monotonic() - since
        assert (await m.info("held")).status == SessionStatus.COMPLETED
        # the sweeper (hourly here) did not do it: the lease watch did, within ttl + ttl/3
        assert took < 0.3 + 0.2 + 1.0
        [run] = [r for r in await m.backend.list_runs("held") if r.run_id == "dead-held"]
        assert run.status == RunStatus.ERROR


async def test_the_lease_watch_is_off_without_background_work(shared_url: str) -> None:
    async with GraphSessionManager(
        graph=chat_graph(), backend=shared_url, sweep_interval=None, lease_ttl=0.3
    ) as m:
        await (await m.create("held")).invoke({"user_input": "hi"})
        await leave_running(m, "held", expires_in=0.1)
        await asyncio.sleep(0.6)
        assert (await m.info("held")).status == SessionStatus.RUNNING
        assert await repair_lapsed(m.context) == ["held"]


async def test_two_managers_repairing_at_once_close_the_run_once(shared_url: str) -> None:
    kwargs: dict[str, Any] = {"graph": chat_graph(), "backend": shared_url, "sweep_interval": None}
    async with GraphSessionManager(**kwargs) as a, GraphSessionManager(**kwargs) as b:
        for i in range(10):
            sid = f"s{i}"
            await (await a.create(sid)).invoke({"user_input": "hi"})
            await leave_running(a, sid, expires_in=-1)
        done_a, done_b = await asyncio.gather(repair_lapsed(a.context), repair_lapsed(b.context))
        assert sorted(done_a + done_b) == sorted(f"s{i}" for i in range(10))
        assert not set(done_a) & set(done_b)
        for i in range(10):
            events = await a.backend.list_events(f"s{i}")
            assert [e.type for e in events].count(EventType.REPAIRED) == 1
            assert (await a.info(f"s{i}")).status == SessionStatus.COMPLETED
