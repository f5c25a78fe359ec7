"""In-process pieces: settings and key parsing, and create_app embedded in another app."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from support.graphs import chat_graph

from graph_sessions import GraphSessionManager
from graph_sessions.errors import InvalidInput
from graph_sessions.server import ServerSettings, create_app, parse_api_keys
from graph_sessions.server.runner import is_loopback
from graph_sessions.server.settings import hash_key


def test_api_keys_are_parsed_and_hashed() -> None:
    keys = parse_api_keys(" k1:alice , k2:bob:admin,")
    assert [(k.owner, k.role) for k in keys] == [("alice", "user"), ("bob", "admin")]
    assert keys[0].key == hash_key("k1") and "k1" not in repr(keys[0])
    assert keys[0].matches("k1") and not keys[0].matches("k2")
    pre = parse_api_keys(f"{hash_key('secret')}:carol")
    assert pre[0].matches("secret") and pre[0].owner == "carol"
    with pytest.raises(InvalidInput):
        parse_api_keys("justakey")
    with pytest.raises(InvalidInput):
        parse_api_keys("k:o:superuser")


def test_settings_from_env_and_overrides() -> None:
    env = {
        "GRAPH_SESSIONS_API_KEYS": "k1:alice",
        "GRAPH_SESSIONS_PORT": "9000",
        "GRAPH_SESSIONS_RUN_TIMEOUT": "2.5",
        "GRAPH_SESSIONS_REQUIRE_AUTH": "true",
    }
    s = ServerSettings.from_env(env, port=None, host="0.0.0.0")
    assert s.port == 9000 and s.host == "0.0.0.0" and s.run_timeout == 2.5
    assert s.auth_enabled and s.find_key("k1") is not None and s.find_key("k2") is None
    assert not ServerSettings().auth_enabled
    assert ServerSettings(jwt_secret="x" * 32).auth_enabled
    with pytest.raises(ValueError):
        ServerSettings.from_env({"GRAPH_SESSIONS_PORT": "nope"})


def test_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.com")


async def test_create_app_embedded(tmp_path: Path) -> None:
    """The app mounted under a prefix of another app, the manager opened by the caller."""
    from fastapi import FastAPI

    manager = GraphSessionManager(graph=chat_graph(), backend=f"sqlite:///{tmp_path / 'e.db'}")
    async with manager:
        outer = FastAPI()
        outer.mount("/gs", create_app(manager, ServerSettings(api_keys="k:alice")))
        transport = httpx.ASGITransport(app=outer)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            assert (await c.get("/gs/sessions")).status_code == 401
            h = {"Authorization": "Bearer k"}
            r = await c.post(
                "/gs/sessions/e1/invoke", json={"input": {"user_input": "hi"}}, headers=h
            )
            assert r.status_code == 200 and r.json()["state"]["response"] == "turn 1: hi"
        session = await manager.get("e1", owner="alice")
        assert session is not None and session.info.run_count == 1
    assert not manager.is_open


async def test_core_additions_set_ttl_is_busy_ping(tmp_path: Path) -> None:
    manager = GraphSessionManager(graph=chat_graph(), backend=f"sqlite:///{tmp_path / 'c.db'}")
    assert not await manager.ping()  # closed
    async with manager:
        assert await manager.ping()
        s = await manager.create("t1", owner="alice")
        info = await manager.set_ttl("t1", 60, owner="alice")
        assert info.ttl == 60 and info.expires_at is not None
        info = await manager.set_ttl("t1", None)
        assert info.ttl is None and info.expires_at is None
        with pytest.raises(InvalidInput):
            await manager.set_ttl("t1", -5)
        from graph_sessions.errors import SessionNotFound

        with pytest.raises(SessionNotFound):
            await manager.set_ttl("t1", 60, owner="bob")
        assert not manager.is_busy(s.session_id)
        events = [e.type for e in await s.events()]
        assert events.count("metadata_updated") == 2


async def test_langchain_messages_in_state_are_json(tmp_path: Path) -> None:
    """Graph state holding LangChain message objects answers as JSON, never a 500."""
    from langchain_core.messages import AIMessage
    from langgraph.graph import END, START, MessagesState, StateGraph

    def reply(state: MessagesState) -> dict:
        return {"messages": [AIMessage(content=f"echo {state['messages'][-1].content}")]}

    b = StateGraph(MessagesState)
    b.add_node("reply", reply)
    b.add_edge(START, "reply")
    b.add_edge("reply", END)
    manager = GraphSessionManager(graph=b, backend=f"sqlite:///{tmp_path / 'm.db'}")
    async with manager:
        app = create_app(manager, ServerSettings())
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            body = {"input": {"messages": [{"role": "user", "content": "hi"}]}}
            r = await c.post("/sessions/m1/invoke", json=body)
            assert r.status_code == 200, r.text
            messages = r.json()["state"]["messages"]
            assert [m["type"] for m in messages] == ["human", "ai"]
            assert messages[1]["content"] == "echo hi"
            r = await c.get("/sessions/m1/checkpoints", params={"include_values": True})
            assert r.status_code == 200 and r.json()[0]["values"]["messages"][1]["type"] == "ai"
