"""Tool names and input schemas derived from the graphs a manager serves."""

from __future__ import annotations

import copy
import re
from typing import Any

from langgraph.pregel import Pregel

#: the prefix of the tool that runs a graph: ``run_<graph id>``
RUN_PREFIX = "run_"
#: the longest tool name MCP clients accept
MAX_TOOL_NAME = 64

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def run_tool_name(graph_id: str) -> str:
    """``run_<graph_id>`` with every character a tool name may not hold made ``_`` (and at
    most :data:`MAX_TOOL_NAME` characters)."""
    safe = _UNSAFE.sub("_", graph_id).strip("_") or "graph"
    return (RUN_PREFIX + safe)[:MAX_TOOL_NAME]


def run_tool_names(graph_ids: list[str]) -> dict[str, str]:
    """Tool name → graph id for every graph, a sanitized name that collides with an earlier
    one getting a numbered suffix."""
    out: dict[str, str] = {}
    for graph_id in graph_ids:
        name = base = run_tool_name(graph_id)
        n = 2
        while name in out:
            suffix = f"_{n}"
            name = base[: MAX_TOOL_NAME - len(suffix)] + suffix
            n += 1
        out[name] = graph_id
    return out


def graph_input_schema(graph: Pregel) -> dict[str, Any]:
    """The JSON schema of the graph's input (an object schema; ``{"type": "object"}`` when
    the graph does not say)."""
    try:
        schema = dict(graph.get_input_jsonschema())
    except Exception:  # a state type pydantic cannot describe: accept any object
        return {"type": "object"}
    if schema.get("type") not in ("object", None):
        return schema
    schema.setdefault("type", "object")
    return schema


def run_tool_schema(graph: Pregel) -> dict[str, Any]:
    """The input schema of a graph's run tool: ``session_id`` (optional) and ``input`` (the
    graph's input schema, its ``$defs`` lifted to the tool schema's root so that
    ``#/$defs/...`` references still resolve)."""
    inner = copy.deepcopy(graph_input_schema(graph))
    defs = inner.pop("$defs", None)
    inner.pop("title", None)
    inner["description"] = (
        "The graph's input (its state keys). On a session paused at an interrupt, this "
        "answers the interrupt (the value under the interrupt's resume_key, else the whole "
        "input)."
    )
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "session_id": {
                "type": "string",
                "description": "The session to run in; leave out to start a new session "
                "(its id comes back in the result).",
            },
            "input": inner,
        },
        "required": ["input"],
        "additionalProperties": False,
    }
    if defs:
        schema["$defs"] = defs
    return schema


def input_validation_schema(tool_schema: dict[str, Any]) -> dict[str, Any]:
    """The schema that checks a run tool's ``input`` value alone (with the root's ``$defs``)."""
    inner = dict(tool_schema["properties"]["input"])
    if "$defs" in tool_schema:
        inner["$defs"] = tool_schema["$defs"]
    return inner


def describe_graph(graph_id: str, graph: Pregel) -> str:
    """The description of a graph's run tool: what it does and which input keys it takes."""
    props = graph_input_schema(graph).get("properties") or {}
    keys = ", ".join(
        f"{k} ({v.get('type', 'any')})" if isinstance(v, dict) else k for k, v in props.items()
    )
    nodes = [n for n in graph.nodes if not n.startswith("__")]
    return (
        f"Run the graph {graph_id!r} (nodes: {', '.join(nodes) or 'none'}) in a durable "
        "session and wait until it ends or pauses at an interrupt. Pass session_id to "
        "continue a session, leave it out to start one. Input keys: "
        f"{keys or 'any object'}. Returns the session id, status (complete or interrupted), "
        "output, a summary of the state and, when interrupted, the pending interrupt with "
        "its question: answer it with resume_session (or by running again with input)."
    )
