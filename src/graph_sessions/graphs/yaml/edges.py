"""Edge planning: check the ``edges`` section, router routes and loop limits against the
nodes, and find the nodes no path from START reaches.

Every problem is reported in one pass: each part of an edge is checked even when another
part is already wrong. Reachability is computed even when other things are wrong, from
every usable target of every edge; the targets of an edge whose source is itself wrong are
not reported as unreachable (the broken edge is the reported cause).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from langgraph.graph import END, START

from graph_sessions.graphs.yaml.expressions import Expression, ExpressionError, compile_condition
from graph_sessions.graphs.yaml.nodes.base import BuiltNode
from graph_sessions.graphs.yaml.schema import GraphFileSpec, Path_, YamlDocument, YamlProblem

__all__ = ["END_NAMES", "START_NAMES", "EdgeInfo", "node_ref", "plan_edges"]

START_NAMES = frozenset({"START", "__start__"})
END_NAMES = frozenset({"END", "__end__"})
_EDGE_TYPES = (None, "conditional", "normal", "default")


@dataclass
class EdgeInfo:
    """One checked edge: targets are node names or ``END``."""

    index: int
    source: str  # a node name or START
    targets: list[str]
    condition: Expression | None = None
    conditional: bool = False


def node_ref(name: Any) -> str:
    """A node name as written (``START``/``END`` in either spelling) -> LangGraph's name."""
    if isinstance(name, str):
        if name in START_NAMES:
            return START
        if name in END_NAMES:
            return END
    return str(name)


def plan_edges(
    doc: YamlDocument,
    spec: GraphFileSpec,
    nodes: Mapping[str, BuiltNode],
    dropped: set[Path_],
    problems: list[YamlProblem],
) -> list[EdgeInfo]:
    """The file's valid edges, every problem of the edges, routes, loop limits and
    reachability appended to ``problems``. ``dropped`` are the top-level paths left out
    as invalid (their problems are already reported)."""
    planner = _EdgePlanner(doc, spec, nodes, problems)
    for i, raw in enumerate(spec.edges):
        edge = planner.plan_edge(i, raw)
        if edge is not None:
            planner.edges.append(edge)
    planner.check_router_targets()
    planner.check_loop_limits()
    planner.check_loop_exits(dropped)
    planner.check_reachability(dropped)
    return planner.edges


