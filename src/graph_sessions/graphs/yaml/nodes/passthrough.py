"""``type: passthrough``: write rendered templates to the state."""

from __future__ import annotations

from typing import Any

from graph_sessions.graphs.yaml.expressions import render_value, value_fields
from graph_sessions.graphs.yaml.nodes.base import (
    BuildContext,
    BuiltNode,
    compile_field,
    validate_node,
)
from graph_sessions.graphs.yaml.schema import PassthroughNode, Path_

__all__ = ["build_passthrough"]


def build_passthrough(name: str, raw: dict[str, Any], ctx: BuildContext) -> BuiltNode | None:
    """``output: {key: template}``: every template is rendered on the incoming state."""
    path: Path_ = ("nodes", name)
    spec = validate_node(PassthroughNode, raw, path, ctx)
    if spec is None:
        return None
    outputs: dict[str, Any] = {}
    ok = True
    for key, text in spec.output.items():
        compiled = compile_field(text, (*path, "output", key), ctx)
        ok = ok and (compiled is not None or text is None)
        outputs[str(key)] = compiled
    if not ok:
        return None

    def passthrough(state: dict[str, Any]) -> dict[str, Any]:
        return {k: render_value(v, state) for k, v in outputs.items()}

    reads: set[str] = set()
    for v in outputs.values():
        reads |= value_fields(v)
    return BuiltNode(name, "passthrough", [(name, passthrough)], name, name, set(outputs), reads)
