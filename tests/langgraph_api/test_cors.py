"""CORS with raw httpx (Origin header, OPTIONS preflight) against real server processes: the
default (LangGraph's: any origin, pagination headers exposed), ``http.cors`` from
langgraph.json, and the ``GRAPH_SESSIONS_CORS`` variable."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.lgapi import GRAPH_IDS, LG_GRAPHS
from support.server import PY, ServerProcess, base_env, free_port

pytestmark = pytest.mark.slow

ORIGIN = "http://ui.example.com"
EXPOSED = "x-pagination-total, x-pagination-next, content-location"


def start(folder: Path, env: dict[str, str] | None = None, **top: Any) -> ServerProcess:
    """A server on the reference graphs with ``top`` as extra top-level langgraph.json keys."""
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "graphs": {g: f"{LG_GRAPHS}:{g}" for g in GRAPH_IDS},
        "graph_sessions": {"backend": f"sqlite:///{folder / 'sessions.db'}"},
        **top,
    }
    path = folder / "langgraph.json"
    path.write_text(json.dumps(config))
    port = free_port()
    args = [PY, "-m", "graph_sessions.server", "--config", str(path), "--port", str(port)]
    return ServerProcess(args, base_env(**(env or {})), folder, port).start()


def preflight(url: str, origin: str = ORIGIN, method: str = "POST") -> httpx.Response:
    return httpx.options(
        url + "/threads/search",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "x-api-key, content-type",
        },
    )


def test_default_allows_any_origin_like_langgraph(lg_server: ServerProcess) -> None:
    r = httpx.get(lg_server.url + "/ok", headers={"Origin": ORIGIN})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "*"
    assert r.headers["access-control-expose-headers"] == EXPOSED
    assert "access-control-allow-credentials" not in r.headers
    assert "Origin" in r.headers["vary"]

    p = preflight(lg_server.url)
    assert p.status_code == 200 and p.text == "OK"
    assert p.headers["access-control-allow-origin"] == "*"
    methods = {m.strip() for m in p.headers["access-control-allow-methods"].split(",")}
    assert {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} <= methods
    assert p.headers["access-control-allow-headers"] == "x-api-key, content-type"
    assert p.headers["access-control-max-age"] == "600"


def test_default_headers_on_errors_and_our_routes(lg_server: ServerProcess) -> None:
    missing = httpx.get(lg_server.url + "/threads/nope", headers={"Origin": ORIGIN})
    assert missing.status_code in (404, 422)
    assert missing.headers["access-control-allow-origin"] == "*"
    ours = httpx.get(lg_server.url + "/healthz", headers={"Origin": ORIGIN})
    assert ours.headers["access-control-allow-origin"] == "*"
    same_origin = httpx.get(lg_server.url + "/ok")
    assert "access-control-allow-origin" not in same_origin.headers


@pytest.fixture(scope="module")
def configured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """http.cors as a LangGraph project writes it."""
    cors = {
        "allow_origins": [ORIGIN],
        "allow_methods": ["GET", "POST"],
        "allow_headers": ["x-api-key", "content-type"],
        "expose_headers": ["x-pagination-total"],
        "max_age": 120,
    }
    srv = start(tmp_path_factory.mktemp("cors-file"), http={"cors": cors})
    try:
        yield srv
    finally:
        srv.stop()


def test_http_cors_from_langgraph_json(configured: ServerProcess) -> None:
    ok = httpx.get(configured.url + "/ok", headers={"Origin": ORIGIN})
    assert ok.headers["access-control-allow-origin"] == ORIGIN
    assert ok.headers["access-control-expose-headers"] == "x-pagination-total"
    # Origins are listed, so credentials are allowed (LangGraph's rule).
    assert ok.headers["access-control-allow-credentials"] == "true"

    other = httpx.get(configured.url + "/ok", headers={"Origin": "http://evil.example"})
    assert other.status_code == 200 and "access-control-allow-origin" not in other.headers

    p = preflight(configured.url)
    assert p.status_code == 200
    assert p.headers["access-control-allow-origin"] == ORIGIN
    assert p.headers["access-control-max-age"] == "120"
    assert {m.strip() for m in p.headers["access-control-allow-methods"].split(",")} == {
        "GET",
        "POST",
    }
    assert preflight(configured.url, origin="http://evil.example").status_code == 400
    assert preflight(configured.url, method="DELETE").status_code == 400


def test_environment_variable_sets_origins_and_turns_cors_off(tmp_path: Path) -> None:
    srv = start(
        tmp_path / "env", env={"GRAPH_SESSIONS_CORS": "https://a.example,https://b.example"}
    )
    try:
        a = httpx.get(srv.url + "/ok", headers={"Origin": "https://b.example"})
        assert a.headers["access-control-allow-origin"] == "https://b.example"
        assert a.headers["access-control-expose-headers"] == EXPOSED
        assert preflight(srv.url, origin="https://a.example").status_code == 200
        assert (
            "access-control-allow-origin"
            not in httpx.get(srv.url + "/ok", headers={"Origin": ORIGIN}).headers
        )
    finally:
        srv.stop()
    off = start(tmp_path / "off", env={"GRAPH_SESSIONS_CORS": "off"}, http={"cors": {}})
    try:
        r = httpx.get(off.url + "/ok", headers={"Origin": ORIGIN})
        assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    finally:
        off.stop()
