"""interrupt / rollback / cancel reach the process running the run (``core/cancel_watch.py``):
two managers on one database stand for two replicas."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from support.graphs import slow_graph

from graph_sessions import GraphSessionManager, RunCancelled, RunStatus, SessionStatus

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(params=["sqlite", "postgres", "redis"])
def shared_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    if request.param == "redis":
        server = request.getfixturevalue("redis_server")
        return f"{server.url()}?prefix={server.new_prefix()}"
    return f"sqlite:///{tmp_path / 'shared.db'}"


@pytest.fixture
async def pair(shared_url: str) -> AsyncIterator[tuple[GraphSessionManager, GraphSessionManager]]:
    kwargs: dict[str, Any] = {"graph": slow_graph(4), "backend": shared_url, "sweep_interval": None}
    async with GraphSessionManager(**kwargs) as a, GraphSessionManager(**kwargs) as b:
        yield a, b


async def start_long_run(a: GraphSessionManager, sid: str) -> tuple[asyncio.Task[Any], str]:
    """A run of 4 steps x 1 s on ``a``, once its first step is saved; returns its task and
    run id."""
    s = await a.create(sid)
    task = asyncio.ensure_future(s.invoke({"user_input": "long", "delay": 1.0}))
    for _ in range(400):
        state = await s.get_state()
        if len(state.get("steps", [])) >= 1:
            break
        await asyncio.sleep(0.01)
    [run] = [r for r in await a.backend.list_runs(sid, limit=1) if r.status == RunStatus.RUNNING]
    return task, run.run_id


@pytest.mark.parametrize("strategy", ["interrupt", "rollback"])
async def test_a_multitask_run_on_b_cancels_the_run_on_a(
    pair: tuple[GraphSessionManager, GraphSessionManager], strategy: str
) -> None:
    a, b = pair
    task, run_id = await start_long_run(a, "s")
    asked = time.monotonic()
    result = await (await b.get("s")).invoke(  # type: ignore[union-attr]
        {"user_input": "next", "delay": 0.0}, multitask=strategy
    )
    assert result.status == "complete"
    with pytest.raises(RunCancelled):
        await task
    cancelled_at = time.monotonic() - asked
    runs = {r.run_id: r for r in await b.backend.list_runs("s")}
    assert runs[run_id].status == RunStatus.CANCELLED
    assert runs[run_id].error == f"cancelled ({strategy})"
    steps = result.state["steps"]
    if strategy == "rollback":  # the cancelled run's steps are gone
        assert not any(x.endswith(":long") for x in steps)
    else:  # its finished steps stay
        assert steps[0] == "s0:long"
    assert steps[-4:] == [f"s{i}:next" for i in range(4)]
    assert cancelled_at < 3.0  # a 4 s run: it was cut short


async def test_cancel_run_on_b_reaches_a_run_on_a(
    pair: tuple[GraphSessionManager, GraphSessionManager],
) -> None:
    a, b = pair
    task, run_id = await start_long_run(a, "s")
    assert not await b.cancel_run("s", "not-that-run")
    asked = time.monotonic()
    assert await b.cancel_run("s", run_id, wait=True)
    latency = time.monotonic() - asked
    with pytest.raises(RunCancelled):
        await task
    [run] = await b.backend.list_runs("s", limit=1)
    assert run.status == RunStatus.CANCELLED and run.error == "cancelled (cancelled by request)"
    assert (await b.info("s")).status != SessionStatus.RUNNING
    assert not await b.cancel_run("s", run_id)  # it is over
    print(f"\ncancel on B -> run on A ended: {latency * 1000:.0f} ms ({a.backend.url})")
    # Postgres: LISTEN/NOTIFY; SQLite: the 0.25 s poll
    assert latency < 1.0 + 1.0  # target < 1 s; slack for a loaded machine
