"""Graphs whose sessions exercise export/import: a subgraph that interrupts (checkpoints
in a child namespace), LangChain messages (values JSON cannot hold), and the DeltaChannel
chat of ``delta_graphs``."""

from __future__ import annotations

import operator
from typing import Annotated, Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import interrupt
from typing_extensions import TypedDict

from support.delta_graphs import delta_builder


class TransferState(TypedDict, total=False):
    user_input: str
    messages: Annotated[list[AnyMessage], add_messages]
    log: Annotated[list[str], operator.add]
    answer: str


def _sub() -> Any:
    def ask(state: TransferState) -> dict[str, Any]:
        answer = interrupt({"question": "approve?", "seen": len(state.get("log") or [])})
        return {"answer": str(answer), "log": [f"sub:{answer}"]}

    def note(state: TransferState) -> dict[str, Any]:
        return {"log": ["sub:note"]}

    sub = StateGraph(TransferState)
    sub.add_node("note", note)
    sub.add_node("ask", ask)
    sub.add_edge(START, "note")
    sub.add_edge("note", "ask")
    sub.add_edge("ask", END)
    return sub.compile()


def subgraph_chat() -> StateGraph:
    """hear (LangChain messages) -> review (a subgraph that interrupts) -> reply."""

    def hear(state: TransferState) -> dict[str, Any]:
        text = state.get("user_input", "")
        return {"messages": [HumanMessage(content=text)], "log": [f"hear:{text}"]}

    def reply(state: TransferState) -> dict[str, Any]:
        n = len(state.get("messages") or [])
        return {
            "messages": [AIMessage(content=f"reply {n}: {state.get('answer')}")],
            "log": ["reply"],
        }

    b = StateGraph(TransferState)
    b.add_node("hear", hear)
    b.add_node("review", _sub())
    b.add_node("reply", reply)
    b.add_edge(START, "hear")
    b.add_edge("hear", "review")
    b.add_edge("review", "reply")
    b.add_edge("reply", END)
    return b


def transfer_graphs() -> dict[str, Any]:
    """The manager's graphs, by id."""
    return {"sub": subgraph_chat(), "delta": delta_builder()}
