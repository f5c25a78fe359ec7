"""A run executing on replica A, streamed and joined from replica B (two real server
processes on one Postgres database): B sees A's events, in A's order, with A's ids, and the
run's result; a run nobody follows elsewhere writes no row to the run-stream table."""

from __future__ import annotations

import contextlib
import sqlite3
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from support.server import ServerProcess, follow_events, sse_events
from support.stream_graphs import STEPS, TOKENS
from support.stream_replicas import start_replicas

pytestmark = pytest.mark.slow

MODES = ["values", "updates", "custom"]


@pytest.fixture(params=["postgres", "sqlite"])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """One database for both replicas: Postgres, or one SQLite file two processes open."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def replicas(tmp_path: Path, backend_url: str) -> Iterator[list[ServerProcess]]:
    servers = start_replicas(tmp_path, backend_url, 2)
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


def _chunk_rows(url: str, run_id: str | None = None) -> int:
    """Rows of the run-stream table (of ``run_id``), read straight from the database."""
    where, args = ("", ()) if run_id is None else (" WHERE run_id = ?", (run_id,))
    if url.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as db:
            if not db.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'run_stream_chunks'"
            ).fetchone():
                return 0
            row = db.execute("SELECT count(*) FROM run_stream_chunks" + where, args).fetchone()
    else:
        with psycopg.connect(url) as conn:
            exists = conn.execute("SELECT to_regclass('run_stream_chunks')").fetchone()
            if exists is None or exists[0] is None:
                return 0
            sql = "SELECT count(*) FROM run_stream_chunks" + where.replace("?", "%s")
            row = conn.execute(sql.encode(), args).fetchone()
    assert row is not None
    return int(row[0])


Timed = list[tuple[float, dict[str, Any]]]


def _read(server: ServerProcess, method: str, path: str, got: Timed, **kwargs: Any) -> None:
    with server.client() as c, c.stream(method, path, **kwargs) as r:
        assert r.status_code == 200, r.read()
        for ev in sse_events(r.iter_lines()):
            got.append((time.monotonic(), ev))


def _thread(fn: Any, *args: Any, **kwargs: Any) -> threading.Thread:
    t = threading.Thread(target=fn, args=args, kwargs=kwargs, daemon=True)
    t.start()
    return t


def _start_streaming(a: ServerProcess, body: dict[str, Any]) -> tuple[str, str, Timed, Any]:
    with a.client() as c:
        thread_id = c.post("/threads", json={}).json()["thread_id"]
    on_a: Timed = []
    reader = _thread(_read, a, "POST", f"/threads/{thread_id}/runs/stream", on_a, json=body)
    deadline = time.monotonic() + 20
    while not on_a and time.monotonic() < deadline:
        time.sleep(0.01)
    assert on_a, "no metadata event from A"
    first = on_a[0][1]
    assert first["event"] == "metadata"
    return thread_id, first["data"]["run_id"], on_a, reader


def test_a_run_on_a_streamed_and_joined_from_b(
    replicas: list[ServerProcess], backend_url: str
) -> None:
    a, b = replicas
    body = {
        "assistant_id": "ticker",
        "input": {"text": "hi", "pause": 0.15},  # 2.25 s: B joins well before the end
        "stream_mode": MODES,
        "stream_resumable": True,
    }
    thread_id, run_id, on_a, reader = _start_streaming(a, body)
    url = f"/threads/{thread_id}/runs/{run_id}"

    # B knows the run from storage: running
    with b.client() as c:
        assert c.get(url).json()["status"] == "running"
    all_b: Timed = []
    from_now_b: Timed = []
    joined: dict[str, Any] = {}

    def join() -> None:
        with b.client() as c:
            r = c.get(url + "/join")
            joined["status"], joined["body"] = r.status_code, r.json()

    threads = [
        _thread(_read, b, "GET", url + "/stream", all_b, headers={"Last-Event-ID": "-1"}),
        _thread(_read, b, "GET", url + "/stream", from_now_b),
        _thread(join),
    ]
    reader.join(30)
    for t in threads:
        t.join(30)
        assert not t.is_alive()

    events_a = [ev for _, ev in on_a]
    events_b = [ev for _, ev in all_b]
    # the same events, in the same order, with the same ids
    assert len(events_a) > STEPS * TOKENS
    assert events_b == events_a
    assert [e["data"]["token"] for e in events_b if e["event"] == "custom"] == [
        f"s{n}t{i}" for n in range(STEPS) for i in range(TOKENS)
    ]
    # from now: a tail of A's events, to the end
    tail = [ev for _, ev in from_now_b]
    assert tail and tail == events_a[len(events_a) - len(tail) :]
    # the join: the run's final values, as A answers them
    final = [e for e in events_a if e["event"] == "values"][-1]["data"]
    assert joined["status"] == 200
    assert joined["body"] == final
    assert len(final["tokens"]) == STEPS * TOKENS

    # latency A → B of the events B followed live
    arrived_a = {ev["id"]: t for t, ev in on_a}
    lags = [(t - arrived_a[ev["id"]]) * 1000 for t, ev in from_now_b if ev["id"] in arrived_a]
    assert lags
    lags.sort()
    p95 = lags[min(len(lags) - 1, int(len(lags) * 0.95))]
    print(
        f"\nA->B chunk latency: median {statistics.median(lags):.1f} ms, p95 {p95:.1f} ms, n={len(lags)}"
    )

    # after the end: B answers the result and the status
    with b.client() as c:
        assert c.get(url).json()["status"] == "success"
        r = c.get(url + "/join")
        assert r.status_code == 200 and r.json() == final
    assert _chunk_rows(backend_url, run_id) > 0


def test_a_run_followed_on_its_own_replica_writes_no_rows(
    replicas: list[ServerProcess], backend_url: str
) -> None:
    a, _ = replicas
    body = {"assistant_id": "ticker", "input": {"text": "x"}, "stream_mode": MODES}
    thread_id, run_id, on_a, reader = _start_streaming(a, body)
    url = f"/threads/{thread_id}/runs/{run_id}"
    joined: Timed = []
    _read(a, "GET", url + "/stream", joined)
    reader.join(30)
    with a.client() as c:
        assert c.get(url + "/join").status_code == 200
    assert on_a[-1][1]["event"] == "values"
    assert joined and joined[-1][1] == on_a[-1][1]
    assert _chunk_rows(backend_url) == 0


def test_a_session_log_followed_on_b_shows_the_runs_of_a(
    replicas: list[ServerProcess],
) -> None:
    """``/sessions/{id}/events?follow=true`` on B tails the turns A executes (the log is
    in the database; B's watcher notices other processes' writes)."""
    a, b = replicas
    turn = {"input": {"texts": ["one"], "pause": 0}}
    with a.client() as c:
        assert c.post("/sessions/tail-1/invoke", json=turn).status_code == 200
    got: list[dict[str, Any]] = []
    ready = threading.Event()
    follower = follow_events(b, None, "tail-1", got, ready)  # type: ignore[arg-type]
    assert ready.wait(10)
    seen = len(got)
    with a.client() as c:
        r = c.post("/sessions/tail-1/invoke", json={"input": {"texts": ["two"], "pause": 0}})
        assert r.status_code == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(
        e["event"] == "run_completed" for e in got[seen:]
    ):
        time.sleep(0.05)
    kinds = [e["event"] for e in got[seen:]]
    assert "run_started" in kinds and "run_completed" in kinds, kinds
    with a.client() as c:
        assert c.delete("/sessions/tail-1").status_code in (200, 204)
    follower.join(10)


def test_a_run_on_a_cancelled_through_b(replicas: list[ServerProcess]) -> None:
    """``POST .../cancel`` on B stops a run executing on A: A's run ends ``interrupted``
    with its finished steps kept, and B's 200 comes once the run's end is recorded."""
    a, b = replicas
    body = {"assistant_id": "ticker", "input": {"text": "hi", "pause": 0.3}, "stream_mode": MODES}
    thread_id, run_id, on_a, reader = _start_streaming(a, body)
    url = f"/threads/{thread_id}/runs/{run_id}"
    deadline = time.monotonic() + 20
    while not any(ev["event"] == "custom" for _, ev in on_a) and time.monotonic() < deadline:
        time.sleep(0.02)
    asked = time.monotonic()
    with b.client() as c:
        r = c.post(url + "/cancel", params={"wait": "true"})
        assert r.status_code == 200, r.text
    took = time.monotonic() - asked
    reader.join(30)
    assert not reader.is_alive()
    tokens = [ev for _, ev in on_a if ev["event"] == "custom"]
    assert len(tokens) < STEPS * TOKENS  # stopped before its end (4.5 s of tokens)
    with a.client() as c:
        assert c.get(url).json()["status"] in ("interrupted", "error")
    with b.client() as c:
        assert c.get(url).json()["status"] in ("interrupted", "error")
        # a second cancel: the run has ended, nothing to cancel anywhere
        assert c.post(url + "/cancel").status_code == 404
    print(f"\ncancel through B: {took * 1000:.0f} ms until the run's end was recorded")
