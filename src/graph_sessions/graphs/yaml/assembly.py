"""Assembly: a checked plan (built nodes, edges, state fields) added to a ``StateGraph``
and compiled, with router edges, conditional edges and per-run loop limits."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.pregel import Pregel

from graph_sessions.graphs.yaml.edges import EdgeInfo, node_ref
from graph_sessions.graphs.yaml.nodes.base import ROUTE_KEY, BuiltNode
from graph_sessions.graphs.yaml.nodes.running import run_node_async, wrap_node
from graph_sessions.graphs.yaml.reducers import LOOP_RESET
from graph_sessions.graphs.yaml.schema import GraphFileSpec
from graph_sessions.graphs.yaml.state import LOOP_COUNTS_KEY, StateFields, state_schema

__all__ = ["assemble"]

_LOOP_RESET_NODE = "__loop_reset__"

Loop = tuple[int, str]  # a loop-limited node's (limit, exit target)
Entry = Callable[[str], str]  # a YAML node (or END) -> the LangGraph node edges go to


def assemble(
    spec: GraphFileSpec,
    nodes: Mapping[str, BuiltNode],
    edges: list[EdgeInfo],
    state: StateFields,
) -> Pregel:
    """The compiled LangGraph graph (without a checkpointer) of a plan with no problems."""
    builder: StateGraph[Any] = StateGraph(state_schema(spec.name, state))
    limits = dict(spec.loop_limits)
    exits = {k: node_ref(v) for k, v in spec.loop_exits.items()}
    _add_nodes(builder, nodes, limits)

    def entry(target: str) -> str:
        return target if target == END else nodes[target].entry

    _add_start_edges(builder, [e for e in edges if e.source == START], entry, bool(limits))
    by_source: dict[str, list[EdgeInfo]] = {}
    for e in edges:
        if e.source != START:
            by_source.setdefault(e.source, []).append(e)
    for name, built in nodes.items():
        limit = limits.get(name)
        loop = (limit, exits.get(name, END)) if limit is not None else None
        _add_edges_from(builder, name, built, by_source.get(name, []), entry, loop)
    compiled = builder.compile(name=spec.name)
    if spec.config.recursion_limit is not None:
        compiled = compiled.with_config(recursion_limit=spec.config.recursion_limit)
    if spec.config.timeout is not None:
        compiled.step_timeout = spec.config.timeout
    return compiled


def _add_nodes(
    builder: StateGraph[Any], nodes: Mapping[str, BuiltNode], limits: Mapping[str, int]
) -> None:
    """Every node's functions, its internal edges and (map nodes) its fan-out."""
    for name, built in nodes.items():
        for fname, fn in built.funcs:
            if fname == built.exit and name in limits:
                fn = _count_runs(fn, name, fname)
            builder.add_node(fname, fn)
        for a, b in built.internal_edges:
            builder.add_edge(a, b)
        if built.dispatch is not None:
            fan_out, targets = built.dispatch
            builder.add_conditional_edges(built.entry, fan_out, targets)


def _add_start_edges(
    builder: StateGraph[Any], start_edges: list[EdgeInfo], entry: Entry, loop_limited: bool
) -> None:
    """The edges from START; with loop limits, after a first step that clears the counts."""
    if loop_limited:
        # Loop counts are per run: a first step clears them.
        builder.add_node(_LOOP_RESET_NODE, lambda state: {LOOP_COUNTS_KEY: {LOOP_RESET: 1}})
        builder.add_edge(START, _LOOP_RESET_NODE)
        start_from = _LOOP_RESET_NODE
    else:
        start_from = START
    if any(e.condition is not None for e in start_edges):
        _add_routing(builder, start_from, start_edges, entry, None, None)
        return
    start_targets = [entry(t) for e in start_edges for t in e.targets]
    for t in dict.fromkeys(start_targets):
        builder.add_edge(start_from, t)


def _add_edges_from(
    builder: StateGraph[Any],
    name: str,
    built: BuiltNode,
    edges: list[EdgeInfo],
    entry: Entry,
    loop: Loop | None,
) -> None:
    """The edges out of one node: a router's choice, a conditional (or loop-limited)
    routing, or plain edges."""
    if built.type == "router":
        targets = list(built.routes)
        for e in edges:
            targets.extend(e.targets)
        targets = list(dict.fromkeys(node_ref(t) for t in targets))
        _add_router_edges(builder, built.exit, targets, entry, loop)
    elif edges and (loop is not None or any(e.condition is not None for e in edges)):
        _add_routing(builder, built.exit, edges, entry, loop, name)
    else:
        for e in edges:
            for t in e.targets:
                builder.add_edge(built.exit, entry(t))


def _count_runs(fn: Any, node: str, fname: str) -> Any:
    """Wrap a node so that each run adds 1 to ``_loop_counts[node]``."""

    def add_count(result: Any) -> dict[str, Any]:
        update = dict(result or {})
        update[LOOP_COUNTS_KEY] = {node: 1}
        return update

    if inspect.iscoroutinefunction(fn):

        async def counted(state: dict[str, Any], config: RunnableConfig) -> Any:
            return add_count(await run_node_async(fn, state, config))

        return counted
    return wrap_node(fname, fn, add_count)


def _loop_exceeded(state: Mapping[str, Any], node: str, limit: int) -> bool:
    counts = state.get(LOOP_COUNTS_KEY) or {}
    return int(counts.get(node, 0)) >= limit


def _add_router_edges(
    builder: StateGraph[Any],
    source: str,
    targets: list[str],
    entry: Entry,
    loop: Loop | None,
) -> None:
    path_map: dict[Hashable, str] = {t: entry(t) for t in targets}
    node = source
    if loop is not None:
        path_map[loop[1]] = entry(loop[1])

    def route(state: dict[str, Any]) -> str:
        if loop is not None and _loop_exceeded(state, node, loop[0]):
            return loop[1]
        target = node_ref(state.get(ROUTE_KEY))
        if target not in path_map:
            raise ValueError(f"router {node!r} chose {target!r}, which is not one of its targets")
        return target

    builder.add_conditional_edges(source, route, path_map)


def _add_routing(
    builder: StateGraph[Any],
    source: str,
    edges: list[EdgeInfo],
    entry: Entry,
    loop: Loop | None,
    node: str | None,
) -> None:
    """Edges with conditions (or from a loop-limited node): the first edge, in file order,
    whose condition holds wins; edges without a condition are the default; else END."""
    conditioned = [e for e in edges if e.condition is not None]
    defaults = [t for e in edges if e.condition is None for t in e.targets]
    all_targets = {t for e in edges for t in e.targets} | {END}
    if loop is not None:
        all_targets.add(loop[1])
    path_map: dict[Hashable, str] = {t: entry(t) for t in all_targets}

    def route(state: dict[str, Any]) -> list[str]:
        if loop is not None and node is not None and _loop_exceeded(state, node, loop[0]):
            return [loop[1]]
        for e in conditioned:
            assert e.condition is not None
            if e.condition.evaluate(state):
                return list(e.targets)
        return list(defaults) or [END]

    builder.add_conditional_edges(source, route, path_map)
