"""The run-create body of LangGraph's API and how it maps onto a core call (no server)."""

from __future__ import annotations

import pytest
from langgraph.types import Command, Send
from pydantic import ValidationError
from support.lgapi_graphs import approval, chat

from graph_sessions import GraphSessionManager
from graph_sessions.server.errors import ApiError
from graph_sessions.server.langgraph_api.ids import system_assistant_id
from graph_sessions.server.langgraph_api.run_payloads import (
    AssistantRef,
    RunCreate,
    resolve_assistant,
)


def test_defaults_and_unknown_fields() -> None:
    body = RunCreate.model_validate({"assistant_id": "chat", "something_new": 1})
    assert body.modes == ["values"] and body.strategy == "enqueue"
    assert body.graph_input() is None and body.graph_options() is None
    assert body.kwargs()["stream_mode"] == ["values"]
    body = RunCreate.model_validate(
        {
            "assistant_id": "chat",
            "stream_mode": ["updates", "values", "updates"],
            "checkpoint": {"checkpoint_id": "c1", "checkpoint_ns": ""},
            "interrupt_before": "*",
            "context": {"user": "u"},
        }
    )
    assert body.modes == ["updates", "values"] and body.fork_from == "c1"
    assert body.graph_options() == {"interrupt_before": "*", "context": {"user": "u"}}
    for bad in (
        {"assistant_id": "chat", "stream_mode": "nope"},
        {"input": {}},
        {"assistant_id": "a", "input": 3},
    ):
        with pytest.raises(ValidationError):
            RunCreate.model_validate(bad)


def test_command_mapping() -> None:
    body = RunCreate.model_validate(
        {
            "assistant_id": "chat",
            "input": {"ignored": True},
            "command": {
                "resume": {"iid": "yes"},
                "update": [["a", 1], ["b", 2]],
                "goto": ["x", {"node": "y", "input": {"k": 1}}],
            },
        }
    )
    cmd = body.graph_input()
    assert isinstance(cmd, Command)
    assert cmd.resume == {"iid": "yes"} and cmd.update == [("a", 1), ("b", 2)]
    assert cmd.goto == ["x", Send("y", {"k": 1})]
    single = RunCreate.model_validate({"assistant_id": "c", "command": {"goto": "finish"}})
    assert single.graph_input().goto == ["finish"]
    with pytest.raises(ApiError):
        RunCreate.model_validate({"assistant_id": "c", "command": {"goto": [5]}}).graph_input()


async def test_assistants_resolve_by_system_id_graph_id_or_resolver(tmp_path) -> None:
    async with GraphSessionManager(
        graph={"chat": chat, "approval": approval}, backend="memory://"
    ) as m:
        ref = await resolve_assistant(m, "chat")
        assert ref.graph_id == "chat" and ref.assistant_id == system_assistant_id("chat")
        assert (await resolve_assistant(m, system_assistant_id("approval"))).graph_id == "approval"
        with pytest.raises(ApiError) as e:
            await resolve_assistant(m, "nope")
        assert e.value.status == 404 and e.value.message == "Thread or assistant not found."

        async def resolver(assistant_id: str) -> AssistantRef | None:
            if assistant_id == "custom":
                return AssistantRef("approval", "custom", config={"configurable": {"a": 1}})
            if assistant_id == "gone":
                return AssistantRef("no-such-graph", "gone")
            return None

        assert (await resolve_assistant(m, "custom", resolver)).config == {"configurable": {"a": 1}}
        for unknown in ("gone", "other"):
            with pytest.raises(ApiError):
                await resolve_assistant(m, unknown, resolver)


async def test_a_resolved_assistant_lays_its_config_under_the_runs() -> None:
    from graph_sessions.server.auth import Principal
    from graph_sessions.server.langgraph_api.run_payloads import resolve_run

    async def resolver(assistant_id: str) -> AssistantRef | None:
        return AssistantRef(
            "approval",
            assistant_id,
            config={"configurable": {"a": 1, "b": 1}, "tags": ["t"]},
            context={"c": 1},
            metadata={"from": "assistant"},
        )

    async with GraphSessionManager(
        graph={"chat": chat, "approval": approval}, backend="memory://"
    ) as m:
        body = RunCreate.model_validate(
            {
                "assistant_id": "my-assistant",
                "input": {"request": "x"},
                "config": {"configurable": {"b": 2}},
                "metadata": {"run": 1},
            }
        )
        run = await resolve_run(m, Principal("u", "user"), None, body, resolver)
        assert run.graph_id == "approval" and run.assistant_id == "my-assistant"
        config = run.config()
        assert config["configurable"]["a"] == 1 and config["configurable"]["b"] == 2
        assert config["tags"] == ["t"] and config["configurable"]["thread_id"] == run.thread_id
        assert config["metadata"]["from"] == "assistant" and config["metadata"]["run"] == 1
        assert run.body.context == {"c": 1}
        assert run.session.metadata["assistant_id"] == "my-assistant" and run.temporary
        assert run.session.info.owner == "u"
