"""Graphs the server tests serve (referenced as "tests/support/server_graphs.py:<attr>";
the server process finds ``support`` through ``support.paths.subprocess_env``)."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any

from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from typing_extensions import TypedDict

from support.graphs import approval_graph


class WorkState(TypedDict, total=False):
    user_input: str
    delay: float
    log: Annotated[list[str], operator.add]
    response: str


def work_graph() -> StateGraph:
    """One async node: sleeps ``delay`` seconds, emits two custom chunks, answers; the input
    "fail" raises, "ask" interrupts (resume_key user_input)."""

    async def work(state: WorkState) -> dict[str, Any]:
        text = state.get("user_input", "")
        writer = get_stream_writer()
        writer({"progress": 0, "input": text})
        await asyncio.sleep(float(state.get("delay") or 0))
        writer({"progress": 1, "input": text})
        if text == "fail":
            raise RuntimeError("boom")
        if text == "ask":
            answer = interrupt({"question": "really?", "resume_key": "user_input"})
            return {"log": [f"answer:{answer}"], "response": str(answer)}
        return {"log": [text], "response": f"echo:{text}"}

    b = StateGraph(WorkState)
    b.add_node("work", work)
    b.add_edge(START, "work")
    b.add_edge("work", END)
    return b


approval = approval_graph()
work = work_graph()


class BlobState(TypedDict, total=False):
    count: int
    size: int
    i: int
    blob: str


def blob_graph() -> StateGraph:
    """A loop of ``count`` steps, each putting a new ``size``-character string in the state
    (``values`` chunks of that size: for the tests of memory under slow stream readers)."""

    def step(state: BlobState) -> dict[str, Any]:
        i = int(state.get("i") or 0)
        return {"i": i + 1, "blob": f"{i:08d}" + "x" * int(state.get("size") or 1000)}

    def more(state: BlobState) -> str:
        return "step" if int(state.get("i") or 0) < int(state.get("count") or 10) else END

    b = StateGraph(BlobState)
    b.add_node("step", step)
    b.add_edge(START, "step")
    b.add_conditional_edges("step", more, ["step", END])
    return b


blob = blob_graph()
