"""``type: subgraph``: run another graph (YAML or python) inside one node."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.runnables import RunnableConfig

from graph_sessions.graphs.yaml.nodes.base import BuildContext, BuiltNode, validate_node
from graph_sessions.graphs.yaml.nodes.running import dual
from graph_sessions.graphs.yaml.schema import Path_, SubgraphNode

__all__ = ["build_subgraph"]


def build_subgraph(name: str, raw: dict[str, Any], ctx: BuildContext) -> BuiltNode | None:
    """Run another graph (YAML file, ``file.py:attr`` or ``module:attr``) inside one node.

    ``input_mapping`` maps parent keys to child keys (without it the whole state goes in);
    ``output_mapping`` maps parent keys to child keys (without it, every child key that is
    also a parent state field comes back). The child shares the session's checkpointer, so
    an interrupt inside it pauses the parent and resumes where it stopped."""
    path: Path_ = ("nodes", name)
    spec = validate_node(SubgraphNode, raw, path, ctx)
    if spec is None:
        return None
    child = ctx.load_subgraph(spec.graph, (*path, "graph"))
    if child is None:
        return None
    input_mapping = dict(spec.input_mapping)
    output_mapping = dict(spec.output_mapping)

    def child_input(state: dict[str, Any]) -> dict[str, Any]:
        if input_mapping:
            return {c: state.get(p) for p, c in input_mapping.items()}
        return {k: v for k, v in state.items() if not k.startswith("_")}

    def sync(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        return finish(child.invoke(child_input(state), config))

    async def run_async(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        return finish(await child.ainvoke(child_input(state), config))

    def finish(result: Any) -> dict[str, Any]:
        if not isinstance(result, Mapping):
            result = {"output": result}
        if output_mapping:
            return {p: result.get(c) for p, c in output_mapping.items()}
        return {
            k: v
            for k, v in result.items()
            if k in ctx.state_keys and not k.startswith("_") and k != "__interrupt__"
        }

    return BuiltNode(
        name,
        "subgraph",
        [(name, dual(name, sync, run_async))],
        name,
        name,
        set(output_mapping),
        set(input_mapping),
    )
