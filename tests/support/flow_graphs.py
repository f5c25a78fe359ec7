"""Extra graphs for the flow tests (tests/flow/; support/graphs.py is shared, these are theirs).

Builders return uncompiled StateGraphs. The module-level names at the bottom exist so the
"file.py:attr" reference forms can be exercised against a real file.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any

from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from typing_extensions import TypedDict


class RouteState(TypedDict, total=False):
    user_input: str
    log: Annotated[list[str], operator.add]
    response: str


def router_graph() -> StateGraph:
    """One node whose outcome the input picks: "fail" raises, "ask" interrupts (resume_key
    user_input), anything else completes and echoes the input into `response`."""

    def work(state: RouteState) -> dict[str, Any]:
        text = state.get("user_input", "")
        if text == "fail":
            raise RuntimeError("boom")
        if text == "ask":
            answer = interrupt({"question": "really?", "resume_key": "user_input"})
            return {"log": [f"answer:{answer}"], "response": str(answer)}
        return {"log": [text], "response": text}

    b = StateGraph(RouteState)
    b.add_node("work", work)
    b.add_edge(START, "work")
    b.add_edge("work", END)
    return b


def custom_stream_graph() -> StateGraph:
    """One node that emits three custom stream chunks through get_stream_writer()."""

    def work(state: RouteState) -> dict[str, Any]:
        writer = get_stream_writer()
        for i in range(3):
            writer({"progress": i, "input": state.get("user_input", "")})
        return {"log": ["done"], "response": "done"}

    b = StateGraph(RouteState)
    b.add_node("work", work)
    b.add_edge(START, "work")
    b.add_edge("work", END)
    return b


# -- targets for "tests/support/flow_graphs.py:<attr>" references --------------------------------
router_builder = router_graph()
not_a_graph = 42


def raising_factory() -> StateGraph:
    raise RuntimeError("factory exploded")
