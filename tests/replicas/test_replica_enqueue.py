"""Proof: ``enqueue`` keeps FIFO order per session across 3 replicas (queue tickets,
``core/queue_tickets.py``): 30 runs sent one after the other to the replicas in turn, each
sent once the one before holds its ticket, run in that order."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from support.replicas import Replicas

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

RUNS = 30


@pytest.fixture
def replicas(tmp_path: Path, postgres_url: str) -> Iterator[Replicas]:
    group = Replicas(tmp_path, postgres_url, n=3, lease_ttl=3.0).start()
    try:
        yield group
    finally:
        group.stop()


def tickets(url: str, sid: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM run_tickets WHERE session_id = %s", (sid,))
        return int(row.fetchone()[0])  # type: ignore[index]


def post(
    url: str, sid: str, body: dict[str, Any], out: dict[str, int], key: str
) -> threading.Thread:
    def go() -> None:
        with httpx.Client(base_url=url, timeout=300) as c:
            out[key] = c.post(f"/sessions/{sid}/invoke", json=body).status_code

    t = threading.Thread(target=go, daemon=True)
    t.start()
    return t


def test_enqueue_runs_in_the_order_sent_across_replicas(
    replicas: Replicas, postgres_url: str
) -> None:
    sid = "fifo"
    codes: dict[str, int] = {}
    first = {"input": {"user_input": "first", "n": 1, "delay": 20.0}}
    threads = [post(replicas[0].url, sid, first, codes, "first")]
    with httpx.Client(base_url=replicas[1].url, timeout=30) as probe:
        deadline = time.monotonic() + 30
        while probe.get(f"/sessions/{sid}").json().get("status") != "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)
    began = time.monotonic()
    for k in range(RUNS):
        body = {"input": {"user_input": f"e{k}", "n": 1, "delay": 0.0}, "multitask": "enqueue"}
        threads.append(post(replicas[k % 3].url, sid, body, codes, f"e{k}"))
        deadline = time.monotonic() + 10
        while tickets(postgres_url, sid) < k + 1:  # acknowledged: it holds its ticket
            assert time.monotonic() < deadline, f"run e{k} took no ticket"
            time.sleep(0.01)
    assert time.monotonic() - began < 20, "the first run ended before all were queued"
    for t in threads:
        t.join(300)
    assert codes == {"first": 200, **{f"e{k}": 200 for k in range(RUNS)}}
    with httpx.Client(base_url=replicas[2].url, timeout=30) as c:
        steps = c.get(f"/sessions/{sid}/state").json()["values"]["steps"]
    assert steps == ["first:0"] + [f"e{k}:0" for k in range(RUNS)]
    assert tickets(postgres_url, sid) == 0
