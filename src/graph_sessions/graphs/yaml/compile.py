"""Compile a YAML graph file to a LangGraph graph (and validate it, and draw it).

The pipeline is: read the file keeping line numbers (:func:`.schema.read_yaml`), check the
top level with Pydantic, load the python tools, build every node (:mod:`.nodes`), check
the edges, conditions and reachability, then add everything to a ``StateGraph`` whose
state schema is a ``TypedDict`` made from the ``state:`` section plus every key the nodes
read or write. Every problem is collected with its file, line and field; loading a file
with problems raises :class:`~graph_sessions.errors.GraphLoadError` listing all of them.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import inspect
import logging
import re
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.pregel import Pregel
from pydantic import ValidationError
from typing_extensions import TypedDict

from graph_sessions.errors import GraphLoadError
from graph_sessions.graphs.imports import import_file_as_module
from graph_sessions.graphs.python_refs import load_python_graph
from graph_sessions.graphs.yaml.expressions import Expression, ExpressionError, compile_condition
from graph_sessions.graphs.yaml.nodes import build_node
from graph_sessions.graphs.yaml.nodes.base import ROUTE_KEY, BuildContext, BuiltNode
from graph_sessions.graphs.yaml.nodes.running import run_node_async, wrap_node
from graph_sessions.graphs.yaml.reducers import (
    LAST_VALUE,
    LOOP_COUNTS,
    LOOP_RESET,
    PUBLIC_REDUCERS,
    REDUCERS,
    reduce_loop_counts,
)
from graph_sessions.graphs.yaml.schema import (
    GraphFileSpec,
    Path_,
    YamlDocument,
    YamlProblem,
    read_yaml,
    validation_problems,
    yaml_type,
)

log = logging.getLogger("graph_sessions.yaml")

__all__ = [
    "LOOP_COUNTS_KEY",
    "GraphPlan",
    "load_yaml_graph",
    "plan_yaml_graph",
    "validate_yaml_graph",
]

LOOP_COUNTS_KEY = "_loop_counts"
_LOOP_RESET_NODE = "__loop_reset__"
_START_NAMES = {"START", "__start__"}
_END_NAMES = {"END", "__end__"}

_TYPES: dict[str, Any] = {
    "str": str,
    "string": str,
    "int": int,
    "integer": int,
    "float": float,
    "number": float,
    "bool": bool,
    "boolean": bool,
    "list": list,
    "array": list,
    "dict": dict,
    "object": dict,
    "any": Any,
}


# --------------------------------------------------------------------------- the plan


@dataclass
class EdgeInfo:
    """One checked edge: targets are node names or ``END``."""

    index: int
    source: str  # a node name or START
    targets: list[str]
    condition: Expression | None = None
    conditional: bool = False


@dataclass
class GraphPlan:
    """Everything learned from one graph file: its spec, built nodes, edges and problems.

    ``problems`` is empty when the file is valid; :meth:`compile` then makes the graph.
    """

    file: str
    doc: YamlDocument | None = None
    spec: GraphFileSpec | None = None
    nodes: dict[str, BuiltNode] = field(default_factory=dict)
    edges: list[EdgeInfo] = field(default_factory=list)
    state: dict[str, tuple[Any, str | None]] = field(default_factory=dict)
    problems: list[YamlProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the file has no problems."""
        return not self.problems

    def compile(self) -> Pregel:
        """The LangGraph graph (compiled without a checkpointer; the manager binds its own)."""
        if self.problems or self.spec is None:
            raise GraphLoadError(_message(self.file, self.problems))
        return _assemble(self)


def _message(file: str, problems: list[YamlProblem]) -> str:
    count = len(problems)
    head = f"{file}: {count} problem{'s' if count != 1 else ''} in the YAML graph"
    return "\n".join([head, *(str(p) for p in problems)])


# --------------------------------------------------------------------------- tools


def _import_tool_file(path: Path) -> Any:
    return import_file_as_module(path, "_graph_sessions_yaml_tools")


