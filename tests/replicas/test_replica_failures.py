"""Proof: replicas that die or pause mid-run (real processes, one Postgres database).

SIGKILL, 20 trials: another replica repairs the session within ``lease_ttl + 5 s``, every
checkpoint written before the kill is still there, the run continues on another replica
with each step exactly once, nothing stays ``running``. SIGSTOP past the lease: another
replica takes the session over and finishes a run; the paused one, resumed, is refused
(LeaseLost) and the checkpoint chain stays linear."""

from __future__ import annotations

import asyncio
import signal
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.replicas import Replicas

from graph_sessions import GraphSessionManager

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

LEASE_TTL = 3.0
TRIALS = 20


@pytest.fixture
def replicas(tmp_path: Path, postgres_url: str) -> Iterator[Replicas]:
    group = Replicas(tmp_path, postgres_url, n=3, lease_ttl=LEASE_TTL).start()
    try:
        yield group
    finally:
        group.stop()


def checkpoints(client: httpx.Client, sid: str) -> list[dict[str, Any]]:
    """The session's checkpoints, newest first (all of them: fewer than 100 here)."""
    r = client.get(f"/sessions/{sid}/checkpoints", params={"limit": 100})
    assert r.status_code == 200, r.text
    return list(r.json())


def wait_for_steps(client: httpx.Client, sid: str, steps: int, timeout: float = 30) -> list[str]:
    """Wait until the session has a checkpoint after ``steps`` completed steps; returns the
    ids of its checkpoints then."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = client.get(f"/sessions/{sid}/checkpoints", params={"limit": 100})
        if r.status_code == 200:
            rows = r.json()
            if sum(1 for c in rows if c["source"] == "loop" and c["step"] >= 1) >= steps:
                return [c["checkpoint_id"] for c in rows]
        time.sleep(0.02)
    pytest.fail(f"session {sid} did not reach {steps} steps in {timeout} s")


def start_run(
    srv_url: str, sid: str, body: dict[str, Any], out: dict[str, Any]
) -> threading.Thread:
    """POST the invoke from a thread; ``out`` gets the status and body (or the error)."""

    def go() -> None:
        try:
            with httpx.Client(base_url=srv_url, timeout=120) as c:
                r = c.post(f"/sessions/{sid}/invoke", json=body)
                out["status"], out["body"] = r.status_code, r.json()
        except httpx.HTTPError as exc:
            out["error"] = type(exc).__name__

    t = threading.Thread(target=go, daemon=True)
    t.start()
    return t


def assert_linear(rows: list[dict[str, Any]]) -> None:
    """Newest first: each checkpoint's parent is the next older one; the oldest has none."""
    for newer, older in zip(rows, rows[1:], strict=False):
        assert newer["parent_checkpoint_id"] == older["checkpoint_id"], (newer, older)
    assert rows[-1]["parent_checkpoint_id"] is None


def test_sigkill_mid_run_twenty_trials(replicas: Replicas, postgres_url: str) -> None:
    n = len(replicas)
    repair_times: list[float] = []
    for trial in range(TRIALS):
        victim, other = trial % n, (trial + 1) % n
        for i in (victim, other):
            replicas.wait_ready(i)  # restarted after an earlier trial
        sid = f"kill{trial}"
        body = {"input": {"user_input": "k", "n": 6, "delay": 0.3}, "durability": "sync"}
        out: dict[str, Any] = {}
        thread = start_run(replicas[victim].url, sid, body, out)
        with httpx.Client(base_url=replicas[other].url, timeout=30) as c:
            before = wait_for_steps(c, sid, 2)
            replicas.kill(victim)
            killed = time.monotonic()
            thread.join(10)
            assert "error" in out, out  # the client lost its connection: no answer
            while c.get(f"/sessions/{sid}").json()["status"] == "running":
                assert time.monotonic() - killed < LEASE_TTL + 5, "not repaired in time"
                time.sleep(0.05)
            repair_times.append(time.monotonic() - killed)
            replicas.spawn(victim)  # back for a later trial, while this one goes on
            after = checkpoints(c, sid)
            assert set(before) <= {x["checkpoint_id"] for x in after}, "a checkpoint was lost"
            assert_linear(after)
            # continued on another replica: the steps done stay done, the rest run once
            r = c.post(f"/sessions/{sid}/invoke", json={"input": None, "durability": "sync"})
            assert r.status_code == 200, r.text
            assert r.json()["state"]["steps"] == [f"k:{i}" for i in range(6)]
    for i in range(n):
        replicas.wait_ready(i)
    print(
        f"\nSIGKILL repair after the kill (lease_ttl {LEASE_TTL:g} s, {TRIALS} trials): "
        f"median {statistics.median(repair_times):.2f} s, max {max(repair_times):.2f} s"
    )

    async def nothing_running() -> None:
        async with GraphSessionManager(backend=postgres_url, sweep_interval=None) as m:
            assert await m.count("running") == 0
            assert await m.count("completed") == TRIALS

    asyncio.run(nothing_running())


def test_sigstop_past_the_lease_then_sigcont_is_fenced(replicas: Replicas) -> None:
    a, b, _ = replicas.servers
    sid = "paused"
    out: dict[str, Any] = {}
    body = {"input": {"user_input": "a", "n": 12, "delay": 0.3}, "durability": "sync"}
    thread = start_run(a.url, sid, body, out)
    with httpx.Client(base_url=b.url, timeout=60) as c:
        wait_for_steps(c, sid, 2)
        replicas.kill(0, signal.SIGSTOP)
        try:
            paused = time.monotonic()
            # B waits for A's lease to lapse, repairs the session and runs its own turn
            r = c.post(
                f"/sessions/{sid}/invoke",
                json={"input": {"user_input": "b", "n": 2, "delay": 0.05}, "durability": "sync"},
            )
            took = time.monotonic() - paused
            assert r.status_code == 200, r.text
            b_steps = r.json()["state"]["steps"]
            assert b_steps[-2:] == ["b:0", "b:1"]
            assert took < LEASE_TTL + 5
            chain = checkpoints(c, sid)
        finally:
            replicas.kill(0, signal.SIGCONT)
        thread.join(60)
        # A's late writes are refused: its run answers 409 LeaseLost, its log says so
        assert out.get("status") == 409, out
        assert out["body"]["error"] == "lease_lost", out
        deadline = time.monotonic() + 10
        while "LeaseLost" not in a.logs() and "lost its lease" not in a.logs():
            assert time.monotonic() < deadline, a.logs()[-3000:]
            time.sleep(0.1)
        time.sleep(1.0)  # anything A could still write would be there by now
        final = checkpoints(c, sid)
        assert final == chain, "the paused replica appended to the chain after it lost its lease"
        assert_linear(final)
        state = c.get(f"/sessions/{sid}/state").json()
        assert state["values"]["steps"] == b_steps
        info = c.get(f"/sessions/{sid}").json()
        assert info["status"] == "completed"
        runs = c.get(f"/sessions/{sid}/runs").json()
    rows = runs["runs"] if isinstance(runs, dict) else runs
    statuses = sorted(r["status"] for r in rows)
    assert statuses == ["error", "success"], rows  # A's run closed by the repair
