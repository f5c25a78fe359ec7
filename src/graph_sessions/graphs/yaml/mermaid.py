"""Draw a YAML graph as a Mermaid flowchart, at the level of the file's own nodes."""

from __future__ import annotations

import hashlib
from pathlib import Path

from langgraph.graph import END, START

from graph_sessions.errors import GraphLoadError
from graph_sessions.graphs.yaml.plan import GraphPlan, plan_yaml_graph, problems_message

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
    spec = plan.spec
    lines = ["---", f"title: {spec.name}", "---", "flowchart TD"]
    lines.append("    __start__([START])")
    for name, built in plan.nodes.items():
        left, right = _SHAPES.get(built.type, ('["', '"]'))
        extra = ""
        if built.type == "map":
            raw = spec.nodes[name]
            extra = f"<br/>for each {raw.get('as')} in {raw.get('over')}"
        lines.append(
            f"    {_id(name)}{left}{_label(name)}<br/><i>{built.type}</i>{_label(extra)}{right}"
        )
    lines.append("    __end__([END])")
    for e in plan.edges:
        for t in e.targets:
            if e.conditional:
                continue  # drawn from the router's routes below
            arrow = "-->"
            if e.condition is not None:
                arrow = f'-->|"{_label(e.condition.source)}"|'
            lines.append(f"    {_id(e.source)} {arrow} {_id(t)}")
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
            ref = END if target in ("END", "__end__") else target
            label = f'|"{_label(", ".join(keys))}"|' if keys else ""
            lines.append(f"    {_id(name)} -.->{label} {_id(ref)}")
    for name, limit in spec.loop_limits.items():
        target = spec.loop_exits.get(name, "END")
        ref = END if target in ("END", "__end__") else target
        lines.append(f'    {_id(name)} -.->|"after {limit} runs"| {_id(ref)}')
    return "\n".join(lines) + "\n"


def yaml_to_mermaid(path: str | Path) -> str:
    """The Mermaid diagram of the YAML graph at ``path``; raises
    :class:`~graph_sessions.errors.GraphLoadError` (listing every problem) when it is invalid."""
    return plan_to_mermaid(plan_yaml_graph(path))