def _load_tools(
    doc: YamlDocument,
    raw_tools: Mapping[str, Any],
    base_dir: Path,
    overrides: Mapping[str, Callable[..., Any]],
    problems: list[YamlProblem],
) -> tuple[dict[str, Callable[..., Any]], set[str]]:
    tools: dict[str, Callable[..., Any]] = {}
    names: set[str] = set(overrides)
    for name, raw in raw_tools.items():
        path: Path_ = ("tools", name)
        names.add(str(name))
        if name in overrides:
            continue
        if not isinstance(raw, dict):
            problems.append(
                doc.problem(path, f"a tool must be a mapping, not {type(raw).__name__}")
            )
            continue
        kind = raw.get("type", "shell" if "command" in raw else "python")
        if kind != "python":
            problems.append(
                doc.problem(
                    (*path, "type"),
                    f"tool type {kind!r} is not supported (only `type: python` tools are)",
                )
            )
            continue
        function = raw.get("function")
        if not isinstance(function, str) or not function:
            problems.append(doc.problem((*path, "function"), "required field is missing"))
            continue
        file, module_name = raw.get("path"), raw.get("module")
        if file and module_name:
            problems.append(doc.problem(path, "give either `path` or `module`, not both"))
            continue
        if not file and not module_name and "." in function:
            module_name, _, function = function.rpartition(".")
        try:
            if file:
                target = Path(str(file)).expanduser()
                if not target.is_absolute():
                    target = base_dir / target
                if not target.is_file():
                    problems.append(
                        doc.problem((*path, "path"), f"tool file {str(target)!r} does not exist")
                    )
                    continue
                module = _import_tool_file(target)
            elif module_name:
                module = importlib.import_module(str(module_name))
            else:
                problems.append(
                    doc.problem(path, "a python tool needs `path` (a file) or `module`")
                )
                continue
        except (Exception, SystemExit) as exc:  # a tool file calling sys.exit() at import
            problems.append(
                doc.problem(
                    (*path, "path" if file else "module"),
                    f"importing the tool failed: {type(exc).__name__}: {exc}",
                )
            )
            continue
        fn = getattr(module, function, None)
        if fn is None or not callable(fn):
            problems.append(
                doc.problem(
                    (*path, "function"),
                    f"{function!r} is not a function of {file or module.__name__!r}",
                )
            )
            continue
        tools[str(name)] = fn
    tools.update(overrides)
    return tools, names


# --------------------------------------------------------------------------- planning


def _node_ref(name: Any) -> str:
    if isinstance(name, str):
        if name in _START_NAMES:
            return START
        if name in _END_NAMES:
            return END
    return str(name)


def _validate_top_level(
    doc: YamlDocument, problems: list[YamlProblem]
) -> tuple[GraphFileSpec | None, set[Path_]]:
    """The top level as a :class:`GraphFileSpec`, reporting its problems.

    A bad value (``loop_limits.a: three``, ``edges: {...}``) is reported and left out, so
    that the rest of the file (the nodes, the edges...) is still checked in the same pass.
    Returns the spec (``None`` when ``nodes`` itself is unusable) and the paths left out."""
    data = dict(doc.data)
    try:
        return GraphFileSpec.model_validate(data), set()
    except ValidationError as exc:
        problems.extend(validation_problems(doc, exc))
        errors = exc.errors()
    dropped: set[Path_] = set()
    for err in errors:
        loc = err["loc"]
        top = loc[0] if loc else None
        if top is None or not isinstance(top, str) or (top == "nodes" and len(loc) < 2):
            return None, dropped
        section = data.get(top)
        if len(loc) >= 2 and isinstance(section, dict) and loc[1] in section:
            data[top] = {k: v for k, v in section.items() if k != loc[1]}
            dropped.add((top, loc[1]))
        else:
            data.pop(top, None)
            dropped.add((top,))
    try:
        return GraphFileSpec.model_validate(data), dropped
    except ValidationError:  # pragma: no cover - what is left is valid by construction
        return None, dropped


def _base_type(text: str) -> str | None:
    """``"list[str]"`` -> ``"list"``, ``"str | None"``/``"Optional[int]"`` -> ``"str"``/``"int"``."""
    t = text.strip().lower()
    if t.startswith("optional[") and t.endswith("]"):
        t = t[len("optional[") : -1]
    parts = [p.strip() for p in t.split("|") if p.strip() not in ("none", "null")]
    t = parts[0] if parts else "any"
    t = t.split("[", 1)[0].strip()
    return t if t in _TYPES else None


