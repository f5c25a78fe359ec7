"""Planning a YAML graph file: read it keeping line numbers, check the top level, load the
tools, build every node, plan the edges and the state, collecting every problem.

:func:`plan_yaml_graph` never raises for the file's content; a :class:`GraphPlan` without
problems compiles to the LangGraph graph (:mod:`.assembly`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langgraph.graph import StateGraph
from langgraph.pregel import Pregel
from pydantic import ValidationError

from graph_sessions.errors import GraphLoadError
from graph_sessions.graphs.python_refs import load_python_graph
from graph_sessions.graphs.yaml.assembly import assemble
from graph_sessions.graphs.yaml.edges import END_NAMES, START_NAMES, EdgeInfo, plan_edges
from graph_sessions.graphs.yaml.nodes import build_node
from graph_sessions.graphs.yaml.nodes.base import BuildContext, BuiltNode
from graph_sessions.graphs.yaml.schema import (
    GraphFileSpec,
    Path_,
    YamlDocument,
    YamlProblem,
    read_yaml,
    validation_problems,
    yaml_type,
)
from graph_sessions.graphs.yaml.state import (
    StateFields,
    check_state_names,
    declared_fields,
    graph_state,
)
from graph_sessions.graphs.yaml.tools import load_tools

__all__ = ["GraphPlan", "plan_yaml_graph", "problems_message"]


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
    state: StateFields = field(default_factory=dict)
    problems: list[YamlProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the file has no problems."""
        return not self.problems

    def compile(self) -> Pregel:
        """The LangGraph graph (compiled without a checkpointer; the manager binds its own)."""
        if self.problems or self.spec is None:
            raise GraphLoadError(problems_message(self.file, self.problems))
        return assemble(self.spec, self.nodes, self.edges, self.state)


def problems_message(file: str, problems: list[YamlProblem]) -> str:
    """The message of a :class:`GraphLoadError` listing ``problems``, one per line."""
    count = len(problems)
    head = f"{file}: {count} problem{'s' if count != 1 else ''} in the YAML graph"
    return "\n".join([head, *(str(p) for p in problems)])


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
    ctx = _build_context(doc, spec, file_path, tools, chat_model, _stack, plan.problems)
    if not spec.nodes and not any(p[0] == "nodes" for p in dropped):
        plan.problems.append(doc.problem(("nodes",), "a graph needs at least one node"))
    plan.nodes = _build_nodes(spec, ctx)
    plan.problems.extend(ctx.problems)
    plan.edges = plan_edges(doc, spec, plan.nodes, dropped, plan.problems)
    declared = declared_fields(doc, spec.state, plan.problems)
    plan.state = graph_state(declared, spec, plan.nodes.values(), plan.edges)
    ctx.state_keys.update(plan.state)
    if spec.state:
        check_state_names(doc, spec, plan.nodes, plan.edges, plan.problems)
    return plan


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


def _build_context(
    doc: YamlDocument,
    spec: GraphFileSpec,
    file_path: Path,
    tools: Mapping[str, Callable[..., Any]] | None,
    chat_model: Any,
    stack: tuple[Path, ...],
    problems: list[YamlProblem],
) -> BuildContext:
    """What the node builders share: the loaded tools, the defaults, subgraph loading."""
    base_dir = file_path.resolve().parent
    loaded_tools, tool_names = load_tools(doc, spec.tools, base_dir, dict(tools or {}), problems)
    inner_stack = (*stack, file_path.resolve())

    def load_subgraph(ref: str, where: Path_) -> Any:
        return _load_subgraph(ref, where, doc, base_dir, inner_stack, tools, chat_model, problems)

    return BuildContext(
        doc=doc,
        base_dir=base_dir,
        tools=loaded_tools,
        tool_names=tool_names,
        defaults=dict(spec.defaults),
        max_map_items=spec.config.max_map_items,
        load_subgraph=load_subgraph,
        chat_model=chat_model,
    )


def _build_nodes(spec: GraphFileSpec, ctx: BuildContext) -> dict[str, BuiltNode]:
    """Every node that builds (the others' problems are in ``ctx.problems``)."""
    nodes: dict[str, BuiltNode] = {}
    for name, raw in spec.nodes.items():
        if name in START_NAMES | END_NAMES or "__" in name or name.startswith("_"):
            ctx.problem(
                ("nodes", name),
                f"{name!r} is reserved: node names may not be START/END, start with '_' or contain '__'",
            )
            continue
        built = build_node(name, raw, ctx)
        if built is not None:
            nodes[name] = built
    return nodes


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
    """A subgraph node's graph: a YAML file (planned here, cycles refused) or a python
    reference (``file.py:attr`` or ``module:attr``)."""
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
