"""A small support bot: it drafts a reply, asks a human to approve it, then answers.

Used by the README quickstart and the tests. No LLM needed.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from typing_extensions import TypedDict


class State(TypedDict, total=False):
    user_input: str
    draft: str
    approved: bool
    response: str
    history: Annotated[list[str], operator.add]


def draft(state: State) -> dict[str, Any]:
    text = state.get("user_input", "")
    return {
        "draft": f"Thanks for writing about {text!r}. We are on it.",
        "history": [f"user: {text}"],
    }


def approve(state: State) -> dict[str, Any]:
    answer = interrupt(
        {"message": f"Send this reply? {state['draft']}", "resume_key": "user_input"}
    )
    return {"approved": str(answer).strip().lower() in ("y", "yes", "ok", "approve")}


def respond(state: State) -> dict[str, Any]:
    reply = state["draft"] if state.get("approved") else "A colleague will follow up shortly."
    return {"response": reply, "history": [f"bot: {reply}"]}


builder = StateGraph(State)
builder.add_node("draft", draft)
builder.add_node("approve", approve)
builder.add_node("respond", respond)
builder.add_edge(START, "draft")
builder.add_edge("draft", "approve")
builder.add_edge("approve", "respond")
builder.add_edge("respond", END)

graph = builder.compile()