def _state_fields(
    doc: YamlDocument, raw_state: Mapping[str, Any], problems: list[YamlProblem]
) -> dict[str, tuple[Any, str | None]]:
    fields: dict[str, tuple[Any, str | None]] = {}
    for key, value in raw_state.items():
        path: Path_ = ("state", key)
        reducer: str | None = None
        type_name: Any = value
        if isinstance(value, dict):
            type_name = value.get("type", "any")
            reducer = value.get("reducer")
            if reducer is not None and (not isinstance(reducer, str) or reducer not in REDUCERS):
                problems.append(
                    doc.problem(
                        (*path, "reducer"),
                        f"unknown reducer {reducer!r} (known: {', '.join(PUBLIC_REDUCERS)})",
                    )
                )
                reducer = None
        if type_name is None:
            type_name = "any"
        base = _base_type(type_name) if isinstance(type_name, str) else None
        if base is None:
            known = "str, int, float, bool, list, dict, any"
            where = (*path, "type") if isinstance(value, dict) else path
            problems.append(doc.problem(where, f"unknown type {type_name!r} (known: {known})"))
            continue
        fields[str(key)] = (_TYPES[base], reducer)
    return fields


def plan_yaml_graph(
    path: str | Path,
    *,
    tools: Mapping[str, Callable[..., Any]] | None = None,
    chat_model: Any = None,
    _stack: tuple[Path, ...] = (),
) -> GraphPlan:
    """Read and check a YAML graph file, building every node; never raises for file content.

    ``tools`` adds (or replaces) python tools by name; ``chat_model`` is the LangChain chat
    model (or a zero-argument factory of one) that ``llm`` nodes without their own
    ``chat_model`` use instead of ``init_chat_model``.
    """
    file_path = Path(path).expanduser()
    plan = GraphPlan(str(path))
    doc, problems = read_yaml(file_path, str(path))
    plan.problems.extend(problems)
    if doc is None:
        return plan
    plan.doc = doc
    if not isinstance(doc.data, dict):
        got = "the file is empty" if doc.data is None else f"it holds {yaml_type(doc.data)}"
        plan.problems.append(
            doc.problem((), f"a graph file must be a mapping with `nodes` and `edges`; {got}")
        )
        return plan
    spec, dropped = _validate_top_level(doc, plan.problems)
    if spec is None:
        return plan
    plan.spec = spec
    base_dir = file_path.resolve().parent
    loaded_tools, tool_names = _load_tools(
        doc, spec.tools, base_dir, dict(tools or {}), plan.problems
    )
    stack = (*_stack, file_path.resolve())

    def load_subgraph(ref: str, where: Path_) -> Any:
        return _load_subgraph(ref, where, doc, base_dir, stack, tools, chat_model, plan.problems)

    ctx = BuildContext(
        doc=doc,
        base_dir=base_dir,
        tools=loaded_tools,
        tool_names=tool_names,
        defaults=dict(spec.defaults),
        max_map_items=spec.config.max_map_items,
        load_subgraph=load_subgraph,
        chat_model=chat_model,
    )
    if not spec.nodes and not any(p[0] == "nodes" for p in dropped):
        plan.problems.append(doc.problem(("nodes",), "a graph needs at least one node"))
    for name, raw in spec.nodes.items():
        if name in _START_NAMES | _END_NAMES or "__" in name or name.startswith("_"):
            ctx.problem(
                ("nodes", name),
                f"{name!r} is reserved: node names may not be START/END, start with '_' or contain '__'",
            )
            continue
        built = build_node(name, raw, ctx)
        if built is not None:
            plan.nodes[name] = built
    plan.problems.extend(ctx.problems)
    known_nodes = set(spec.nodes)
    _plan_edges(plan, doc, spec, known_nodes, dropped)
    # The state: declared fields, then every key a node reads or writes.
    fields = _state_fields(doc, spec.state, plan.problems)
    for built in plan.nodes.values():
        for key in sorted(built.writes | built.reads):
            fields.setdefault(key, (Any, None))
        for key, reducer in built.reducers.items():
            typ, declared = fields.get(key, (list, None))
            if reducer == LAST_VALUE and declared is not None:
                continue  # the state section's reducer stays
            fields[key] = (typ, reducer)
    for edge in plan.edges:
        if edge.condition is not None:
            for key in sorted(edge.condition.fields):
                fields.setdefault(key, (Any, None))
    if any(b.type == "router" for b in plan.nodes.values()):
        fields.setdefault(ROUTE_KEY, (Any, None))
    if spec.loop_limits:
        fields[LOOP_COUNTS_KEY] = (dict, LOOP_COUNTS)
    plan.state = fields
    ctx.state_keys.update(fields)
    if spec.state:
        _check_state_names(plan, doc, spec)
    return plan


