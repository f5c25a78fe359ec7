"""Graph building blocks for the saver's differential tests."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Annotated, Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, RemoveMessage
from langchain_core.runnables import RunnableConfig
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


# 1, 1.0 and True are equal but must come back with their own type
_EQUAL_VALUES: list[Any] = [1, 1.0, True, 1, -0.0, 0.0, 0, False]


def _run(config: RunnableConfig) -> str:
    return str((config.get("configurable") or {}).get("run_id") or "")


def _mutate_message_in_place(state: State, config: RunnableConfig) -> dict[str, Any]:
    """Mutate an old message in place (content, and a nested field to an equal value of
    another type), then append one: the same objects, changed, reach the next put.

    Only input messages of earlier runs: LangGraph may still be serializing this run's
    task writes (which hold this run's messages) on a background thread, for any saver.
    """
    msgs = state.get("messages") or []
    n = len(msgs)
    turn = _run(config).removeprefix("run-")
    old_inputs = [
        m
        for m in msgs
        if (m.id or "").startswith("h-")
        and not (m.id or "").startswith(f"h-{turn}-")
        and m.id != f"h-fork-{turn}"
    ]
    if old_inputs:
        old = old_inputs[n % len(old_inputs)]
        if isinstance(old.content, str):
            old.content += "!"
        k = old.additional_kwargs.get("k", -1)
        old.additional_kwargs["k"] = (k + 1) % len(_EQUAL_VALUES) if isinstance(k, int) else 0
        old.additional_kwargs["v"] = _EQUAL_VALUES[old.additional_kwargs["k"]]
        old.additional_kwargs.setdefault("deep", {"x": [1]})["x"][0] = _EQUAL_VALUES[n % 8]
    return {"messages": [HumanMessage(content=f"after mutation {n}", id=f"mut-{n}")]}


def _replace_message_equal(state: State) -> dict[str, Any]:
    """Replace a message by id with one equal to it except for a value's type."""
    msgs = state.get("messages") or []
    if not msgs:
        return {}
    old = msgs[0]
    value = old.additional_kwargs.get("v", 0)
    new_value: Any = {0: 0.0, 1: True}.get(value, 1) if type(value) is int else int(value)
    return {
        "messages": [
            old.model_copy(update={"additional_kwargs": {**old.additional_kwargs, "v": new_value}})
        ]
    }


def _shrink_grow(state: State) -> dict[str, Any]:
    """Remove up to three messages from the middle, then add two."""
    msgs = state.get("messages") or []
    n = len(msgs)
    removed: list[Any] = [RemoveMessage(id=m.id) for m in msgs[n // 3 : n // 3 + 3] if m.id]
    added = [
        AIMessage(content=f"regrow {n}.{j}", id=f"g-{n}-{j}", additional_kwargs={"f": j / 1})
        for j in range(2)
    ]
    return {"messages": removed + added}


def _mutate_log_nested(state: State, config: RunnableConfig) -> dict[str, Any]:
    """Mutate an old dict of the log in place (nested, equal value of another type);
    only entries of earlier runs (see ``_mutate_message_in_place``)."""
    log = state.get("log") or []
    run = _run(config)
    for entry in log:
        if (
            isinstance(entry, dict)
            and entry.get("run") not in (None, run)
            and isinstance(entry.get("nested"), dict)
        ):
            f = entry["nested"].get("f")
            entry["nested"]["f"] = (
                _EQUAL_VALUES[(_EQUAL_VALUES.index(f) + 1) % 8] if f in _EQUAL_VALUES else 1
            )
            break
    return {"log": [{"i": len(log), "run": run, "nested": {"a": [], "f": 1}}]}


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
    "mutate_message_in_place": lambda: _mutate_message_in_place,
    "replace_message_equal": lambda: _replace_message_equal,
    "shrink_grow": lambda: _shrink_grow,
    "mutate_log_nested": lambda: _mutate_log_nested,
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
