"""``type: python``: call a python tool (or a dotted function) with the state."""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Callable, Mapping
from typing import Any

from graph_sessions.graphs.yaml.expressions import render_value, value_fields
from graph_sessions.graphs.yaml.nodes.base import (
    BuildContext,
    BuiltNode,
    NodeFn,
    check_update,
    compile_variables,
    lookup_tool,
    validate_node,
)
from graph_sessions.graphs.yaml.schema import Path_, PythonNode

log = logging.getLogger("graph_sessions.yaml")

__all__ = ["IN_MAP", "build_python"]

IN_MAP = "_in_map"  # set by a map node on its sub-node: the item's update is not checked


def _dotted_function(ref: str, path: Path_, ctx: BuildContext) -> Callable[..., Any] | None:
    """``function: package.module.func`` on a python node: import it directly."""
    module_name, _, attr = ref.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        ctx.problem(path, f"cannot import {module_name!r}: {type(exc).__name__}: {exc}")
        return None
    fn = getattr(module, attr, None)
    if fn is None or not callable(fn):
        ctx.problem(path, f"{module_name!r} has no function {attr!r}")
        return None
    return fn


def _python_callable(
    spec: PythonNode, path: Path_, ctx: BuildContext
) -> tuple[Callable[..., Any] | None, dict[str, Any], bool]:
    tool_name = spec.tool or spec.function
    field_name = "tool" if spec.tool else "function"
    if (
        spec.tool is None
        and spec.function
        and "." in spec.function
        and spec.function not in ctx.tool_names
    ):
        fn = _dotted_function(spec.function, (*path, "function"), ctx)
    else:
        fn = lookup_tool(tool_name, (*path, field_name), ctx)
    variables, ok = compile_variables(spec.variables, path, ctx)
    return fn, variables, ok and fn is not None


def build_python(name: str, raw: dict[str, Any], ctx: BuildContext) -> BuiltNode | None:
    """Call a python tool with the state (plus rendered ``variables``). A dict result is a
    state update; any other result is written to ``state_key`` (default: the node name)."""
    path: Path_ = ("nodes", name)
    raw = dict(raw)
    in_map = bool(raw.pop(IN_MAP, False))
    spec = validate_node(PythonNode, raw, path, ctx)
    if spec is None:
        return None
    fn, variables, ok = _python_callable(spec, path, ctx)
    if not ok or fn is None:
        return None
    tool = fn
    state_key = spec.state_key or name
    on_error = spec.on_error

    def finish(result: Any) -> dict[str, Any]:
        if result is None:
            return {}
        if isinstance(result, Mapping):
            return dict(result) if in_map else check_update(name, result, ctx)
        return {state_key: result}

    def effective(state: dict[str, Any]) -> dict[str, Any]:
        if not variables:
            return state
        return {**state, **{k: render_value(v, state) for k, v in variables.items()}}

    where = f"in the YAML graph {ctx.doc.file}, python node {name!r} (tool {spec.tool or spec.function!r})"
    if inspect.iscoroutinefunction(tool):

        async def run_async(state: dict[str, Any]) -> dict[str, Any]:
            try:
                return finish(await tool(effective(state)))
            except Exception as exc:
                if on_error == "skip":
                    log.exception("python node %r failed (on_error: skip)", name)
                    return {}
                exc.add_note(where)
                raise

        func: NodeFn = run_async
    else:

        def run_sync(state: dict[str, Any]) -> dict[str, Any]:
            try:
                return finish(tool(effective(state)))
            except Exception as exc:
                if on_error == "skip":
                    log.exception("python node %r failed (on_error: skip)", name)
                    return {}
                exc.add_note(where)
                raise

        func = run_sync
    reads = set().union(*(value_fields(v) for v in variables.values())) if variables else set()
    return BuiltNode(name, "python", [(name, func)], name, name, {state_key}, reads)
