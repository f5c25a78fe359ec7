"""One builder per node type: YAML node spec -> LangGraph node function(s).

Each node type has its module (:mod:`.passthrough`, :mod:`.interrupt`, :mod:`.python`,
:mod:`.router`, :mod:`.subgraph`, :mod:`.map`, :mod:`.llm`); what they share is in
:mod:`.base` (the built node, the build context, field checks) and :mod:`.running`
(running a node function sync or async); ``llm`` nodes' prompt files and chat models
are in :mod:`.prompts` and :mod:`.chat_models`.
"""

from __future__ import annotations

from typing import Any

from graph_sessions.graphs.yaml.nodes.base import BuildContext, Builder, BuiltNode
from graph_sessions.graphs.yaml.nodes.interrupt import build_interrupt
from graph_sessions.graphs.yaml.nodes.llm import build_llm
from graph_sessions.graphs.yaml.nodes.map import build_map
from graph_sessions.graphs.yaml.nodes.passthrough import build_passthrough
from graph_sessions.graphs.yaml.nodes.python import build_python
from graph_sessions.graphs.yaml.nodes.router import build_router
from graph_sessions.graphs.yaml.nodes.subgraph import build_subgraph
from graph_sessions.graphs.yaml.reducers import MAP_RESET
from graph_sessions.graphs.yaml.schema import NODE_MODELS, Path_

__all__ = ["KNOWN_NODE_TYPES", "MAP_RESET", "BuildContext", "BuiltNode", "build_node"]

KNOWN_NODE_TYPES: tuple[str, ...] = tuple(NODE_MODELS)

_BUILDERS: dict[str, Builder] = {
    "passthrough": build_passthrough,
    "interrupt": build_interrupt,
    "python": build_python,
    "router": build_router,
    "subgraph": build_subgraph,
    "map": build_map,
    "llm": build_llm,
}


def build_node(name: str, raw: Any, ctx: BuildContext) -> BuiltNode | None:
    """Build the YAML node ``name`` (reports an unknown ``type`` with the known ones)."""
    path: Path_ = ("nodes", name)
    if not isinstance(raw, dict):
        ctx.problem(path, f"a node must be a mapping, not {type(raw).__name__}")
        return None
    node_type = raw.get("type", "llm")
    if not isinstance(node_type, str) or node_type not in _BUILDERS:
        known = ", ".join(KNOWN_NODE_TYPES)
        ctx.problem((*path, "type"), f"unknown node type {node_type!r} (known types: {known})")
        return None
    return _BUILDERS[node_type](name, raw, ctx)