def _check_state_names(
    plan: GraphPlan,
    doc: YamlDocument,
    spec: GraphFileSpec,
) -> None:
    """With a ``state:`` section, a name a node or condition reads must be declared there or
    written by some node: ``{state.user_inptu}`` is a typo, not a new field."""
    written = {key for built in plan.nodes.values() for key in built.writes}
    known = sorted({*map(str, spec.state), *written})

    def report(key: str, raw: Any, path: Path_) -> None:
        hint = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        also = f"did you mean {hint[0]!r}?" if hint else f"state: {', '.join(known)}"
        where = _path_mentioning(raw, key, path) or path
        plan.problems.append(doc.problem(where, f"unknown state field {key!r}; {also}"))

    for name, built in plan.nodes.items():
        for key in sorted(built.reads - set(known)):
            if not key.startswith("_"):
                report(key, spec.nodes.get(name), ("nodes", name))
    for edge in plan.edges:
        if edge.condition is not None:
            for key in sorted(edge.condition.fields - set(known)):
                report(key, None, ("edges", edge.index, "condition"))


def _path_mentioning(raw: Any, key: str, path: Path_) -> Path_ | None:
    """The path of the first string under ``raw`` that mentions ``key`` as a word."""
    if isinstance(raw, str):
        return path if re.search(rf"\b{re.escape(key)}\b", raw) else None
    items = (
        raw.items() if isinstance(raw, dict) else enumerate(raw) if isinstance(raw, list) else ()
    )
    for k, v in items:
        found = _path_mentioning(v, key, (*path, k))
        if found is not None:
            return found
    return None


def _load_subgraph(
    ref: str,
    where: Path_,
    doc: YamlDocument,
    base_dir: Path,
    stack: tuple[Path, ...],
    tools: Mapping[str, Callable[..., Any]] | None,
    chat_model: Any,
    problems: list[YamlProblem],
) -> Any:
    text = ref.strip()
    if text.lower().endswith((".yaml", ".yml")):
        child = Path(text).expanduser()
        if not child.is_absolute():
            child = base_dir / child
        if child.resolve() in stack:
            problems.append(doc.problem(where, f"subgraph {ref!r} includes itself (a cycle)"))
            return None
        if not child.is_file():
            problems.append(doc.problem(where, f"subgraph file {str(child)!r} does not exist"))
            return None
        sub = plan_yaml_graph(child, tools=tools, chat_model=chat_model, _stack=stack)
        if sub.problems:
            problems.append(doc.problem(where, f"subgraph {ref!r} has problems (listed below)"))
            problems.extend(sub.problems)
            return None
        return sub.compile()
    try:
        graph = load_python_graph(text, base_dir=base_dir)
    except GraphLoadError as exc:
        problems.append(doc.problem(where, exc.message))
        return None
    if isinstance(graph, StateGraph):
        try:
            return graph.compile()
        except Exception as exc:
            problems.append(doc.problem(where, f"compiling {ref!r} failed: {exc}"))
            return None
    return graph


