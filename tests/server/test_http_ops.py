"""Operations under real users: cheap /metrics (optionally authenticated), an unwritable
database answering 503 with readiness down, failed runs keeping their traceback (issue 10,
items 8, 9 and 10)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import httpx

from graph_sessions import GraphSessionManager
from graph_sessions.server import ServerSettings, create_app

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from graphs import chat_graph  # noqa: E402


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
    from graph_sessions.server.__main__ import settings_from

    s = settings_from({"metrics_auth": True, "metrics_cache_seconds": 2}, {})
    assert s.metrics_auth is True and s.metrics_cache_seconds == 2

    from graph_sessions.graphs.config import load_config

    config = tmp_path / "langgraph.json"
    config.write_text(
        '{"graphs": {}, "graph_sessions": {"server": '
        '{"metrics_auth": true, "metrics_cache_seconds": 7}}}'
    )
    cfg = load_config(str(config))
    assert cfg.server == {"metrics_auth": True, "metrics_cache_seconds": 7}
