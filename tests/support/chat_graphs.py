"""Graphs for the chat tests: one that takes its time in a named node, with internal keys."""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from typing_extensions import TypedDict


class SlowState(TypedDict, total=False):
    user_input: str
    response: str
    _route: str


def slow_graph() -> StateGraph:
    """``sleepy`` sleeps for ``float(user_input)`` seconds when the line is a number."""

    async def sleepy(state: SlowState) -> dict[str, Any]:
        text = state.get("user_input", "")
        await asyncio.sleep(float(text) if text.replace(".", "", 1).isdigit() else 0)
        return {"response": f"slept on {text}", "_route": "internal"}

    b = StateGraph(SlowState)
    b.add_node("sleepy", sleepy)
    b.add_edge(START, "sleepy")
    b.add_edge("sleepy", END)
    return b


class PlainState(TypedDict, total=False):
    user_input: str
    answer: Any
    response: str


def plain_interrupt_graph() -> StateGraph:
    """LangGraph's plain ``interrupt("Approve?")``: no payload dict, no resume_key."""

    def ask(state: PlainState) -> dict[str, Any]:
        answer = interrupt(f"Approve {state.get('user_input', '')}?")
        return {"answer": answer, "response": f"answer: {answer!r}"}

    b = StateGraph(PlainState)
    b.add_node("ask", ask)
    b.add_edge(START, "ask")
    b.add_edge("ask", END)
    return b
