"""Durable background runs, proved on real server processes sharing one SQLite file:
pending runs (queued under ``enqueue``, or waiting ``after_seconds``) survive a SIGKILL or
a graceful stop and run after the restart, in order and once; a run executing when its
server was SIGKILLed ends ``error`` with the reason, and its thread is usable again; two
servers started on the same database launch each recovered run once (the claim), and a
pending run cancelled over one of them is not run by the other."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient
from support.lgapi import start_lg_server
from support.server import KEYS, PY, ServerProcess, base_env, free_port

pytestmark = pytest.mark.slow

ENV = {"GRAPH_SESSIONS_API_KEYS": f"{KEYS['alice']}:alice"}


def client(srv: ServerProcess) -> SyncLangGraphClient:
    return get_sync_client(url=srv.url, api_key=KEYS["alice"])


def eventually(check: Callable[[], Any], timeout: float = 20.0, every: float = 0.1) -> Any:
    """``check()``'s first truthy answer, polled until ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {check}")
        time.sleep(every)


def status(c: SyncLangGraphClient, thread_id: str, run_id: str) -> str:
    return str(c.runs.get(thread_id, run_id)["status"])


def slow_run(c: SyncLangGraphClient, thread_id: str, tag: str, sleep: float, **options: Any) -> str:
    """A background run of the ``slow`` graph that logs ``tag``, then sleeps."""
    run = c.runs.create(
        thread_id,
        "slow",
        input={"log": [tag]},
        config={"configurable": {"sleep": sleep}},
        multitask_strategy="enqueue",
        **options,
    )
    assert run["status"] in ("pending", "running")
    return str(run["run_id"])


def unstarted(folder: Path) -> ServerProcess:
    """Another server on the config (and database) of the first one in ``folder``."""
    port = free_port()
    args = [PY, "-m", "graph_sessions.server", "--config", str(folder / "langgraph.json")]
    return ServerProcess([*args, "--port", str(port)], base_env(**ENV), folder, port)


@pytest.fixture
def servers() -> Iterator[list[ServerProcess]]:
    """Servers a test starts; each is stopped after it."""
    started: list[ServerProcess] = []
    yield started
    for srv in started:
        srv.stop(signal.SIGKILL)


def test_pending_runs_survive_sigkill_and_a_killed_run_ends_error(
    tmp_path: Path, servers: list[ServerProcess]
) -> None:
    first = start_lg_server(tmp_path, env=ENV)
    servers.append(first)
    c = client(first)
    thread = c.threads.create()["thread_id"]
    running = slow_run(c, thread, "r0", 60)
    eventually(lambda: status(c, thread, running) == "running")
    queued = [slow_run(c, thread, "r1", 1.5), slow_run(c, thread, "r2", 0.1)]
    cancelled = slow_run(c, thread, "never", 0.1)
    c.runs.cancel(thread, cancelled)  # a pending run cancelled before the crash stays so
    later_thread = c.threads.create()["thread_id"]
    booked = time.monotonic()
    later = slow_run(c, later_thread, "later", 0.1, after_seconds=8)
    assert {status(c, thread, r) for r in queued} == {"pending"}
    first.stop(signal.SIGKILL)

    second = start_lg_server(tmp_path, env=ENV)
    servers.append(second)
    c = client(second)
    # the runs that waited are still there, pending (or already running), not lost
    assert status(c, thread, queued[1]) == "pending"
    if time.monotonic() - booked < 7:  # the restart is quick enough to see it wait
        assert status(c, later_thread, later) == "pending"
    # the run that was executing when its server died: error, with the reason
    killed = c.runs.get(thread, running)
    assert killed["status"] == "error"
    assert killed["error"]["error"] == "RunRepaired"
    assert "died" in killed["error"]["message"]
    # the queued runs run after the restart, in the order they were made, once each
    eventually(lambda: status(c, thread, queued[1]) == "success")
    assert status(c, thread, queued[0]) == "success"
    state = c.threads.get_state(thread)["values"]
    assert state["log"] == ["r0", "r1", "slept", "r2", "slept"]
    assert state["n"] == 2
    with pytest.raises(httpx.HTTPStatusError) as gone:
        c.runs.get(thread, cancelled)
    assert gone.value.response.status_code == 404
    # the thread is usable: not busy forever, a new run works
    assert c.threads.get(thread)["status"] == "idle"
    result = c.runs.wait(
        thread, "slow", input={"log": ["r3"]}, config={"configurable": {"sleep": 0}}
    )
    assert result["n"] == 3
    assert [r["status"] for r in c.runs.list(thread, limit=10)].count("error") == 1
    # the after_seconds run kept its time across the restart
    eventually(lambda: status(c, later_thread, later) == "success")
    assert time.monotonic() - booked >= 8
    assert c.threads.get_state(later_thread)["values"]["log"] == ["later", "slept"]


def test_a_stopping_server_leaves_pending_runs_to_the_next(
    tmp_path: Path, servers: list[ServerProcess]
) -> None:
    first = start_lg_server(tmp_path, env=ENV)
    servers.append(first)
    c = client(first)
    thread = c.threads.create()["thread_id"]
    waiting = slow_run(c, thread, "w", 0.1, after_seconds=2)
    # graceful (uvicorn re-raises the signal after it): it neither runs it nor forgets it
    assert first.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
    second = start_lg_server(tmp_path, env=ENV)
    servers.append(second)
    c = client(second)
    assert status(c, thread, waiting) in ("pending", "running", "success")
    eventually(lambda: status(c, thread, waiting) == "success")
    assert c.threads.get_state(thread)["values"]["log"] == ["w", "slept"]


def test_two_servers_on_one_database_launch_each_recovered_run_once(
    tmp_path: Path, servers: list[ServerProcess]
) -> None:
    first = start_lg_server(tmp_path, env=ENV)
    servers.append(first)
    c = client(first)
    thread = c.threads.create()["thread_id"]
    running = slow_run(c, thread, "r0", 60)
    eventually(lambda: status(c, thread, running) == "running")
    queued = [slow_run(c, thread, f"r{i}", 0.3) for i in (1, 2, 3)]
    first.stop(signal.SIGKILL)

    pair = [unstarted(tmp_path), unstarted(tmp_path)]
    assert pair[0].port != pair[1].port
    servers.extend(pair)
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda srv: srv.start(), pair))
    c = client(pair[0])
    eventually(lambda: all(status(c, thread, r) == "success" for r in queued), every=0.3)
    state = c.threads.get_state(thread)["values"]
    assert state["log"] == ["r0", "r1", "slept", "r2", "slept", "r3", "slept"]
    logs = pair[0].logs() + pair[1].logs()
    for run_id in queued:
        assert logs.count(f"pending run {run_id} of thread {thread} launched again") == 1
    assert c.runs.get(thread, running)["status"] == "error"
    # a pending run held by one server, cancelled over the other: it never runs
    busy = slow_run(c, thread, "r4", 8)
    eventually(lambda: status(c, thread, busy) == "running")
    doomed = slow_run(c, thread, "r5", 0.1)
    other = client(pair[1])
    assert other.runs.get(thread, doomed)["status"] == "pending"  # from storage
    other.runs.cancel(thread, doomed)
    eventually(lambda: status(c, thread, doomed) == "interrupted", timeout=15)
    eventually(lambda: status(c, thread, busy) == "success", timeout=15)
    assert "r5" not in c.threads.get_state(thread)["values"]["log"]
