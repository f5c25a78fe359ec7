"""The server's shared surface, in process: the owned-session dependency, the one
InvokeResult model, and the status of every typed error (a client's fault is never a 500)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from support.graphs import chat_graph

import graph_sessions.errors as errors_module
from graph_sessions import GraphSessionManager
from graph_sessions.errors import ConfigError, GraphSessionError
from graph_sessions.server import ServerSettings, create_app
from graph_sessions.server.errors import status_for

KEYS = "ka:alice,kb:bob"
ALICE = {"Authorization": "Bearer ka"}
BOB = {"Authorization": "Bearer kb"}


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[FastAPI]:
    manager = GraphSessionManager(graph=chat_graph(), backend=f"sqlite:///{tmp_path / 's.db'}")
    async with manager:
        yield create_app(manager, ServerSettings(api_keys=KEYS))


async def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_another_owners_session_is_404_on_every_session_route(app: FastAPI) -> None:
    async with await _client(app) as c:
        r = await c.post("/sessions/s1/invoke", json={"input": {"user_input": "hi"}}, headers=ALICE)
        assert r.status_code == 200
        head = (await c.get("/sessions/s1/state", headers=ALICE)).json()["checkpoint_id"]
        calls = [
            ("GET", "/sessions/s1", None),
            ("PATCH", "/sessions/s1", {"metadata": {"x": 1}}),
            ("POST", "/sessions/s1/suspend", {}),
            ("GET", "/sessions/s1/state", None),
            ("POST", "/sessions/s1/state", {"values": {"user_input": "x"}}),
            ("GET", "/sessions/s1/checkpoints", None),
            ("POST", "/sessions/s1/fork", {"checkpoint_id": head}),
            ("GET", "/sessions/s1/runs", None),
            ("GET", "/sessions/s1/messages", None),
            ("POST", "/sessions/s1/messages", {"messages": [{"role": "user", "content": "x"}]}),
            ("DELETE", "/sessions/s1/messages", None),
            ("GET", "/sessions/s1/events", None),
            ("POST", "/sessions/s1/resume", {"value": "x"}),
        ]
        for method, path, body in calls:
            r = await c.request(method, path, json=body, headers=BOB)
            assert r.status_code == 404, (method, path, r.text)
            assert r.json()["error"] == "session_not_found"
            ok = await c.request(method, path, json=body, headers=ALICE)
            assert ok.status_code < 500, (method, path, ok.text)


async def test_invoke_result_is_one_model_in_the_openapi_document(app: FastAPI) -> None:
    doc = app.openapi()
    schemas = doc["components"]["schemas"]
    assert "InvokeResultOut" not in schemas
    fields = set(schemas["InvokeResult"]["properties"])
    assert fields == {
        "status",
        "state",
        "output",
        "resume_key",
        "interrupts",
        "run_id",
        "checkpoint_id",
        "session_id",
    }
    invoke = doc["paths"]["/sessions/{session_id}/invoke"]["post"]["responses"]["200"]
    assert invoke["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/InvokeResult"
    }
    result = schemas["ResumeOut"]["properties"]["result"]
    assert {"$ref": "#/components/schemas/InvokeResult"} in result["anyOf"]
    async with await _client(app) as c:
        r = await c.post("/sessions/s2/invoke", json={"input": {"user_input": "hi"}}, headers=ALICE)
    assert r.status_code == 200 and set(r.json()) == fields


#: typed errors that are the server's own fault (or its storage's): 5xx on purpose
SERVER_SIDE = {
    "GraphSessionError",
    "GraphLoadError",
    "ManagerClosed",
    "BackendError",
    "EncryptionError",  # the server's key does not open its own data
}


def test_every_client_caused_typed_error_is_a_4xx() -> None:
    kinds = [
        obj
        for obj in vars(errors_module).values()
        if isinstance(obj, type) and issubclass(obj, GraphSessionError)
    ]
    assert ConfigError in kinds
    for kind in kinds:
        status = status_for(kind.__new__(kind))
        if kind.__name__ in SERVER_SIDE:
            assert status >= 500, kind
        else:
            assert 400 <= status < 500, (kind, status)


async def test_a_config_error_raised_in_a_request_answers_400(app: FastAPI) -> None:
    """No route reads the configuration today (it is read at start-up); one that made it be
    read from a request's value would answer 400 ``invalid_config``, never 500."""

    @app.get("/probe-config")
    async def probe() -> None:
        raise ConfigError("langgraph.json: graphs.x: empty graph reference")

    async with await _client(app) as c:
        r = await c.get("/probe-config", headers=ALICE)
    assert r.status_code == 400
    assert r.json() == {
        "error": "invalid_config",
        "message": "langgraph.json: graphs.x: empty graph reference",
        "session_id": None,
    }