def _plan_edges(
    plan: GraphPlan,
    doc: YamlDocument,
    spec: GraphFileSpec,
    known: set[str],
    dropped: set[Path_],
) -> None:
    problems = plan.problems
    # For reachability, computed even when other things are wrong: every usable target
    # of every edge (bad targets are left out), and the targets of edges whose source is
    # itself wrong (not reported as unreachable: the broken edge is the reported cause).
    reach: dict[str, set[str]] = {}
    excused: set[str] = set()
    start_edge = False

    def usable(name: Any) -> str | None:
        ref = _node_ref(name) if isinstance(name, str) else None
        return ref if ref is not None and (ref == END or ref in known) else None

    def check_target(name: Any, where: Path_, *, allow_end: bool = True) -> str | None:
        ref = _node_ref(name)
        if ref == END and allow_end:
            return END
        if ref == START:
            problems.append(doc.problem(where, "an edge cannot go to START"))
            return None
        if ref not in known:
            problems.append(
                doc.problem(
                    where,
                    f"edge to unknown node {ref!r} (nodes: {', '.join(sorted(known)) or 'none'})",
                )
            )
            return None
        return ref

    for i, raw in enumerate(spec.edges):
        path: Path_ = ("edges", i)
        if not isinstance(raw, dict):
            problems.append(doc.problem(path, "an edge must be a mapping with `from` and `to`"))
            continue
        raw_to = raw.get("to")
        to_names = [
            t for t in (raw_to if isinstance(raw_to, list) else [raw_to]) if isinstance(t, str)
        ]
        raw_from = _node_ref(raw["from"]) if isinstance(raw.get("from"), str) else None
        if raw_from == START or raw_from in known:
            start_edge = start_edge or raw_from == START
            reach.setdefault(raw_from, set()).update(
                u for u in map(usable, to_names) if u is not None
            )
        else:
            excused.update(to_names)
        ok = True
        if "from" not in raw:
            problems.append(doc.problem((*path, "from"), "required field is missing"))
            ok = False
        if "to" not in raw:
            problems.append(doc.problem((*path, "to"), "required field is missing"))
            ok = False
        if not ok:
            continue
        source = _node_ref(raw["from"])
        if source == END:
            problems.append(doc.problem((*path, "from"), "an edge cannot leave END"))
            continue
        # Every part of the edge is checked, so one pass reports all its problems.
        bad = False
        if source != START and source not in known:
            problems.append(
                doc.problem(
                    (*path, "from"),
                    f"edge from unknown node {source!r} (nodes: {', '.join(sorted(known))})",
                )
            )
            bad = True
        to = raw["to"]
        items = to if isinstance(to, list) else [to]
        targets: list[str] = []
        if not items or not all(isinstance(t, str) for t in items):
            problems.append(
                doc.problem((*path, "to"), "must be a node name, END, or a list of node names")
            )
            bad = True
        else:
            for j, t in enumerate(items):
                where = (*path, "to", j) if isinstance(to, list) else (*path, "to")
                ref = check_target(t, where)
                if ref is not None:
                    targets.append(ref)
            bad = bad or len(targets) != len(items)
        etype = raw.get("type")
        if etype not in (None, "conditional", "normal", "default"):
            problems.append(
                doc.problem((*path, "type"), f"unknown edge type {etype!r} (known: conditional)")
            )
            bad = True
        conditional = etype == "conditional"
        if conditional:
            built = plan.nodes.get(source)
            if source == START or (
                source in spec.nodes and built is not None and built.type != "router"
            ):
                kind = "START" if source == START else f"a {built.type if built else '?'} node"
                problems.append(
                    doc.problem(
                        (*path, "type"),
                        f"`type: conditional` edges leave a router node; {source!r} is {kind}",
                    )
                )
                bad = True
        condition: Expression | None = None
        if raw.get("condition") is not None:
            if conditional:
                problems.append(
                    doc.problem(
                        (*path, "condition"),
                        "a conditional (router) edge is chosen by the router's routes; "
                        "remove `condition` or `type: conditional`",
                    )
                )
                bad = True
            else:
                try:
                    condition = compile_condition(raw["condition"])
                except ExpressionError as exc:
                    problems.append(doc.problem((*path, "condition"), f"bad condition: {exc}"))
                    bad = True
        if bad:
            continue
        plan.edges.append(EdgeInfo(i, source, targets, condition, conditional))
    # Router routes, loop limits and exits.
    for name, raw_node in spec.nodes.items():
        if not isinstance(raw_node, dict) or raw_node.get("type") != "router":
            continue
        routes = raw_node.get("routes")
        choices: list[Any] = [
            *(routes.values() if isinstance(routes, dict) else []),
            raw_node.get("default_route"),
        ]
        reach.setdefault(name, set()).update(u for u in map(usable, choices) if u is not None)
        built = plan.nodes.get(name)
        if built is None or built.type != "router":
            continue  # its own problems are reported
        for key, target in (raw_node.get("routes") or {}).items():
            check_target(target, ("nodes", name, "routes", key))
        if raw_node.get("default_route") is not None:
            check_target(raw_node["default_route"], ("nodes", name, "default_route"))
    for name, limit in spec.loop_limits.items():
        if name not in known:
            problems.append(doc.problem(("loop_limits", name), f"unknown node {name!r}"))
        elif limit < 1:
            problems.append(doc.problem(("loop_limits", name), "must be at least 1"))
    for name, target in spec.loop_exits.items():
        if name not in spec.loop_limits and ("loop_limits", name) not in dropped:
            problems.append(
                doc.problem(("loop_exits", name), f"{name!r} has no entry in loop_limits")
            )
        if check_target(target, ("loop_exits", name)) is not None and name in known:
            reach.setdefault(name, set()).add(_node_ref(target))
    # Reachability from START (not computable when `edges` itself is unusable).
    if ("edges",) in dropped:
        return
    if not start_edge:
        problems.append(doc.problem(("edges",), "no edge leaves START: add `- from: START`"))
        return
    if not reach.get(START):
        return  # the edges from START all go astray: that is the problem reported
    seen = {START}
    todo = [START]
    while todo:
        for nxt in reach.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    for name in spec.nodes:
        if name not in seen and name not in excused:
            problems.append(
                doc.problem(
                    ("nodes", name),
                    f"node {name!r} is unreachable: no edge path from START leads to it",
                )
            )


