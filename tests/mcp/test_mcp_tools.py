"""The MCP surface in process (the SDK's ``Client`` on our ``Server``, a real SQLite file):
tool schemas and names, each session tool, owner scoping, errors as tool errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from langgraph.graph import START, MessagesState, StateGraph
from mcp import Client
from support.server_graphs import approval, work

from graph_sessions.core.manager import GraphSessionManager
from graph_sessions.mcp.caller import Caller
from graph_sessions.mcp.schemas import run_tool_name, run_tool_names, run_tool_schema
from graph_sessions.mcp.server import build_mcp_server


def chat_builder() -> StateGraph:
    def reply(state: MessagesState) -> dict[str, Any]:
        return {"messages": [{"role": "ai", "content": f"got {len(state['messages'])}"}]}

    b = StateGraph(MessagesState)
    b.add_node("reply", reply)
    b.add_edge(START, "reply")
    return b


@pytest.fixture
async def manager(tmp_path: Path) -> AsyncIterator[GraphSessionManager]:
    m = GraphSessionManager(
        graph={"work": work, "approval": approval, "chat.v2": chat_builder()},
        backend=f"sqlite:///{tmp_path / 'sessions.db'}",
        output_key="response",
    )
    async with m:
        yield m


def data(result: Any) -> dict[str, Any]:
    assert result.structured_content is not None, result
    return dict(result.structured_content)


def test_tool_names_are_sanitized_and_unique() -> None:
    assert run_tool_name("chat.v2") == "run_chat_v2"
    assert run_tool_name("ünï cödé/x") == "run_n_c_d_x"
    assert run_tool_name("...") == "run_graph"
    assert len(run_tool_name("g" * 200)) == 64
    assert run_tool_names(["a.b", "a b", "a_b"]) == {
        "run_a_b": "a.b",
        "run_a_b_2": "a b",
        "run_a_b_3": "a_b",
    }


def test_message_schema_defs_are_lifted_to_the_root() -> None:
    schema = run_tool_schema(chat_builder().compile())
    assert "$defs" in schema and "$defs" not in schema["properties"]["input"]
    assert schema["required"] == ["input"]
    # the references resolve from the tool schema's root: a client can check an input
    good = {"input": {"messages": [{"type": "human", "content": "hi"}]}}
    jsonschema.validate(good, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"input": {"messages": "not a list"}}, schema)


async def test_tools_list_and_schemas(manager: GraphSessionManager) -> None:
    async with Client(build_mcp_server(manager)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == {
            "run_work",
            "run_approval",
            "run_chat_v2",
            "list_sessions",
            "get_session",
            "resume_session",
            "suspend_session",
            "delete_session",
        }
        work_input = tools["run_work"].input_schema["properties"]["input"]
        assert work_input["properties"]["delay"]["type"] == "number"
        assert "'work'" in (tools["run_work"].description or "")
        chat = data(
            await client.call_tool(
                "run_chat_v2", {"input": {"messages": [{"type": "human", "content": "hi"}]}}
            )
        )
        assert chat["status"] == "complete"
        assert [m["content"] for m in chat["state"]["messages"]] == ["hi", "got 1"]


async def test_suspend_resume_list_delete(manager: GraphSessionManager) -> None:
    async with Client(build_mcp_server(manager)) as client:
        data(await client.call_tool("run_work", {"session_id": "s1", "input": {"user_input": "a"}}))
        data(await client.call_tool("run_approval", {"session_id": "s2", "input": {}}))

        suspended = data(
            await client.call_tool("suspend_session", {"session_id": "s1", "reason": "later"})
        )
        assert (suspended["status"], suspended["suspend_reason"]) == ("suspended", "later")
        refused = await client.call_tool(
            "run_work", {"session_id": "s1", "input": {"user_input": "b"}}
        )
        assert refused.is_error and data(refused)["error"] == "session_suspended"
        lifted = data(await client.call_tool("resume_session", {"session_id": "s1"}))
        assert lifted["status"] == "completed"
        assert (await manager.info("s1")).status.value == "completed"

        only = data(await client.call_tool("list_sessions", {"status": "interrupted"}))
        assert [s["session_id"] for s in only["sessions"]] == ["s2"]
        page = data(await client.call_tool("list_sessions", {"limit": 1}))
        assert len(page["sessions"]) == 1 and page["next_cursor"]
        rest = data(
            await client.call_tool("list_sessions", {"limit": 1, "cursor": page["next_cursor"]})
        )
        assert {page["sessions"][0]["session_id"], rest["sessions"][0]["session_id"]} == {
            "s1",
            "s2",
        }
        by_graph = data(await client.call_tool("list_sessions", {"graph_id": "approval"}))
        assert [s["session_id"] for s in by_graph["sessions"]] == ["s2"]

        assert data(await client.call_tool("delete_session", {"session_id": "s2"}))["deleted"]
        assert await manager.get("s2") is None


async def test_bad_arguments_are_tool_errors(manager: GraphSessionManager) -> None:
    async with Client(build_mcp_server(manager)) as client:
        cases: list[tuple[str, dict[str, Any], str]] = [
            ("list_sessions", {"status": "sleeping"}, "invalid_input"),
            ("list_sessions", {"limit": 0}, "invalid_arguments"),
            ("list_sessions", {"limit": "5"}, "invalid_arguments"),
            ("get_session", {}, "invalid_arguments"),
            ("get_session", {"session_id": ""}, "invalid_arguments"),
            ("run_work", {"input": {"user_input": "x"}, "extra": 1}, "invalid_arguments"),
            ("run_work", {"input": "text"}, "invalid_arguments"),
            ("no_such_tool", {}, "invalid_arguments"),
            ("resume_session", {"session_id": "nope", "answer": 1}, "session_not_found"),
            ("run_approval", {"session_id": "s", "input": {}}, ""),
        ]
        for name, args, code in cases:
            result = await client.call_tool(name, args)
            if not code:  # a setup call that succeeds
                assert not result.is_error, result
                continue
            assert result.is_error, (name, args)
            assert data(result)["error"] == code, (name, args, data(result))
            assert code in result.content[0].text  # type: ignore[union-attr]
        # a session of another graph, through this graph's tool
        other = await client.call_tool(
            "run_work", {"session_id": "s", "input": {"user_input": "x"}}
        )
        assert other.is_error, data(other)
        assert data(other)["error"] == "graph_mismatch"
        assert "use the tool run_approval" in data(other)["message"]
        assert (await manager.info("s")).status.value == "interrupted"  # untouched


async def test_owner_scoping_in_process(manager: GraphSessionManager) -> None:
    def as_owner(owner: str) -> Any:
        return build_mcp_server(manager, caller_of=lambda ctx: Caller(owner=owner, scope=owner))

    async with Client(as_owner("ann")) as ann:
        made = data(
            await ann.call_tool("run_work", {"session_id": "mine", "input": {"user_input": "x"}})
        )
        assert made["output"] == "echo:x"
    assert (await manager.info("mine")).owner == "ann"
    async with Client(as_owner("ben")) as ben:
        assert data(await ben.call_tool("list_sessions", {}))["sessions"] == []
        for tool in ("get_session", "suspend_session", "delete_session", "resume_session"):
            result = await ben.call_tool(tool, {"session_id": "mine"})
            assert result.is_error and data(result)["error"] == "session_not_found", tool
        run = await ben.call_tool("run_work", {"session_id": "mine", "input": {"user_input": "y"}})
        assert run.is_error and data(run)["error"] == "session_not_found"
        assert (await ben.list_resources()).resources == []
    async with Client(as_owner("ann")) as ann:
        state = await ann.read_resource("session://mine/state")
        assert json.loads(state.contents[0].text)["log"] == ["x"]  # type: ignore[union-attr]
        listed = [r.uri for r in (await ann.list_resources()).resources]
        assert [str(u) for u in listed] == ["session://mine/state"]
