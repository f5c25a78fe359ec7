"""``type: router``: choose the next node from an expression, a tool or an LLM's answer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from graph_sessions.graphs.yaml.expressions import Expression
from graph_sessions.graphs.yaml.nodes.base import (
    LLM_KEYS,
    ROUTE_KEY,
    BuildContext,
    BuiltNode,
    NodeFn,
    lookup_tool,
    route_key,
    validate_node,
    value_expression,
)
from graph_sessions.graphs.yaml.nodes.chat_models import extract_json
from graph_sessions.graphs.yaml.nodes.llm import build_llm
from graph_sessions.graphs.yaml.nodes.running import wrap_node
from graph_sessions.graphs.yaml.schema import Path_, RouterNode

__all__ = ["build_router"]

_LLM_ANSWER = "__router_answer__"


@dataclass
class _ValueSource:
    """Where a router's value comes from: exactly one of the three is set."""

    expression: Expression | None = None
    tool: Callable[..., Any] | None = None
    llm: BuiltNode | None = None


def _value_source(
    name: str, spec: RouterNode, raw: dict[str, Any], path: Path_, ctx: BuildContext
) -> _ValueSource | None:
    """The router's one value source (``expression``, ``tool`` or ``prompt``), checked."""
    given = [k for k in ("expression", "tool", "prompt") if getattr(spec, k) is not None]
    if len(given) > 1:
        ctx.problem(
            path, f"give one of `expression`, `tool` or `prompt`, not {' and '.join(given)}"
        )
        return None
    if spec.prompt is not None:
        llm_raw = {k: v for k, v in raw.items() if k in LLM_KEYS}
        llm_raw.update(type="llm", state_key=_LLM_ANSWER, parse_json=False)
        llm = build_llm(name, llm_raw, ctx)
        return _ValueSource(llm=llm) if llm is not None else None
    if spec.expression is not None:
        expr = value_expression(spec.expression, (*path, "expression"), ctx)
        return _ValueSource(expression=expr) if expr is not None else None
    if spec.tool is not None:
        fn = lookup_tool(spec.tool, (*path, "tool"), ctx)
        return _ValueSource(tool=fn) if fn is not None else None
    ctx.problem(path, "a router needs `expression` (over the state), `tool` or `prompt` (an LLM)")
    return None


def _decider(name: str, spec: RouterNode) -> Callable[[Any], dict[str, Any]]:
    """The value -> the update naming the target (and the value at ``state_key``)."""
    routes = dict(spec.routes)
    default = spec.default_route
    route_field = spec.route_field
    state_key = spec.state_key

    def decide(value: Any) -> dict[str, Any]:
        result = value
        if route_field and isinstance(value, Mapping):
            value = value.get(route_field)
        key = route_key(value)
        target = routes.get(key, default)
        if target is None:
            raise ValueError(
                f"router {name!r}: value {key!r} matches no route ({', '.join(routes)}) "
                "and there is no default_route"
            )
        update: dict[str, Any] = {ROUTE_KEY: target}
        if state_key:
            update[state_key] = result
        return update

    return decide


def _router_function(
    name: str, source: _ValueSource, decide: Callable[[Any], dict[str, Any]]
) -> tuple[NodeFn, set[str]]:
    """The node function for the value source, and the state keys it reads."""
    if source.expression is not None:
        router_expr = source.expression

        def route_by_expression(state: dict[str, Any]) -> dict[str, Any]:
            return decide(router_expr.evaluate(state))

        return route_by_expression, router_expr.fields
    if source.llm is not None:

        def decide_llm(update: Mapping[str, Any]) -> dict[str, Any]:
            text = str(update.get(_LLM_ANSWER, ""))
            try:
                value: Any = extract_json(text)
            except ValueError:
                value = text.strip()
            return decide(value)

        return wrap_node(name, source.llm.funcs[0][1], decide_llm), source.llm.reads
    assert source.tool is not None
    return wrap_node(name, source.tool, decide), set()


def build_router(name: str, raw: dict[str, Any], ctx: BuildContext) -> BuiltNode | None:
    """Evaluate ``expression``, or call ``tool``, or ask a chat model with ``prompt`` (its
    answer is read as JSON when it is JSON, else as text); a dict result is read at
    ``route_field``. The value is looked up in ``routes`` (else ``default_route``), the
    target written to ``_route`` for the conditional edge, and the whole result to
    ``state_key``, if given."""
    path: Path_ = ("nodes", name)
    data = dict(raw)
    if isinstance(data.get("routes"), dict):
        data["routes"] = {route_key(k): v for k, v in data["routes"].items()}
    spec = validate_node(RouterNode, data, path, ctx)
    if spec is None:
        return None
    source = _value_source(name, spec, raw, path, ctx)
    if source is None:
        return None
    func, reads = _router_function(name, source, _decider(name, spec))
    default = spec.default_route
    targets = list(dict.fromkeys([*spec.routes.values(), *([default] if default else [])]))
    writes = {ROUTE_KEY} | ({spec.state_key} if spec.state_key else set())
    return BuiltNode(name, "router", [(name, func)], name, name, writes, reads, routes=targets)
