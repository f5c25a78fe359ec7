"""Graphs for the chat tests: one that takes its time in a named node, with internal keys."""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.graph import END, START, StateGraph
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
