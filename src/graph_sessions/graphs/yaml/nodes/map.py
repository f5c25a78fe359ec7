"""``type: map``: fan out over a list with ``Send``, one branch per item, then join."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from typing import Any

from langgraph.types import Send

from graph_sessions.graphs.yaml.expressions import Expression
from graph_sessions.graphs.yaml.nodes.base import (
    BuildContext,
    Builder,
    BuiltNode,
    NodeFn,
    validate_node,
    value_expression,
)
from graph_sessions.graphs.yaml.nodes.llm import build_llm
from graph_sessions.graphs.yaml.nodes.passthrough import build_passthrough
from graph_sessions.graphs.yaml.nodes.python import IN_MAP, build_python
from graph_sessions.graphs.yaml.nodes.running import wrap_node
from graph_sessions.graphs.yaml.reducers import MAP_COLLECT, MAP_RESET
from graph_sessions.graphs.yaml.schema import MapNode, Path_

log = logging.getLogger("graph_sessions.yaml")

__all__ = ["MAP_ITEM_TYPES", "build_map"]

_ITEM_BUILDERS: dict[str, Builder] = {
    "passthrough": build_passthrough,
    "python": build_python,
    "llm": build_llm,
}
MAP_ITEM_TYPES = tuple(_ITEM_BUILDERS)


def _build_item(
    name: str, sub_raw: dict[str, Any], path: Path_, ctx: BuildContext
) -> BuiltNode | None:
    """The ``node`` sub-node as ``<name>__item``, its problems located under
    ``nodes.<name>.node``."""
    sub_type = str(sub_raw.get("type", "llm"))
    if sub_type not in _ITEM_BUILDERS:
        ctx.problem(
            (*path, "node", "type"),
            f"a map sub-node must be one of {', '.join(MAP_ITEM_TYPES)}, not {sub_type!r}",
        )
        return None
    sub_name = f"{name}__item"
    first_problem = len(ctx.problems)
    sub = _ITEM_BUILDERS[sub_type](sub_name, sub_raw, ctx)
    for i in range(first_problem, len(ctx.problems)):
        p = ctx.problems[i]
        field_name = p.field.replace(f"nodes.{sub_name}", f"nodes.{name}.node", 1)
        ctx.problems[i] = type(p)(
            p.file, ctx.doc.line((*path, "node")) or p.line, field_name, p.message
        )
    return sub


def _item_result_key(sub_raw: dict[str, Any], sub: BuiltNode) -> str | None:
    """The key of an item's update that is its result (``None``: the whole update)."""
    sub_type = sub_raw.get("type", "llm")
    if sub_type in ("python", "llm"):
        return sub_raw.get("state_key") or sub.name
    return sub_raw.get("state_key") or (next(iter(sub.writes)) if len(sub.writes) == 1 else None)


def _fan_out(
    name: str, spec: MapNode, over: Expression, limit: int | None, sub_name: str, join: str
) -> Callable[[dict[str, Any]], Any]:
    """The conditional edge out of the map node: one ``Send`` per item (or on to join)."""
    collect = spec.collect
    as_name = spec.as_

    def fan_out(state: dict[str, Any]) -> Any:
        items = over.evaluate(state)
        if items is None:
            items = []
        if isinstance(items, Mapping) or not isinstance(items, list | tuple):
            raise TypeError(f"map {name!r}: `over` must give a list, got {type(items).__name__}")
        items = list(items)
        if limit is not None and len(items) > limit:
            log.warning(
                "map %r: %d items, only the first %d are processed", name, len(items), limit
            )
            items = items[:limit]
        if not items:
            return [join]
        base = {k: v for k, v in state.items() if k != collect}
        return [
            Send(sub_name, {**base, as_name: item, "_map_index": i}) for i, item in enumerate(items)
        ]

    return fan_out


def _item_function(sub: BuiltNode, sub_key: str | None, collect: str) -> NodeFn:
    """The sub-node's function, its result appended to ``collect``."""
    sub_fn = sub.funcs[0][1]

    def pick(update: Mapping[str, Any]) -> Any:
        if sub_key is not None and sub_key in update:
            return update[sub_key]
        return dict(update)

    if inspect.iscoroutinefunction(sub_fn):
        inner_async = sub_fn

        async def item_async(state: dict[str, Any]) -> dict[str, Any]:
            return {collect: [pick(await inner_async(state))]}

        return item_async
    return wrap_node(sub.name, sub_fn, lambda update: {collect: [pick(update)]})


def build_map(name: str, raw: dict[str, Any], ctx: BuildContext) -> BuiltNode | None:
    """Fan out with ``Send``: ``<name>`` evaluates ``over`` and sends one branch per item to
    ``<name>__item`` (the ``node`` sub-node, seeing the state plus ``<as>`` and
    ``_map_index``); each branch's result (its ``state_key`` value, else its whole update)
    is appended to ``collect`` in item order; ``<name>__join`` continues once all are done.
    ``collect`` holds the results of the latest run of the map."""
    path: Path_ = ("nodes", name)
    spec = validate_node(MapNode, raw, path, ctx)
    if spec is None:
        return None
    over = value_expression(spec.over, (*path, "over"), ctx)
    sub_raw = dict(spec.node)
    if str(sub_raw.get("type", "llm")) == "python":
        sub_raw[IN_MAP] = True
    sub = _build_item(name, sub_raw, path, ctx)
    if sub is None or over is None:
        return None
    collect = spec.collect
    join = f"{name}__join"
    limit = spec.max_items or ctx.max_map_items
    item_fn = _item_function(sub, _item_result_key(sub_raw, sub), collect)

    def dispatch_node(state: dict[str, Any]) -> dict[str, Any]:
        return {collect: [MAP_RESET]}

    def join_node(state: dict[str, Any]) -> dict[str, Any]:
        return {collect: []}  # lets the reducer drop the reset marker of an empty map

    return BuiltNode(
        name,
        "map",
        [(name, dispatch_node), (sub.name, item_fn), (join, join_node)],
        name,
        join,
        {collect},
        over.fields | (sub.reads - {spec.as_}),
        internal_edges=[(sub.name, join)],
        dispatch=(_fan_out(name, spec, over, limit, sub.name, join), [sub.name, join]),
        reducers={collect: MAP_COLLECT},
    )
