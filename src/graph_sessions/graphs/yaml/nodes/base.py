"""What every node builder shares: the built node, the build context, and the checks of a
node's fields (its schema, templates, expressions, tool names).

A builder gets the node's raw mapping and a :class:`BuildContext`, reports problems
through ``ctx.problem(path, message)`` (so validation sees all of them) and returns a
:class:`BuiltNode`, or ``None`` when the node cannot be built.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from graph_sessions.graphs.yaml.expressions import (
    Expression,
    ExpressionError,
    compile_expression,
    compile_template,
    compile_value,
)
from graph_sessions.graphs.yaml.schema import (
    InterruptNode,
    NodeBase,
    Path_,
    RouterNode,
    YamlDocument,
    validation_problems,
)

__all__ = [
    "IGNORED_NODE_KEYS",
    "LLM_KEYS",
    "ROUTE_KEY",
    "BuildContext",
    "Builder",
    "BuiltNode",
    "NodeFn",
    "check_update",
    "compile_variables",
    "compile_field",
    "lookup_tool",
    "route_key",
    "validate_node",
    "value_expression",
]

ROUTE_KEY = "_route"  # the state key a router writes its chosen target to

NodeFn = Any  # a node function or a Runnable (sync and async)

# Node keys of YamlGraph files that graph-sessions knowingly ignores (any other unknown key
# of a node is a problem: a misspelled `resume_kye:` must not silently fall back).
IGNORED_NODE_KEYS = frozenset({"requires", "interrupt_output_mapping", "fallback", "max_retries"})

# The keys of an llm call, which interrupt and router nodes with `prompt` accept too.
LLM_KEYS = frozenset(
    {"prompt", "variables", "model", "provider", "temperature", "max_tokens", "chat_model"}
)


@dataclass
class BuiltNode:
    """What a YAML node compiles to.

    ``funcs`` are the LangGraph nodes to add; edges into the YAML node go to ``entry``,
    its outgoing edges leave from ``exit``; ``internal_edges`` wire its own parts;
    ``dispatch`` (map nodes) is the conditional edge out of ``entry``; ``routes`` are a
    router's possible targets; ``writes``/``reads`` are state keys; ``reducers`` force a
    state field's reducer.
    """

    name: str
    type: str
    funcs: list[tuple[str, NodeFn]]
    entry: str
    exit: str
    writes: set[str] = field(default_factory=set)
    reads: set[str] = field(default_factory=set)
    routes: list[str] = field(default_factory=list)
    internal_edges: list[tuple[str, str]] = field(default_factory=list)
    dispatch: tuple[NodeFn, list[str]] | None = None
    reducers: dict[str, str] = field(default_factory=dict)


@dataclass
class BuildContext:
    """Everything node builders share while one graph file is compiled."""

    doc: YamlDocument
    base_dir: Path
    tools: dict[str, Callable[..., Any]]
    tool_names: set[str]
    defaults: dict[str, Any]
    max_map_items: int | None
    load_subgraph: Callable[[str, Path_], Any]
    chat_model: Any = None  # a model object or factory for llm nodes (load_yaml_graph's hook)
    problems: list[Any] = field(default_factory=list)
    state_keys: set[str] = field(default_factory=set)  # filled in before the graph runs

    def problem(self, path: Path_, message: str) -> None:
        """Record a problem at ``path`` of the graph file."""
        self.problems.append(self.doc.problem(path, message))


Builder = Callable[[str, dict[str, Any], BuildContext], BuiltNode | None]


def validate_node(model: type[BaseModel], data: Any, path: Path_, ctx: BuildContext) -> Any:
    """``data`` as a ``model``, or ``None`` after reporting its problems (unknown node
    fields included, with the closest known one as a hint)."""
    try:
        spec = model.model_validate(data)
    except ValidationError as exc:
        ctx.problems.extend(validation_problems(ctx.doc, exc, path))
        return None
    if issubclass(model, NodeBase) and spec.model_extra:
        known = sorted(f.alias or name for name, f in model.model_fields.items())
        if model in (InterruptNode, RouterNode):  # with `prompt`, an llm call's keys too
            known = sorted({*known, *LLM_KEYS})
        unknown = [k for k in spec.model_extra if k not in known and k not in IGNORED_NODE_KEYS]
        node_type = data.get("type", "llm") if isinstance(data, dict) else "llm"
        for key in unknown:
            hint = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            also = f"did you mean {hint[0]!r}?" if hint else f"known: {', '.join(known)}"
            ctx.problem((*path, key), f"unknown field of a {node_type!r} node; {also}")
        if unknown:
            return None
    return spec


def compile_field(text: Any, path: Path_, ctx: BuildContext) -> Any:
    """A field's value with its ``{...}`` templates compiled (``None`` after a problem)."""
    try:
        return compile_value(text)
    except ExpressionError as exc:
        ctx.problem(path, f"bad expression: {exc}")
        return None


def value_expression(text: str, path: Path_, ctx: BuildContext) -> Expression | None:
    """``"{state.items}"`` or ``state.items``: one expression."""
    try:
        tmpl = compile_template(text)
        if tmpl.is_single:
            expr = tmpl.parts[0]
            assert isinstance(expr, Expression)
            return expr
        return compile_expression(text)
    except ExpressionError as exc:
        ctx.problem(path, f"bad expression: {exc}")
        return None


def lookup_tool(name: str | None, path: Path_, ctx: BuildContext) -> Callable[..., Any] | None:
    """The python tool ``name`` of the ``tools`` section (``None`` after a problem)."""
    if not name:
        ctx.problem(path, "required field is missing (name a tool of the `tools` section)")
        return None
    if name not in ctx.tool_names:
        known = ", ".join(sorted(ctx.tool_names)) or "none defined"
        ctx.problem(path, f"unknown tool {name!r} (tools: {known})")
        return None
    return ctx.tools.get(name)  # None if the tool itself failed to load (reported there)


def compile_variables(
    variables: Mapping[Any, Any], path: Path_, ctx: BuildContext
) -> tuple[dict[str, Any], bool]:
    """A node's ``variables`` compiled, and whether all of them compiled."""
    compiled: dict[str, Any] = {}
    ok = True
    for key, text in variables.items():
        value = compile_field(text, (*path, "variables", key), ctx)
        ok = ok and value is not None
        compiled[str(key)] = value
    return compiled, ok


def route_key(value: Any) -> str:
    """A router's value as the key of its ``routes`` (``true``/``false``/``null`` as YAML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def check_update(node: str, update: Mapping[str, Any], ctx: BuildContext) -> dict[str, Any]:
    """A node's update, refused when it writes keys that are not state fields."""
    unknown = sorted(k for k in update if k not in ctx.state_keys)
    if unknown:
        raise KeyError(
            f"node {node!r} returned key(s) {unknown} that are not state fields; "
            "declare them under `state:` in the graph file"
        )
    return dict(update)