# --------------------------------------------------------------------------- assembly


def _state_schema(name: str, fields: Mapping[str, tuple[Any, str | None]]) -> Any:
    annotations: dict[str, Any] = {}
    for key, (typ, reducer) in fields.items():
        if reducer == LOOP_COUNTS:
            annotations[key] = Annotated[dict, reduce_loop_counts]
        elif reducer == LAST_VALUE:
            # Any: LangGraph starts a reducer channel at typ() ("" for str); a last-value
            # key stays absent until written, as it is without a reducer.
            annotations[key] = Annotated[Any, REDUCERS[reducer]]
        elif reducer is not None:
            annotations[key] = Annotated[typ, REDUCERS[reducer]]
        else:
            annotations[key] = typ
    safe = "".join(c if c.isalnum() else "_" for c in name) or "Yaml"
    return TypedDict(f"{safe}_State", annotations, total=False)  # type: ignore[operator]


def _count_runs(fn: Any, node: str, fname: str) -> Any:
    """Wrap a node so that each run adds 1 to ``_loop_counts[node]``."""

    def add_count(result: Any) -> dict[str, Any]:
        update = dict(result or {})
        update[LOOP_COUNTS_KEY] = {node: 1}
        return update

    if inspect.iscoroutinefunction(fn):

        async def counted(state: dict[str, Any], config: RunnableConfig) -> Any:
            return add_count(await run_node_async(fn, state, config))

        return counted
    return wrap_node(fname, fn, add_count)


def _assemble(plan: GraphPlan) -> Pregel:
    spec = plan.spec
    assert spec is not None
    builder: StateGraph[Any] = StateGraph(_state_schema(spec.name, plan.state))
    limits = dict(spec.loop_limits)
    exits = {k: _node_ref(v) for k, v in spec.loop_exits.items()}
    for name, built in plan.nodes.items():
        for fname, fn in built.funcs:
            if fname == built.exit and name in limits:
                fn = _count_runs(fn, name, fname)
            builder.add_node(fname, fn)
        for a, b in built.internal_edges:
            builder.add_edge(a, b)
        if built.dispatch is not None:
            fan_out, targets = built.dispatch
            builder.add_conditional_edges(built.entry, fan_out, targets)

    def entry(target: str) -> str:
        return target if target == END else plan.nodes[target].entry

    start_targets: list[str] = []
    by_source: dict[str, list[EdgeInfo]] = {}
    for e in plan.edges:
        if e.source == START:
            start_targets.extend(entry(t) for t in e.targets)
        else:
            by_source.setdefault(e.source, []).append(e)
    if limits:
        # Loop counts are per run: a first step clears them.
        builder.add_node(_LOOP_RESET_NODE, lambda state: {LOOP_COUNTS_KEY: {LOOP_RESET: 1}})
        builder.add_edge(START, _LOOP_RESET_NODE)
        start_from = _LOOP_RESET_NODE
    else:
        start_from = START
    start_conditions = [e for e in plan.edges if e.source == START and e.condition is not None]
    if start_conditions:
        _add_routing(
            builder, start_from, [e for e in plan.edges if e.source == START], entry, None, None
        )
    else:
        for t in dict.fromkeys(start_targets):
            builder.add_edge(start_from, t)
    for name, built in plan.nodes.items():
        edges = by_source.get(name, [])
        limit = limits.get(name)
        exit_to = exits.get(name, END)
        loop = (limit, exit_to) if limit is not None else None
        if built.type == "router":
            targets = list(built.routes)
            for e in edges:
                targets.extend(e.targets)
            targets = list(dict.fromkeys(_node_ref(t) for t in targets))
            _add_router_edges(builder, built.exit, targets, entry, loop)
        elif edges and (loop is not None or any(e.condition is not None for e in edges)):
            _add_routing(builder, built.exit, edges, entry, loop, name)
        else:
            for e in edges:
                for t in e.targets:
                    builder.add_edge(built.exit, entry(t))
    compiled = builder.compile(name=spec.name)
    if spec.config.recursion_limit is not None:
        compiled = compiled.with_config(recursion_limit=spec.config.recursion_limit)
    if spec.config.timeout is not None:
        compiled.step_timeout = spec.config.timeout
    return compiled