@dataclass
class _EdgePlanner:
    doc: YamlDocument
    spec: GraphFileSpec
    nodes: Mapping[str, BuiltNode]
    problems: list[YamlProblem]
    edges: list[EdgeInfo] = field(default_factory=list)
    reach: dict[str, set[str]] = field(default_factory=dict)  # source -> usable targets
    excused: set[str] = field(default_factory=set)  # targets of edges with a bad source
    start_edge: bool = False  # some edge leaves START
    known: set[str] = field(init=False)  # the file's node names, built or not

    def __post_init__(self) -> None:
        self.known = set(self.spec.nodes)

    def report(self, path: Path_, message: str) -> None:
        self.problems.append(self.doc.problem(path, message))

    def usable(self, name: Any) -> str | None:
        """``name`` as a target for reachability: END or a known node, else ``None``."""
        ref = node_ref(name) if isinstance(name, str) else None
        return ref if ref is not None and (ref == END or ref in self.known) else None

    def add_reach(self, source: str, targets: Any) -> None:
        usable = (self.usable(t) for t in targets)
        self.reach.setdefault(source, set()).update(u for u in usable if u is not None)

    def check_target(self, name: Any, where: Path_) -> str | None:
        """An edge's target: END or a known node (``None`` after reporting it)."""
        ref = node_ref(name)
        if ref == END:
            return END
        if ref == START:
            self.report(where, "an edge cannot go to START")
            return None
        if ref not in self.known:
            nodes = ", ".join(sorted(self.known)) or "none"
            self.report(where, f"edge to unknown node {ref!r} (nodes: {nodes})")
            return None
        return ref

    # ------------------------------------------------------------------ one edge

    def plan_edge(self, i: int, raw: Any) -> EdgeInfo | None:
        """The checked edge ``edges[i]``, or ``None`` after reporting its problems."""
        path: Path_ = ("edges", i)
        if not isinstance(raw, dict):
            self.report(path, "an edge must be a mapping with `from` and `to`")
            return None
        self.note_reach(raw)
        if not self.has_from_and_to(raw, path):
            return None
        source = node_ref(raw["from"])
        if source == END:
            self.report((*path, "from"), "an edge cannot leave END")
            return None
        # Every part of the edge is checked, so one pass reports all its problems.
        source_ok = self.source_is_known(source, path)
        targets = self.edge_targets(raw["to"], path)
        type_ok = self.edge_type_is_known(raw.get("type"), path)
        conditional = raw.get("type") == "conditional"
        conditional_ok = not conditional or self.leaves_a_router(source, path)
        condition, condition_ok = self.edge_condition(raw.get("condition"), conditional, path)
        if targets is None or not (source_ok and type_ok and conditional_ok and condition_ok):
            return None
        return EdgeInfo(i, source, targets, condition, conditional)

    def note_reach(self, raw: dict[str, Any]) -> None:
        """Record the edge's usable targets for reachability, however wrong the edge is."""
        raw_to = raw.get("to")
        to_names = [
            t for t in (raw_to if isinstance(raw_to, list) else [raw_to]) if isinstance(t, str)
        ]
        raw_from = node_ref(raw["from"]) if isinstance(raw.get("from"), str) else None
        if raw_from is not None and (raw_from == START or raw_from in self.known):
            self.start_edge = self.start_edge or raw_from == START
            self.add_reach(raw_from, to_names)
        else:
            self.excused.update(to_names)

    def has_from_and_to(self, raw: dict[str, Any], path: Path_) -> bool:
        missing = [key for key in ("from", "to") if key not in raw]
        for key in missing:
            self.report((*path, key), "required field is missing")
        return not missing

    def source_is_known(self, source: str, path: Path_) -> bool:
        if source == START or source in self.known:
            return True
        nodes = ", ".join(sorted(self.known))
        self.report((*path, "from"), f"edge from unknown node {source!r} (nodes: {nodes})")
        return False

    def edge_targets(self, to: Any, path: Path_) -> list[str] | None:
        """``to`` (a name or a list of names) checked, or ``None`` if any is wrong."""
        items = to if isinstance(to, list) else [to]
        if not items or not all(isinstance(t, str) for t in items):
            self.report((*path, "to"), "must be a node name, END, or a list of node names")
            return None
        targets: list[str] = []
        for j, t in enumerate(items):
            where = (*path, "to", j) if isinstance(to, list) else (*path, "to")
            ref = self.check_target(t, where)
            if ref is not None:
                targets.append(ref)
        return targets if len(targets) == len(items) else None

    def edge_type_is_known(self, etype: Any, path: Path_) -> bool:
        if etype in _EDGE_TYPES:
            return True
        self.report((*path, "type"), f"unknown edge type {etype!r} (known: conditional)")
        return False

    def leaves_a_router(self, source: str, path: Path_) -> bool:
        """A ``type: conditional`` edge must leave a router node."""
        built = self.nodes.get(source)
        if source != START and (
            source not in self.spec.nodes or built is None or built.type == "router"
        ):
            return True  # an unknown or unbuilt source is reported elsewhere
        kind = "START" if source == START else f"a {built.type if built else '?'} node"
        self.report(
            (*path, "type"),
            f"`type: conditional` edges leave a router node; {source!r} is {kind}",
        )
        return False

    def edge_condition(
        self, text: Any, conditional: bool, path: Path_
    ) -> tuple[Expression | None, bool]:
        """The edge's compiled ``condition`` (if any), and whether it is fine."""
        if text is None:
            return None, True
        if conditional:
            self.report(
                (*path, "condition"),
                "a conditional (router) edge is chosen by the router's routes; "
                "remove `condition` or `type: conditional`",
            )
            return None, False
        try:
            return compile_condition(text), True
        except ExpressionError as exc:
            self.report((*path, "condition"), f"bad condition: {exc}")
            return None, False

    # ------------------------------------------------------------------ the rest

    def check_router_targets(self) -> None:
        """Each router's routes and default route: reachable from it, and known nodes."""
        for name, raw_node in self.spec.nodes.items():
            if not isinstance(raw_node, dict) or raw_node.get("type") != "router":
                continue
            routes = raw_node.get("routes")
            choices = [*(routes.values() if isinstance(routes, dict) else [])]
            self.add_reach(name, [*choices, raw_node.get("default_route")])
            built = self.nodes.get(name)
            if built is None or built.type != "router":
                continue  # its own problems are reported
            for key, target in (raw_node.get("routes") or {}).items():
                self.check_target(target, ("nodes", name, "routes", key))
            if raw_node.get("default_route") is not None:
                self.check_target(raw_node["default_route"], ("nodes", name, "default_route"))

    def check_loop_limits(self) -> None:
        for name, limit in self.spec.loop_limits.items():
            if name not in self.known:
                self.report(("loop_limits", name), f"unknown node {name!r}")
            elif limit < 1:
                self.report(("loop_limits", name), "must be at least 1")

    def check_loop_exits(self, dropped: set[Path_]) -> None:
        for name, target in self.spec.loop_exits.items():
            if name not in self.spec.loop_limits and ("loop_limits", name) not in dropped:
                self.report(("loop_exits", name), f"{name!r} has no entry in loop_limits")
            if self.check_target(target, ("loop_exits", name)) is not None and name in self.known:
                self.reach.setdefault(name, set()).add(node_ref(target))

    def check_reachability(self, dropped: set[Path_]) -> None:
        """Every node reached by some path from START (not computable when ``edges``
        itself is unusable)."""
        if ("edges",) in dropped:
            return
        if not self.start_edge:
            self.report(("edges",), "no edge leaves START: add `- from: START`")
            return
        if not self.reach.get(START):
            return  # the edges from START all go astray: that is the problem reported
        seen = {START}
        todo = [START]
        while todo:
            for nxt in self.reach.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        for name in self.spec.nodes:
            if name not in seen and name not in self.excused:
                self.report(
                    ("nodes", name),
                    f"node {name!r} is unreachable: no edge path from START leads to it",
                )
