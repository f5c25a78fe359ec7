"""A streamed run's result (state and interrupts) is read off its own ``values`` stream
instead of a state read after the run: it must be exactly what a state read answers, in
every mode shape, and the caller must get only the chunks of the modes it asked for."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

from graph_sessions import GraphSessionManager


class S(TypedDict):
    xs: Annotated[list[str], operator.add]


def _fan_graph() -> Any:
    """a → (b, c) in parallel, both interrupting."""

    def a(s: S) -> dict[str, Any]:
        return {"xs": ["a"]}

    def b(s: S) -> dict[str, Any]:
        return {"xs": [f"b:{interrupt('b?')}"]}

    def c(s: S) -> dict[str, Any]:
        return {"xs": [f"c:{interrupt('c?')}"]}

    g = StateGraph(S)
    g.add_node(a)
    g.add_node(b)
    g.add_node(c)
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_edge("a", "c")
    g.add_edge("b", END)
    g.add_edge("c", END)
    return g


class Out(TypedDict):
    xs: list[str]


class Full(TypedDict):
    xs: Annotated[list[str], operator.add]
    secret: str


def _narrow_graph() -> Any:
    """An output schema narrower than the state: ``values`` chunks lack ``secret``."""

    def a(s: Full) -> dict[str, Any]:
        return {"xs": ["a"], "secret": "kept"}

    g = StateGraph(Full, output_schema=Out)
    g.add_node(a)
    g.add_edge(START, "a")
    g.add_edge("a", END)
    return g


def _sub_graph() -> Any:
    inner = StateGraph(S)
    inner.add_node("ask", lambda s: {"xs": [f"in:{interrupt('inner?')}"]})
    inner.add_edge(START, "ask")
    inner.add_edge("ask", END)
    outer = StateGraph(S)
    outer.add_node("pre", lambda s: {"xs": ["pre"]})
    outer.add_node("inner", inner.compile())
    outer.add_edge(START, "pre")
    outer.add_edge("pre", "inner")
    outer.add_edge("inner", END)
    return outer


MODES: list[tuple[Any, bool]] = [
    ("values", False),
    ("updates", False),
    (["updates"], False),
    (["values", "updates"], False),
    (["messages", "custom"], False),
    ("updates", True),
    (["updates", "values"], True),
]


async def _run(session: Any, graph_input: Any, mode: Any, subgraphs: bool) -> tuple[Any, list]:
    stream = await session.start_stream(graph_input, mode=mode, subgraphs=subgraphs)
    chunks = [chunk async for chunk in stream]
    return await stream.result(), chunks


def _check_shapes(chunks: list[Any], mode: Any, subgraphs: bool) -> None:
    asked = [mode] if isinstance(mode, str) else mode
    for chunk in chunks:
        if isinstance(mode, str):
            if subgraphs:  # (ns, data)
                assert isinstance(chunk, tuple) and len(chunk) == 2
                assert isinstance(chunk[0], tuple)
            else:  # the data itself
                assert not (isinstance(chunk, tuple) and chunk and chunk[0] in ("values",))
        else:
            got = chunk[1] if subgraphs else chunk[0]
            assert got in asked, f"a {got!r} chunk reached a caller that asked for {asked}"


@pytest.mark.parametrize(("mode", "subgraphs"), MODES)
async def test_interrupted_and_resumed_results_match_the_state(
    any_backend: str, mode: Any, subgraphs: bool
) -> None:
    async with GraphSessionManager(graph=_fan_graph().compile, backend=any_backend) as m:
        s = await m.create("t")
        result, chunks = await _run(s, {"xs": ["in"]}, mode, subgraphs)
        _check_shapes(chunks, mode, subgraphs)
        snap = await s.state_snapshot()
        assert result.status == "interrupted"
        assert result.state == {"xs": ["in", "a"]} == dict(snap.values)
        assert sorted(i["value"] for i in result.interrupts) == ["b?", "c?"]
        resume = {i["id"]: "ok" for i in result.interrupts}
        result, chunks = await _run(s, Command(resume=resume), mode, subgraphs)
        _check_shapes(chunks, mode, subgraphs)
        assert result.status == "complete"
        assert result.interrupts == []
        assert sorted(result.state["xs"]) == sorted(["in", "a", "b:ok", "c:ok"])
        assert result.state == dict((await s.state_snapshot()).values)


@pytest.mark.parametrize(("mode", "subgraphs"), MODES)
async def test_a_subgraph_interrupt_reaches_the_result(
    any_backend: str, mode: Any, subgraphs: bool
) -> None:
    async with GraphSessionManager(graph=_sub_graph().compile, backend=any_backend) as m:
        s = await m.create("t")
        result, _ = await _run(s, {"xs": ["in"]}, mode, subgraphs)
        assert result.status == "interrupted"
        assert [i["value"] for i in result.interrupts] == ["inner?"]
        assert result.state == {"xs": ["in", "pre"]} == dict((await s.state_snapshot()).values)
        result, _ = await _run(s, Command(resume="yes"), mode, subgraphs)
        assert result.status == "complete"
        assert result.state["xs"][-1] == "in:yes"
        assert result.state == dict((await s.state_snapshot()).values)


async def test_an_output_schema_graph_keeps_the_whole_state(any_backend: str) -> None:
    """``values`` chunks of a graph with a narrower output schema lack state keys: the
    result still carries the whole state, as a state read does."""
    async with GraphSessionManager(graph=_narrow_graph().compile, backend=any_backend) as m:
        s = await m.create("t")
        result, chunks = await _run(s, {"xs": ["in"]}, "updates", False)
        assert result.state == {"xs": ["in", "a"], "secret": "kept"}
        assert chunks == [{"a": {"xs": ["a"], "secret": "kept"}}]