def _loop_exceeded(state: Mapping[str, Any], node: str, limit: int) -> bool:
    counts = state.get(LOOP_COUNTS_KEY) or {}
    return int(counts.get(node, 0)) >= limit


def _add_router_edges(
    builder: StateGraph[Any],
    source: str,
    targets: list[str],
    entry: Callable[[str], str],
    loop: tuple[int, str] | None,
) -> None:
    path_map: dict[Hashable, str] = {t: entry(t) for t in targets}
    node = source
    if loop is not None:
        path_map[loop[1]] = entry(loop[1])

    def route(state: dict[str, Any]) -> str:
        if loop is not None and _loop_exceeded(state, node, loop[0]):
            return loop[1]
        target = _node_ref(state.get(ROUTE_KEY))
        if target not in path_map:
            raise ValueError(f"router {node!r} chose {target!r}, which is not one of its targets")
        return target

    builder.add_conditional_edges(source, route, path_map)


def _add_routing(
    builder: StateGraph[Any],
    source: str,
    edges: list[EdgeInfo],
    entry: Callable[[str], str],
    loop: tuple[int, str] | None,
    node: str | None,
) -> None:
    """Edges with conditions (or from a loop-limited node): the first edge, in file order,
    whose condition holds wins; edges without a condition are the default; else END."""
    conditioned = [e for e in edges if e.condition is not None]
    defaults = [t for e in edges if e.condition is None for t in e.targets]
    all_targets = {t for e in edges for t in e.targets} | {END}
    if loop is not None:
        all_targets.add(loop[1])
    path_map: dict[Hashable, str] = {t: entry(t) for t in all_targets}

    def route(state: dict[str, Any]) -> list[str]:
        if loop is not None and node is not None and _loop_exceeded(state, node, loop[0]):
            return [loop[1]]
        for e in conditioned:
            assert e.condition is not None
            if e.condition.evaluate(state):
                return list(e.targets)
        return list(defaults) or [END]

    builder.add_conditional_edges(source, route, path_map)


# --------------------------------------------------------------------------- public API


def load_yaml_graph(
    path: str | Path,
    *,
    tools: Mapping[str, Callable[..., Any]] | None = None,
    chat_model: Any = None,
) -> Pregel:
    """Compile the YAML graph at ``path`` to a LangGraph graph (without a checkpointer).

    Raises :class:`~graph_sessions.errors.GraphLoadError` listing every problem, one per
    line as ``file:line: field: message``. ``tools`` adds or replaces python tools by
    name; ``chat_model`` (a LangChain chat model, or a zero-argument factory of one) is
    used by ``llm`` nodes that do not name their own ``chat_model`` tool.
    """
    plan = plan_yaml_graph(path, tools=tools, chat_model=chat_model)
    if plan.spec is not None and plan.spec.checkpointer:
        log.info(
            "%s: the `checkpointer` section is ignored; sessions use the manager's storage", path
        )
    return plan.compile()


def validate_yaml_graph(path: str | Path) -> list[YamlProblem]:
    """Every problem of the YAML graph at ``path`` (empty when it is valid). Never raises
    for the file's content; each problem prints as ``file:line: field: message``."""
    plan = plan_yaml_graph(path)
    if plan.ok:
        try:
            plan.compile()
        except Exception as exc:  # LangGraph's own checks, as a last line of defence
            plan.problems.append(
                YamlProblem(plan.file, None, "(graph)", f"LangGraph refused the graph: {exc}")
            )
    return plan.problems
