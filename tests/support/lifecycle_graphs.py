"""Graphs for the lifecycle and TTL suites. Each builder returns an uncompiled StateGraph."""

from __future__ import annotations

import operator
from typing import Annotated, Any

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from typing_extensions import TypedDict


class ModeState(TypedDict, total=False):
    user_input: str
    log: Annotated[list[str], operator.add]
    answer: Any


def mode_graph() -> StateGraph:
    """One node whose behaviour the input picks.

    ``user_input == "interrupt"``: the node pauses at ``interrupt()`` and completes once
    answered; ``"fail"``: the node raises ``RuntimeError``; anything else completes.
    A resume does not change ``user_input``, so answering an interrupt always completes.
    """

    def work(state: ModeState) -> dict[str, Any]:
        mode = state.get("user_input", "")
        if mode == "fail":
            raise RuntimeError("asked to fail")
        if mode == "interrupt":
            answer = interrupt({"question": "continue?"})
            return {"log": [f"answered:{answer!r}"], "answer": answer}
        return {"log": [f"done:{mode}"]}

    b = StateGraph(ModeState)
    b.add_node("work", work)
    b.add_edge(START, "work")
    b.add_edge("work", END)
    return b


class FlakyState(TypedDict, total=False):
    user_input: str
    log: Annotated[list[str], operator.add]


def flaky_graph(switch: dict[str, bool]) -> StateGraph:
    """first -> second; ``second`` raises while ``switch["broken"]`` is true.

    Both nodes log what they did, so a test can tell whether ``first`` ran again.
    """

    def first(state: FlakyState) -> dict[str, Any]:
        return {"log": [f"first:{state.get('user_input', '')}"]}

    def second(state: FlakyState) -> dict[str, Any]:
        if switch.get("broken"):
            raise RuntimeError("second is broken")
        return {"log": [f"second:{state.get('user_input', '')}"]}

    b = StateGraph(FlakyState)
    b.add_node("first", first)
    b.add_node("second", second)
    b.add_edge(START, "first")
    b.add_edge("first", "second")
    b.add_edge("second", END)
    return b
