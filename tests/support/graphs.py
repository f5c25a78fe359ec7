"""Graphs the tests share. Each builder returns an uncompiled StateGraph."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from typing_extensions import TypedDict


class ChatState(TypedDict, total=False):
    user_input: str
    turns: Annotated[list[str], operator.add]
    response: str


def chat_graph() -> StateGraph:
    """One node; each invoke appends the input to `turns` and answers with the turn count."""

    def reply(state: ChatState) -> dict[str, Any]:
        n = len(state.get("turns", [])) + 1
        return {
            "turns": [state.get("user_input", "")],
            "response": f"turn {n}: {state.get('user_input', '')}",
        }

    b = StateGraph(ChatState)
    b.add_node("reply", reply)
    b.add_edge(START, "reply")
    b.add_edge("reply", END)
    return b


class ApprovalState(TypedDict, total=False):
    user_input: str
    log: Annotated[list[str], operator.add]
    approved: bool
    response: str


def approval_graph(resume_key: str | None = "user_input") -> StateGraph:
    """draft -> approve (interrupt) -> respond."""

    def draft(state: ApprovalState) -> dict[str, Any]:
        return {"log": [f"draft:{state.get('user_input', '')}"]}

    def approve(state: ApprovalState) -> dict[str, Any]:
        payload: dict[str, Any] = {"message": "approve?"}
        if resume_key:
            payload["resume_key"] = resume_key
        answer = interrupt(payload)
        return {"approved": answer == "yes", "log": [f"answer:{answer}"]}

    def respond(state: ApprovalState) -> dict[str, Any]:
        return {"response": "sent" if state.get("approved") else "dropped", "log": ["respond"]}

    b = StateGraph(ApprovalState)
    b.add_node("draft", draft)
    b.add_node("approve", approve)
    b.add_node("respond", respond)
    b.add_edge(START, "draft")
    b.add_edge("draft", "approve")
    b.add_edge("approve", "respond")
    b.add_edge("respond", END)
    return b


class FailState(TypedDict, total=False):
    user_input: str
    log: Annotated[list[str], operator.add]


def failing_graph() -> StateGraph:
    """ok -> boom; `boom` raises when user_input == "fail"."""

    def ok(state: FailState) -> dict[str, Any]:
        return {"log": [f"ok:{state.get('user_input', '')}"]}

    def boom(state: FailState) -> dict[str, Any]:
        if state.get("user_input") == "fail":
            raise RuntimeError("boom")
        if str(state.get("user_input", "")).startswith("fail:"):  # a message from the input
            raise RuntimeError(state["user_input"])
        return {"log": ["boom-ok"]}

    b = StateGraph(FailState)
    b.add_node("ok", ok)
    b.add_node("boom", boom)
    b.add_edge(START, "ok")
    b.add_edge("ok", "boom")
    b.add_edge("boom", END)
    return b


class StepState(TypedDict, total=False):
    user_input: str
    delay: float
    steps: Annotated[list[str], operator.add]


def slow_graph(n_steps: int = 3) -> StateGraph:
    """n sequential async steps, each sleeping `state["delay"]` seconds (default 0.05)."""
    b = StateGraph(StepState)
    prev = START
    for i in range(n_steps):
        name = f"s{i}"

        async def step(state: StepState, _name: str = name) -> dict[str, Any]:
            await asyncio.sleep(state.get("delay", 0.05))
            return {"steps": [f"{_name}:{state.get('user_input', '')}"]}

        b.add_node(name, step)
        b.add_edge(prev, name)
        prev = name
    b.add_edge(prev, END)
    return b


class MultiState(TypedDict, total=False):
    user_input: str
    answers: Annotated[list[str], operator.add]


def two_interrupts_graph(resume_keys: tuple[str, str] | None = None) -> StateGraph:
    """Two parallel nodes, each raising its own interrupt (naming its own resume key when
    ``resume_keys`` is given)."""

    def payload(question: str, index: int) -> dict[str, Any]:
        if resume_keys is None:
            return {"question": question}
        return {"question": question, "resume_key": resume_keys[index]}

    def ask_a(state: MultiState) -> dict[str, Any]:
        return {"answers": [f"a={interrupt(payload('a', 0))}"]}

    def ask_b(state: MultiState) -> dict[str, Any]:
        return {"answers": [f"b={interrupt(payload('b', 1))}"]}

    b = StateGraph(MultiState)
    b.add_node("ask_a", ask_a)
    b.add_node("ask_b", ask_b)
    b.add_edge(START, "ask_a")
    b.add_edge(START, "ask_b")
    b.add_edge("ask_a", END)
    b.add_edge("ask_b", END)
    return b
