"""Draw a YAML graph as a Mermaid flowchart, at the level of the file's own nodes."""

from __future__ import annotations

import hashlib
from pathlib import Path

from langgraph.graph import END, START

from graph_sessions.errors import GraphLoadError
from graph_sessions.graphs.yaml.plan import GraphPlan, plan_yaml_graph, problems_message
from graph_sessions.graphs.yaml.schema import GraphFileSpec

__all__ = ["plan_to_mermaid", "yaml_to_mermaid"]

_SHAPES = {
    "router": ('{{"', '"}}'),
    "interrupt": ('[/"', '"/]'),
    "map": ('[["', '"]]'),
    "subgraph": ('[["', '"]]'),
    "llm": ('("', '")'),
    "python": ('["', '"]'),
    "passthrough": ('["', '"]'),
}


def _id(name: str) -> str:
    if name == START:
        return "__start__"
    if name == END:
        return "__end__"
    safe = "".join(c if (c.isascii() and c.isalnum()) or c == "_" else "_" for c in name)
    if safe != name:  # keep ids ASCII and distinct ("a-b" and "a_b" are two nodes)
        safe += "_" + hashlib.sha1(name.encode()).hexdigest()[:6]
    return "n_" + safe


def _label(text: str) -> str:
    return text.replace('"', "#quot;").replace("|", "#124;")


def plan_to_mermaid(plan: GraphPlan) -> str:
    """The Mermaid ``flowchart`` of a valid :class:`GraphPlan`."""
    if plan.spec is None or plan.problems:
        raise GraphLoadError(problems_message(plan.file, plan.problems))
    lines = ["---", f"title: {plan.spec.name}", "---", "flowchart TD"]
    lines.append("    __start__([START])")
    lines += _node_lines(plan.spec, plan)
    lines.append("    __end__([END])")
    lines += _edge_lines(plan)
    lines += _router_lines(plan.spec, plan)
    lines += _loop_lines(plan.spec)
    return "\n".join(lines) + "\n"


def _end_or(target: str) -> str:
    return END if target in ("END", "__end__") else target


def _node_lines(spec: GraphFileSpec, plan: GraphPlan) -> list[str]:
    """One shape per node, labelled with its name and type."""
    lines = []
    for name, built in plan.nodes.items():
        left, right = _SHAPES.get(built.type, ('["', '"]'))
        extra = ""
        if built.type == "map":
            raw = spec.nodes[name]
            extra = f"<br/>for each {raw.get('as')} in {raw.get('over')}"
        lines.append(
            f"    {_id(name)}{left}{_label(name)}<br/><i>{built.type}</i>{_label(extra)}{right}"
        )
    return lines


def _edge_lines(plan: GraphPlan) -> list[str]:
    """The file's edges (a condition as the arrow's label); conditional edges are drawn
    from the router's routes."""
    lines = []
    for e in plan.edges:
        if e.conditional:
            continue
        arrow = "-->"
        if e.condition is not None:
            arrow = f'-->|"{_label(e.condition.source)}"|'
        lines += [f"    {_id(e.source)} {arrow} {_id(t)}" for t in e.targets]
    return lines


def _router_lines(spec: GraphFileSpec, plan: GraphPlan) -> list[str]:
    """Each router's targets, dotted, labelled with the route keys that lead there."""
    lines = []
    for name, built in plan.nodes.items():
        if built.type != "router":
            continue
        raw = spec.nodes[name]
        labels: dict[str, list[str]] = {}
        for key, target in (raw.get("routes") or {}).items():
            labels.setdefault(str(target), []).append(str(key))
        if raw.get("default_route"):
            labels.setdefault(str(raw["default_route"]), []).append("default")
        for e in plan.edges:
            if e.source == name:
                for t in e.targets:
                    labels.setdefault(t, [])
        for target, keys in labels.items():
            label = f'|"{_label(", ".join(keys))}"|' if keys else ""
            lines.append(f"    {_id(name)} -.->{label} {_id(_end_or(target))}")
    return lines


def _loop_lines(spec: GraphFileSpec) -> list[str]:
    """A dotted exit from each loop-limited node."""
    return [
        f'    {_id(name)} -.->|"after {limit} runs"| {_id(_end_or(spec.loop_exits.get(name, "END")))}'
        for name, limit in spec.loop_limits.items()
    ]


def yaml_to_mermaid(path: str | Path) -> str:
    """The Mermaid diagram of the YAML graph at ``path``; raises
    :class:`~graph_sessions.errors.GraphLoadError` (listing every problem) when it is invalid."""
    return plan_to_mermaid(plan_yaml_graph(path))
