"""The server as a process: restarts keep sessions, SIGTERM drains runs and leaves nothing
running, the console entry `graph-sessions serve`, the unauthenticated-bind notice."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from support.server import (
    GRAPHS,
    PY,
    ROOT,
    ServerProcess,
    base_env,
    free_port,
    sse_events,
    start_module_server,
)

pytestmark = pytest.mark.slow

CLEAN = (0, -signal.SIGTERM)  # uvicorn re-raises the signal after a graceful shutdown


def stopped_cleanly(srv: ServerProcess, code: int | None) -> bool:
    return code in CLEAN and "Application shutdown complete" in srv.logs()


def statuses(db: Path) -> dict[str, str]:
    """session id -> status, read straight from the file (no manager: no repair on open)."""
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT session_id, status FROM sessions").fetchall())


def run_statuses(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT status FROM runs").fetchall()]


def test_restart_keeps_sessions(tmp_path: Path) -> None:
    port = free_port()
    srv = start_module_server(tmp_path, port=port)
    with srv.client() as c:
        c.post("/sessions/keep/invoke", json={"input": {"user_input": "ask"}})
        c.post("/sessions", json={"session_id": "meta", "metadata": {"k": "v"}})
    assert stopped_cleanly(srv, srv.stop())
    srv = start_module_server(tmp_path, port=port)
    try:
        with srv.client() as c:
            info = c.get("/sessions/keep").json()
            assert info["status"] == "interrupted"
            assert c.get("/sessions/meta").json()["metadata"] == {"k": "v"}
            r = c.post("/sessions/keep/invoke", json={"input": {"user_input": "yes"}}).json()
            assert r["status"] == "complete" and r["output"] == "yes"
    finally:
        srv.stop()


def test_sigterm_lets_runs_finish_and_leaves_nothing_running(tmp_path: Path) -> None:
    srv = start_module_server(tmp_path, env={"GRAPH_SESSIONS_SHUTDOWN_TIMEOUT": "10"})
    db = tmp_path / "sessions.db"
    results: dict[str, object] = {}
    started = threading.Barrier(4)

    def invoke(s: str) -> None:
        with srv.client() as c:
            started.wait()
            r = c.post(f"/sessions/{s}/invoke", json={"input": {"user_input": s, "delay": 1.5}})
            results[s] = r.status_code

    def stream(s: str) -> None:
        with srv.client() as c:
            body = {"input": {"user_input": s, "delay": 1.5}, "mode": "custom"}
            with c.stream("POST", f"/sessions/{s}/stream", json=body) as st:
                started.wait()
                results[s] = [e["event"] for e in sse_events(st.iter_lines())]

    def follow() -> None:  # a live tail must not hold the shutdown up
        with srv.client() as c:
            c.post("/sessions", json={"session_id": "tail"})
            with c.stream("GET", "/sessions/tail/events", params={"follow": "true"}) as st:
                results["tail"] = [e["event"] for e in sse_events(st.iter_lines())]

    threads = [
        threading.Thread(target=invoke, args=("inv1",)),
        threading.Thread(target=invoke, args=("inv2",)),
        threading.Thread(target=stream, args=("str1",)),
        threading.Thread(target=follow),
    ]
    for t in threads:
        t.start()
    started.wait()
    deadline = time.monotonic() + 10
    with srv.client() as c:  # wait until the three runs execute
        while time.monotonic() < deadline:
            running = [
                c.get(f"/sessions/{s}").json().get("status") for s in ("inv1", "inv2", "str1")
            ]
            if running == ["running"] * 3:
                break
            time.sleep(0.02)
    assert running == ["running"] * 3
    assert srv.proc is not None
    srv.proc.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    with pytest.raises(httpx.HTTPError):  # no new connections once shutting down
        httpx.get(srv.url + "/healthz", timeout=1)
    for t in threads:
        t.join(20)
    assert stopped_cleanly(srv, srv.proc.wait(20))
    assert results["inv1"] == 200 and results["inv2"] == 200
    assert results["str1"][-1] == "result"  # type: ignore[index]
    assert results["tail"] == ["created", "end"]
    st = statuses(db)
    assert st == {"inv1": "completed", "inv2": "completed", "str1": "completed", "tail": "created"}
    assert "running" not in run_statuses(db)
    assert '"shutting down' in srv.logs()


def test_sigterm_deadline_cancels_the_rest(tmp_path: Path) -> None:
    srv = start_module_server(tmp_path, env={"GRAPH_SESSIONS_SHUTDOWN_TIMEOUT": "1"})
    db = tmp_path / "sessions.db"
    done = threading.Event()

    def stream() -> None:
        with srv.client() as c:
            c.post("/sessions/long/invoke", json={"input": {"user_input": "first"}})
            body = {"input": {"user_input": "x", "delay": 30}, "mode": "custom"}
            try:
                with c.stream("POST", "/sessions/long/stream", json=body) as st:
                    for ev in sse_events(st.iter_lines()):
                        if ev["event"] == "custom":
                            done.set()
            except httpx.HTTPError:
                pass

    t = threading.Thread(target=stream, daemon=True)
    t.start()
    assert done.wait(10)
    started = time.monotonic()
    assert stopped_cleanly(srv, srv.stop(timeout=20))
    assert time.monotonic() - started < 8
    assert statuses(db)["long"] != "running"
    assert sorted(run_statuses(db)) == ["cancelled", "success"]


def test_graph_sessions_serve_console_entry(tmp_path: Path) -> None:
    port = free_port()
    exe = Path(sys.executable).parent / "graph-sessions"
    cmd = [str(exe)] if exe.exists() else [PY, "-m", "graph_sessions.cli.main"]
    args = [
        *cmd,
        "serve",
        f"{GRAPHS}:work",
        "--port",
        str(port),
        "--backend",
        f"sqlite:///{tmp_path / 'cli.db'}",
    ]
    srv = ServerProcess(args, base_env(), tmp_path, port).start()
    try:
        with srv.client() as c:
            assert c.get("/healthz").json() == {"status": "ok"}
            r = c.post("/sessions/cli/invoke", json={"input": {"user_input": "hi"}})
            assert r.status_code == 200 and r.json()["state"]["response"] == "echo:hi"
    finally:
        assert stopped_cleanly(srv, srv.stop())
    assert statuses(tmp_path / "cli.db") == {"cli": "completed"}


def test_loud_notice_without_auth_off_loopback(tmp_path: Path) -> None:
    port = free_port()
    args = [
        PY,
        "-m",
        "graph_sessions.server",
        f"{GRAPHS}:work",
        "--host",
        "0.0.0.0",
        "--port",
        str(port),
        "--backend",
        f"sqlite:///{tmp_path / 'n.db'}",
    ]
    srv = ServerProcess(args, base_env(), tmp_path, port).start()
    try:
        assert "WITHOUT AUTHENTICATION" in srv.logs()
    finally:
        srv.stop()
    srv2 = ServerProcess(
        [*args[:-2], "--backend", f"sqlite:///{tmp_path / 'n2.db'}"],
        base_env(GRAPH_SESSIONS_API_KEYS="k:o"),
        tmp_path / "b",
        port,
    )
    (tmp_path / "b").mkdir()
    srv2.start()
    try:
        assert "WITHOUT AUTHENTICATION" not in srv2.logs()
        with srv2.client() as c:
            assert c.get("/sessions").status_code == 401
    finally:
        srv2.stop()


def test_module_entry_needs_a_graph(tmp_path: Path) -> None:
    out = subprocess.run(
        [PY, "-m", "graph_sessions.server", "--port", "1"],
        cwd=tmp_path,
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "graph" in out.stderr
    assert ROOT.exists()
