"""One JSON shape for graph state, whoever shows it: the Python API (``to_jsonable``), the
HTTP API, the CLI's ``--json`` and the storage columns give the same JSON for the same state."""

from __future__ import annotations

import dataclasses
import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypedDict

import httpx
import orjson
import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, Interrupt, Send
from pydantic import BaseModel

os.environ["COLUMNS"] = "200"
from typer.testing import CliRunner  # noqa: E402

from graph_sessions import GraphSessionManager, to_jsonable  # noqa: E402
from graph_sessions.cli.main import app as cli_app  # noqa: E402
from graph_sessions.jsonable import dumps  # noqa: E402
from graph_sessions.server import ServerSettings, create_app  # noqa: E402
from graph_sessions.storage.codec import dump_json, load_json  # noqa: E402

WHEN = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


class Profile(BaseModel):
    """A pydantic model in the state."""

    name: str
    seen: datetime


@dataclasses.dataclass
class Point:
    """A dataclass in the state."""

    x: int
    raw: bytes


class State(TypedDict, total=False):
    """A state with every kind of value JSON does not know."""

    user_input: str
    messages: Any
    profile: Any
    point: Any
    when: Any
    day: Any
    blob: Any
    tags: Any
    send: Any
    pending: Any
    command: Any


def _fill(state: State) -> dict[str, Any]:
    return {
        "messages": [HumanMessage("hi", id="m1"), AIMessage("hello", id="m2")],
        "profile": Profile(name="ada", seen=WHEN),
        "point": Point(x=1, raw=b"\x00\xff"),
        "when": WHEN,
        "day": date(2026, 1, 2),
        "blob": b"bytes\x00",
        "tags": {"a"},
        "send": Send("node", {"k": 1}),
        "pending": Interrupt(value={"q": "ok?"}, id="i1"),
        "command": Command(resume="yes", goto="next"),
    }


def odd_values_graph() -> Any:
    """A one-node graph that writes the values above into the state."""
    builder = StateGraph(State)
    builder.add_node("fill", _fill)
    builder.add_edge(START, "fill")
    builder.add_edge("fill", END)
    return builder.compile()


#: what each value of the state is, in JSON
EXPECTED = {
    "user_input": "x",
    "profile": {"name": "ada", "seen": "2026-01-02T03:04:05.678901Z"},
    "point": {"x": 1, "raw": "AP8="},
    "when": "2026-01-02T03:04:05.678901+00:00",
    "day": "2026-01-02",
    "blob": "Ynl0ZXMA",
    "tags": ["a"],
    "send": {"node": "node", "arg": {"k": 1}},
    "command": {"graph": None, "update": None, "resume": "yes", "goto": "next"},
}


def test_to_jsonable_shapes() -> None:
    values = _fill({}) | {"user_input": "x"}
    out = to_jsonable(values)
    for key, expected in EXPECTED.items():
        assert out[key] == expected, key
    # a dataclass is the object of its fields (LangGraph versions add fields to Interrupt)
    assert out["pending"].items() >= {"value": {"q": "ok?"}, "id": "i1"}.items()
    assert [m["content"] for m in out["messages"]] == ["hi", "hello"]
    assert out["messages"][0]["type"] == "human" and out["messages"][1]["type"] == "ai"
    # the fast encoder, the slow copy and the storage column agree
    assert orjson.loads(dumps(values)) == out
    assert load_json(dump_json(values)) == out
    assert to_jsonable({1: 2**70, (1, 2): frozenset()}) == {"1": str(2**70), "(1, 2)": []}
    assert orjson.loads(dumps({1: 2**70})) == {"1": str(2**70)}


async def test_python_http_and_cli_dump_the_same_state(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'j.db'}"
    manager = GraphSessionManager(graph=odd_values_graph(), backend=url)
    async with manager:
        session = await manager.create("s1", metadata={"when": WHEN, "raw": b"\x01"})
        await session.invoke({"user_input": "x"})
        python = to_jsonable(await session.get_state())
        stored = (await manager.info("s1")).metadata

        api = create_app(manager, ServerSettings(api_keys="k:alice:admin"))
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            r = await client.get("/sessions/s1/state", headers={"Authorization": "Bearer k"})
            assert r.status_code == 200, r.text
            http = r.json()["values"]

    assert python["point"] == EXPECTED["point"] and python["tags"] == EXPECTED["tags"]
    assert http == python
    assert stored == {"when": "2026-01-02T03:04:05.678901+00:00", "raw": "AQ=="}

    # The CLI runs its own event loop: call it outside the test's loop.
    import asyncio

    result = await asyncio.to_thread(
        CliRunner().invoke, cli_app, ["sessions", "show", "s1", "--json", "-b", url]
    )
    assert result.exit_code == 0, result.stderr
    cli = orjson.loads(result.stdout)["state"]
    assert cli == python


async def test_metadata_json_cannot_hold_as_is_is_still_refused(tmp_path: Path) -> None:
    """Metadata is filtered on and read back: a key or integer JSON would have to rewrite
    is refused, not stored as a string (state dumps, in contrast, never fail)."""
    from graph_sessions import InvalidInput

    with pytest.raises(TypeError):
        dumps({1: "a"}, strict=True)
    async with GraphSessionManager(graph=odd_values_graph(), backend="memory://") as manager:
        for bad in ({1: "a"}, {"n": 2**70}):
            with pytest.raises(InvalidInput):
                await manager.create(metadata=bad)
        session = await manager.create(metadata={"when": WHEN, "tags": {"a"}})
        assert session.info.metadata["tags"] == {"a"}
