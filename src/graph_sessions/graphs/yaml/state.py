"""The graph's state: the ``state:`` section's fields, every key a node reads or writes,
and the ``TypedDict`` schema made from them (with each field's reducer)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from typing_extensions import TypedDict

from graph_sessions.graphs.yaml.edges import EdgeInfo
from graph_sessions.graphs.yaml.nodes.base import ROUTE_KEY, BuiltNode
from graph_sessions.graphs.yaml.reducers import (
    LAST_VALUE,
    LOOP_COUNTS,
    PUBLIC_REDUCERS,
    REDUCERS,
    reduce_loop_counts,
)
from graph_sessions.graphs.yaml.schema import GraphFileSpec, Path_, YamlDocument, YamlProblem

__all__ = [
    "LOOP_COUNTS_KEY",
    "StateFields",
    "check_state_names",
    "declared_fields",
    "graph_state",
    "state_schema",
]

LOOP_COUNTS_KEY = "_loop_counts"

StateFields = dict[str, tuple[Any, str | None]]  # key -> (python type, reducer name)

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


def _base_type(text: str) -> str | None:
    """``"list[str]"`` -> ``"list"``, ``"str | None"``/``"Optional[int]"`` -> ``"str"``/``"int"``."""
    t = text.strip().lower()
    if t.startswith("optional[") and t.endswith("]"):
        t = t[len("optional[") : -1]
    parts = [p.strip() for p in t.split("|") if p.strip() not in ("none", "null")]
    t = parts[0] if parts else "any"
    t = t.split("[", 1)[0].strip()
    return t if t in _TYPES else None


def declared_fields(
    doc: YamlDocument, raw_state: Mapping[str, Any], problems: list[YamlProblem]
) -> StateFields:
    """The fields of the ``state:`` section (a bad type or reducer is reported)."""
    fields: StateFields = {}
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


def graph_state(
    declared: StateFields,
    spec: GraphFileSpec,
    nodes: Iterable[BuiltNode],
    edges: Iterable[EdgeInfo],
) -> StateFields:
    """The declared fields, then every key a node reads or writes (with the reducers the
    nodes need) or a condition reads, the router and loop-count keys."""
    fields = dict(declared)
    built_nodes = list(nodes)
    for built in built_nodes:
        for key in sorted(built.writes | built.reads):
            fields.setdefault(key, (Any, None))
        for key, reducer in built.reducers.items():
            typ, declared_reducer = fields.get(key, (list, None))
            if reducer == LAST_VALUE and declared_reducer is not None:
                continue  # the state section's reducer stays
            fields[key] = (typ, reducer)
    for edge in edges:
        if edge.condition is not None:
            for key in sorted(edge.condition.fields):
                fields.setdefault(key, (Any, None))
    if any(b.type == "router" for b in built_nodes):
        fields.setdefault(ROUTE_KEY, (Any, None))
    if spec.loop_limits:
        fields[LOOP_COUNTS_KEY] = (dict, LOOP_COUNTS)
    return fields


def check_state_names(
    doc: YamlDocument,
    spec: GraphFileSpec,
    nodes: Mapping[str, BuiltNode],
    edges: Iterable[EdgeInfo],
    problems: list[YamlProblem],
) -> None:
    """With a ``state:`` section, a name a node or condition reads must be declared there or
    written by some node: ``{state.user_inptu}`` is a typo, not a new field."""
    written = {key for built in nodes.values() for key in built.writes}
    known = sorted({*map(str, spec.state), *written})

    def report(key: str, raw: Any, path: Path_) -> None:
        hint = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        also = f"did you mean {hint[0]!r}?" if hint else f"state: {', '.join(known)}"
        where = _path_mentioning(raw, key, path) or path
        problems.append(doc.problem(where, f"unknown state field {key!r}; {also}"))

    for name, built in nodes.items():
        for key in sorted(built.reads - set(known)):
            if not key.startswith("_"):
                report(key, spec.nodes.get(name), ("nodes", name))
    for edge in edges:
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


def state_schema(name: str, fields: Mapping[str, tuple[Any, str | None]]) -> Any:
    """The ``TypedDict`` state schema named after the graph, each reducer annotated."""
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
