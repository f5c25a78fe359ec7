"""Operations under real users: cheap /metrics (optionally authenticated), an unwritable
database answering 503 with readiness down, failed runs keeping their traceback (issue 10,
items 8, 9 and 10)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.graphs import chat_graph
from support.readonly import read_only
from support.server import ServerProcess, start_module_server

from graph_sessions import GraphSessionManager
from graph_sessions.errors import RunFailed
from graph_sessions.server import ServerSettings, create_app


class _CountingStats:
    """Counts the full-table session counts the app asks the backend for."""

    def __init__(self, manager: GraphSessionManager) -> None:
        self.calls = 0
        backend: Any = manager.backend
        original = backend.stats

        async def stats(now: Any) -> Any:
            self.calls += 1
            return await original(now)

        backend.stats = stats


async def test_metrics_count_sessions_at_most_once_per_period(tmp_path: Path) -> None:
    manager = GraphSessionManager(graph=chat_graph(), backend=f"sqlite:///{tmp_path / 'm.db'}")
    async with manager:
        await manager.create("a")
        counter = _CountingStats(manager)
        app = create_app(manager, ServerSettings(metrics_cache_seconds=3600))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            replies = await asyncio.gather(*(c.get("/metrics") for _ in range(50)))
            replies += [await c.get("/metrics") for _ in range(50)]
        assert all(r.status_code == 200 for r in replies)
        assert 'graph_sessions_sessions{status="created"} 1.0' in replies[-1].text
        assert counter.calls == 1


async def test_metrics_gauges_refresh_after_the_period(tmp_path: Path) -> None:
    manager = GraphSessionManager(graph=chat_graph(), backend=f"sqlite:///{tmp_path / 'm.db'}")
    async with manager:
        counter = _CountingStats(manager)
        app = create_app(manager, ServerSettings(metrics_cache_seconds=0))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            await c.get("/metrics")
            await manager.create("a")
            r = await c.get("/metrics")
        assert 'graph_sessions_sessions{status="created"} 1.0' in r.text
        assert counter.calls == 2


async def test_metrics_auth_setting(tmp_path: Path) -> None:
    manager = GraphSessionManager(graph=chat_graph(), backend=f"sqlite:///{tmp_path / 'm.db'}")
    async with manager:
        for metrics_auth, anonymous in ((False, 200), (True, 401)):
            settings = ServerSettings(api_keys="k1:alice,k2:root:admin", metrics_auth=metrics_auth)
            transport = httpx.ASGITransport(app=create_app(manager, settings))
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                assert (await c.get("/metrics")).status_code == anonymous
                r = await c.get("/metrics", headers={"X-Api-Key": "wrong"})
                assert r.status_code == (401 if metrics_auth else 200)
                r = await c.get("/metrics", headers={"X-Api-Key": "k1"})
                assert r.status_code == 200 and "graph_sessions_http_requests" in r.text
                r = await c.get("/metrics", headers={"Authorization": "Bearer k2"})
                assert r.status_code == 200


def test_metrics_settings_from_env_and_config(tmp_path: Path) -> None:
    env = {"GRAPH_SESSIONS_METRICS_AUTH": "true", "GRAPH_SESSIONS_METRICS_CACHE_SECONDS": "5"}
    s = ServerSettings.from_env(env)
    assert s.metrics_auth is True and s.metrics_cache_seconds == 5
    from graph_sessions.server.bootstrap import settings_from

    s = settings_from({"metrics_auth": True, "metrics_cache_seconds": 2}, {})
    assert s.metrics_auth is True and s.metrics_cache_seconds == 2

    from graph_sessions.config import load_config

    config = tmp_path / "langgraph.json"
    config.write_text(
        '{"graphs": {}, "graph_sessions": {"server": '
        '{"metrics_auth": true, "metrics_cache_seconds": 7}}}'
    )
    cfg = load_config(str(config))
    assert cfg.server == {"metrics_auth": True, "metrics_cache_seconds": 7}


def test_failed_run_keeps_its_traceback_in_the_event_and_the_server_log(
    server: ServerProcess, alice: httpx.Client
) -> None:
    s = f"tb-{uuid.uuid4().hex[:8]}"
    r = alice.post(f"/sessions/{s}/invoke", json={"input": {"user_input": "fail"}})
    assert r.status_code == 422 and r.json()["error"] == "run_failed"
    events = alice.get(f"/sessions/{s}/events").json()
    failed = [e for e in events if e["type"] == "run_failed"]
    assert len(failed) == 1
    trace = failed[0]["data"]["traceback"]
    assert failed[0]["data"]["error"] == "RuntimeError: boom"
    assert trace.startswith("Traceback") and "\nRuntimeError: boom\n" in trace
    assert "server_graphs.py" in trace and ", in work" in trace  # the node's own frame
    assert len(trace) <= 8193
    # The server's log (its stderr) has the traceback too, with the run and session named.
    deadline = time.monotonic() + 10
    record: dict[str, Any] = {}
    while time.monotonic() < deadline and not record:
        for line in server.logs().splitlines():
            if s in line and '"graph_sessions.runs"' in line:
                record = json.loads(line)
        time.sleep(0.05)
    assert record["level"] == "error"
    assert "RuntimeError: boom" in record["exc"] and ", in work" in record["exc"]
    assert failed[0]["run_id"] in record["msg"]


async def test_traceback_is_bounded(tmp_path: Path) -> None:
    from langgraph.graph import END, START, StateGraph
    from typing_extensions import TypedDict

    class S(TypedDict, total=False):
        x: int

    def deep(state: S) -> dict[str, Any]:
        raise KeyError("q" * 50_000)

    b = StateGraph(S)
    b.add_node("deep", deep)
    b.add_edge(START, "deep")
    b.add_edge("deep", END)
    manager = GraphSessionManager(graph=b, backend=f"sqlite:///{tmp_path / 'm.db'}")
    async with manager:
        session = await manager.create("a")
        with pytest.raises(RunFailed):
            await session.invoke({"x": 1})
        failed = [e for e in await session.events() if e.type == "run_failed"]
        trace = failed[0].data["traceback"]
        assert 8000 <= len(trace) <= 8193  # the end is kept: where it raised
        assert "qqqq" in trace and "During task with name 'deep'" in trace


@pytest.mark.slow
def test_read_only_database_answers_503_and_readiness_is_down(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    first = start_module_server(folder)
    try:
        with first.client() as c:
            r = c.post("/sessions/kept/invoke", json={"input": {"user_input": "hi"}})
            assert r.status_code == 200, r.text
            assert c.get("/readyz").status_code == 200
    finally:
        first.stop()
    db = folder / "sessions.db"
    assert not Path(str(db) + "-wal").exists()
    with read_only(db):
        server = start_module_server(folder)
        try:
            with server.client() as c:
                ready = c.get("/readyz")
                assert ready.status_code == 503
                assert ready.json()["storage"] is False
                assert "readonly" in ready.json()["detail"]
                assert c.get("/healthz").status_code == 200
                # reads still work
                assert c.get("/sessions/kept").json()["status"] == "completed"
                history = c.get("/sessions/kept/checkpoints").json()
                checkpoint = history[-1]["checkpoint_id"]
                for r in (
                    c.post("/sessions/kept/invoke", json={"input": {"user_input": "again"}}),
                    c.post("/sessions/new/invoke", json={"input": {"user_input": "x"}}),
                    c.post("/sessions", json={"session_id": "other"}),
                    c.patch("/sessions/kept", json={"metadata": {"a": 1}}),
                    c.delete("/sessions/kept"),
                    c.post(
                        "/sessions/kept/state",
                        json={"values": {"response": "x"}, "as_node": "work"},
                    ),
                    c.post("/sessions/kept/fork", json={"checkpoint_id": checkpoint}),
                    c.post(
                        "/sessions/kept/messages",
                        json={"messages": [{"role": "user", "content": "m"}]},
                    ),
                ):
                    assert r.status_code == 503, r.text
                    body = r.json()
                    assert body["error"] == "backend_error"
                    assert "readonly database" in body["message"]
        finally:
            server.stop()
        assert "Traceback" not in server.logs()
