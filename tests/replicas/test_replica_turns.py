"""Proof: 3 replicas of ``graph-sessions serve`` on one Postgres database, no sticky
sessions. Many sessions × 3 turns through random replicas by concurrent clients lose and
duplicate nothing; ``reject`` answers 409 on every replica but the one running the run."""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.replicas import Replicas

from graph_sessions import GraphSessionManager

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

#: the issue asks 1,000 sessions; 300 keep the test near a minute on a shared 2-core
#: machine (GS_REPLICA_SESSIONS=1000 runs the full count: docs/deployment.md has its numbers)
SESSIONS = int(os.environ.get("GS_REPLICA_SESSIONS", "300"))
TURNS = 3
CONCURRENCY = 16  # clients at once, as the HTTP load benchmark


@pytest.fixture
def replicas(tmp_path: Path, postgres_url: str) -> Iterator[Replicas]:
    group = Replicas(tmp_path, postgres_url, n=3, lease_ttl=3.0).start()
    try:
        yield group
    finally:
        group.stop()


async def _turns(group: Replicas, seed: int) -> tuple[float, list[str]]:
    rng = random.Random(seed)
    clients = [httpx.AsyncClient(base_url=s.url, timeout=60) for s in group.servers]
    gate = asyncio.Semaphore(CONCURRENCY)
    problems: list[str] = []

    async def session(i: int) -> None:
        sid = f"t{i:05d}"
        async with gate:
            for turn in range(TURNS):
                client = rng.choice(clients)
                r = await client.post(
                    f"/sessions/{sid}/invoke",
                    json={"input": {"user_input": f"{sid}/{turn}"}, "graph_id": "turns"},
                )
                if r.status_code != 200:
                    problems.append(f"{sid} turn {turn}: {r.status_code} {r.text[:200]}")
                    return
                got = r.json()["state"]["turns"]
                if got != [f"{sid}/{k}" for k in range(turn + 1)]:
                    problems.append(f"{sid} turn {turn}: state {got}")

    began = time.monotonic()
    try:
        await asyncio.gather(*(session(i) for i in range(SESSIONS)))
    finally:
        for c in clients:
            await c.aclose()
    return time.monotonic() - began, problems


async def test_many_sessions_three_turns_through_random_replicas(
    replicas: Replicas, postgres_url: str
) -> None:
    took, problems = await _turns(replicas, seed=14)
    assert problems == []
    print(
        f"\n{SESSIONS} sessions x {TURNS} turns on 3 replicas: {took:.1f} s, "
        f"{SESSIONS * TURNS / took:.0f} invokes/s"
    )
    # Read back from the database (no replica in between): every session's state and its
    # history hold each turn once, in order; nothing is left running.
    async with GraphSessionManager(backend=postgres_url, sweep_interval=None) as m:
        infos = {}
        cursor = None
        while True:
            page = await m.list(limit=100, cursor=cursor)
            infos.update({i.session_id: i for i in page.sessions})
            cursor = page.next_cursor
            if cursor is None:
                break
        assert len(infos) == SESSIONS
        assert {str(i.status) for i in infos.values()} == {"completed"}
        assert {i.run_count for i in infos.values()} == {TURNS}
        for sid in sorted(infos)[:: max(1, SESSIONS // 100)]:  # history: a sample of 100
            runs = await m.backend.list_runs(sid, limit=10)
            assert sorted(str(r.status) for r in runs) == ["success"] * TURNS
            events = await m.backend.list_events(sid, limit=100)
            completed = [e for e in events if str(e.type) == "run_completed"]
            assert len(completed) == TURNS


def test_reject_answers_409_on_every_other_replica_while_a_run_holds_the_session(
    replicas: Replicas,
) -> None:
    a, b, c = replicas.servers
    for trial in range(3):
        sid = f"busy{trial}"
        done: dict[str, Any] = {}

        def long_run(sid: str = sid, done: dict[str, Any] = done) -> None:
            with httpx.Client(base_url=a.url, timeout=60) as client:
                # long enough for any machine: the test ends it below
                body = {"input": {"user_input": "x", "n": 240, "delay": 0.25}}
                r = client.post(f"/sessions/{sid}/invoke", json=body)
                done["status"] = r.status_code
                done["error"] = r.json().get("error") if r.status_code != 200 else None

        t = threading.Thread(target=long_run)
        t.start()
        with httpx.Client(base_url=b.url, timeout=30) as probe:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                r = probe.get(f"/sessions/{sid}")
                if r.status_code == 200 and r.json()["status"] == "running":
                    break
                time.sleep(0.02)
            else:
                pytest.fail("the run on A never showed running")
        answers = []
        for other in (b, c) * 5:
            with httpx.Client(base_url=other.url, timeout=30) as client:
                r = client.post(
                    f"/sessions/{sid}/invoke",
                    json={"input": {"user_input": "y"}, "multitask": "reject"},
                )
                answers.append(r.status_code)
        # the run still held the session after every probe: an interrupting invoke from a
        # third replica cancels it (so the probes above all met a running run)
        with httpx.Client(base_url=c.url, timeout=60) as client:
            r = client.post(
                f"/sessions/{sid}/invoke",
                json={"input": {"user_input": "z", "n": 0}, "multitask": "interrupt"},
            )
        t.join(60)
        assert answers == [409] * 10
        assert r.status_code == 200, r.text
        assert (done["status"], done["error"]) == (409, "run_cancelled")
