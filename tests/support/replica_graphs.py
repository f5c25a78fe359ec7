"""Graphs the replica tests serve (``tests/support/replica_graphs.py:<attr>``).

``turns``: one node appending the input to ``turns`` (lost or duplicated turns show).
``steps``: a loop of ``n`` steps, each sleeping ``delay`` seconds and appending its number
to ``steps`` (one checkpoint per step: completed steps lost or run twice show)."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any

from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict


class TurnState(TypedDict, total=False):
    user_input: str
    turns: Annotated[list[str], operator.add]


def turns_graph() -> StateGraph:
    """One node: ``turns`` gets the input appended."""

    def turn(state: TurnState) -> dict[str, Any]:
        return {"turns": [state.get("user_input", "")]}

    b = StateGraph(TurnState)
    b.add_node("turn", turn)
    b.add_edge(START, "turn")
    b.add_edge("turn", END)
    return b


class StepState(TypedDict, total=False):
    user_input: str
    n: int
    delay: float
    steps: Annotated[list[str], operator.add]


def steps_graph() -> StateGraph:
    """``n`` steps (default 5) of ``delay`` seconds (default 0.2); step ``i`` of input ``x``
    appends ``"x:i"``."""

    async def step(state: StepState) -> dict[str, Any]:
        tag = state.get("user_input", "")
        done = [s for s in state.get("steps", []) if s.startswith(f"{tag}:")]
        await asyncio.sleep(float(state.get("delay", 0.2)))
        return {"steps": [f"{tag}:{len(done)}"]}

    def more(state: StepState) -> str:
        tag = state.get("user_input", "")
        done = [s for s in state.get("steps", []) if s.startswith(f"{tag}:")]
        return "step" if len(done) < int(state.get("n", 5)) else END

    b = StateGraph(StepState)
    b.add_node("step", step)
    b.add_edge(START, "step")
    b.add_conditional_edges("step", more, ["step", END])
    return b


turns = turns_graph()
steps = steps_graph()
