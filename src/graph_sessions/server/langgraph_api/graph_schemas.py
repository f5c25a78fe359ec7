"""What LangGraph's server tells about a graph: its JSON schemas (input, output, state,
config, context), its subgraphs' schemas and its drawable graph, computed as
``langgraph_api/api/assistants.py`` does so that clients (Studio, the SDK) read the same."""

from __future__ import annotations

import logging
from typing import Any

from langchain_core.runnables.utils import create_model
from langgraph.pregel import Pregel
from pydantic import TypeAdapter

log = logging.getLogger("graph_sessions.server")

#: configurable keys LangGraph fills itself: not part of a graph's config schema
EXCLUDED_CONFIG_KEYS = (
    "__pregel_checkpointer",
    "__pregel_store",
    "checkpoint_id",
    "checkpoint_ns",
    "thread_id",
)


def configurable_schema(graph: Pregel) -> dict[str, Any]:
    """The JSON schema of the ``configurable`` part of the graph's config (``{}``: none)."""
    config_schema = graph.config_schema()
    fields = getattr(config_schema, "model_fields", None)
    if fields is None or "configurable" not in fields:
        return {}
    annotation: Any = fields["configurable"].annotation
    schema: dict[str, Any] = TypeAdapter(annotation).json_schema()
    if schema:
        for key in EXCLUDED_CONFIG_KEYS:
            schema.get("properties", {}).pop(key, None)
    config_type = getattr(graph, "config_type", None)
    if config_type is not None and hasattr(config_type, "__name__"):
        schema["title"] = config_type.__name__
    return schema


def state_schema(graph: Pregel) -> dict[str, Any]:
    """The JSON schema of the graph's state: one property per stream channel."""
    fields: dict[str, Any] = {}
    for key in graph.stream_channels_list:
        channel: Any = graph.channels[key]
        try:
            create_model(key, __root__=(channel.UpdateType, None)).model_json_schema()
            fields[key] = (channel.UpdateType, None)
        except Exception:
            fields[key] = (Any, None)
    schema: dict[str, Any] = create_model(graph.get_name("State"), **fields).model_json_schema()
    return schema


def _attempt(graph: Any, what: str, compute: Any) -> Any:
    try:
        return compute()
    except Exception as exc:  # a schema LangGraph cannot build: null, as LangGraph answers
        log.warning("no %s schema for graph %s: %s", what, graph.name, exc)
        return None


def graph_schemas(graph: Any) -> dict[str, Any]:
    """``{input_schema, output_schema, state_schema, config_schema, context_schema}``."""
    return {
        "input_schema": _attempt(graph, "input", graph.get_input_jsonschema),
        "output_schema": _attempt(graph, "output", graph.get_output_jsonschema),
        "state_schema": _attempt(graph, "state", lambda: state_schema(graph)),
        "config_schema": _attempt(graph, "config", lambda: configurable_schema(graph)),
        "context_schema": _attempt(graph, "context", graph.get_context_jsonschema),
    }


async def subgraph_schemas(
    graph: Pregel, namespace: str | None, recurse: bool
) -> dict[str, dict[str, Any]]:
    """The schemas of each subgraph, keyed by namespace (only ``namespace`` when given)."""
    return {
        ns: graph_schemas(sub)
        async for ns, sub in graph.aget_subgraphs(namespace=namespace, recurse=recurse)
    }


async def drawable_graph(graph: Pregel, xray: bool | int) -> dict[str, Any]:
    """The graph's nodes and edges (``xray``: subgraphs expanded, that many levels)."""
    drawn = await graph.aget_graph(xray=xray)
    out: dict[str, Any] = drawn.to_json()
    for node in out.get("nodes", []):
        data = node.get("data")
        if isinstance(data, dict):
            data.pop("id", None)
    return out


__all__ = [
    "configurable_schema",
    "drawable_graph",
    "graph_schemas",
    "state_schema",
    "subgraph_schemas",
]
