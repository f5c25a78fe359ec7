"""Graph building blocks for the saver's differential tests."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Annotated, Any

from langchain_core.messages import AIMessage, AnyMessage, RemoveMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import interrupt
from typing_extensions import TypedDict


class State(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    log: Annotated[list[Any], operator.add]
    items: list[Any]
    data: dict[str, Any]
    counter: int


def _append_log(state: State) -> dict[str, Any]:
    k = len(state.get("log") or [])
    return {"log": [{"i": k, "nested": {"a": [k, str(k)], "f": k / 2}}]}


def _mutate_items(state: State) -> dict[str, Any]:
    items = state.get("items")
    if items is None:
        items = []
    items.append({"n": len(items)})  # in place, then returned: same list object
    return {"items": items}


def _replace_item(state: State) -> dict[str, Any]:
    items = state.get("items")
    if not items:
        return {"items": ["first"]}
    items[0] = {"replaced": len(items)}  # in place: not an extension any more
    return {"items": items}


def _pop_item(state: State) -> dict[str, Any]:
    items = state.get("items")
    if not items:
        return {}
    items.pop()
    return {"items": items}


def _mutate_log_in_place(state: State) -> dict[str, Any]:
    log = state.get("log")
    if log:
        log[0] = {"mutated": len(log)}  # the channel's own list, changed without a write
    return {"log": ["after-mutation"]}


def _ai(state: State) -> dict[str, Any]:
    n = len(state.get("messages") or [])
    return {"messages": [AIMessage(content=f"answer {n}", id=f"ai-{n}")]}


def _replace_message(state: State) -> dict[str, Any]:
    msgs = state.get("messages") or []
    if not msgs:
        return {}
    return {"messages": [AIMessage(content="edited", id=msgs[0].id)]}


def _remove_message(state: State) -> dict[str, Any]:
    msgs = state.get("messages") or []
    if not msgs:
        return {}
    return {"messages": [RemoveMessage(id=msgs[-1].id)]}


def _nested(state: State) -> dict[str, Any]:
    data = dict(state.get("data") or {})
    k = len(data)
    data[f"k{k}"] = {"deep": {"list": [k, {"x": None}], "t": (k, "t")}}
    return {"data": data, "counter": (state.get("counter") or 0) + 1}


def _ask(state: State) -> dict[str, Any]:
    answer = interrupt({"question": "continue?", "n": len(state.get("log") or [])})
    return {"log": [{"answer": answer}]}


def _subgraph() -> Any:
    sub = StateGraph(State)
    sub.add_node("sub_log", _append_log)
    sub.add_node("sub_ai", _ai)
    sub.add_edge(START, "sub_log")
    sub.add_edge("sub_log", "sub_ai")
    sub.add_edge("sub_ai", END)
    return sub.compile()


NODES: dict[str, Callable[[], Any]] = {
    "append_log": lambda: _append_log,
    "mutate_items": lambda: _mutate_items,
    "replace_item": lambda: _replace_item,
    "pop_item": lambda: _pop_item,
    "mutate_log_in_place": lambda: _mutate_log_in_place,
    "ai": lambda: _ai,
    "replace_message": lambda: _replace_message,
    "remove_message": lambda: _remove_message,
    "nested": lambda: _nested,
    "ask": lambda: _ask,
    "subgraph": _subgraph,
}


def build(kinds: list[str]) -> StateGraph:
    """A linear graph running the given node kinds in order."""
    builder = StateGraph(State)
    names = []
    for i, kind in enumerate(kinds):
        name = f"n{i}_{kind}"
        builder.add_node(name, NODES[kind]())
        names.append(name)
    builder.add_edge(START, names[0])
    for a, b in zip(names, names[1:], strict=False):
        builder.add_edge(a, b)
    builder.add_edge(names[-1], END)
    return builder
