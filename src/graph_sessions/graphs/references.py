"""Resolve a graph reference to a LangGraph graph and bind our checkpointer and store.

A reference is a compiled graph, a ``StateGraph`` builder, ``"path/to/file.py:attr"``,
``"package.module:attr"``, a YAML graph file (``"graphs/support.yaml"``, compiled by
:mod:`graph_sessions.graphs.yaml`) or a zero-argument factory returning one of those.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import StateGraph
from langgraph.pregel import Pregel
from langgraph.store.base import BaseStore

from graph_sessions.errors import GraphLoadError
from graph_sessions.graphs.imports import import_file_as_module
from graph_sessions.graphs.python_refs import as_graph, resolve_python_reference

log = logging.getLogger("graph_sessions")

__all__ = ["GraphSource", "bind_graph", "import_file_as_module", "load_graph"]

GraphSource = Any  # str | Path | StateGraph | Pregel | Callable[[], StateGraph | Pregel]


def _resolve_string(ref: str, base_dir: Path | None) -> Any:
    text = ref.strip()
    if text.lower().endswith((".yaml", ".yml")):
        from graph_sessions.graphs.yaml import load_yaml_graph

        path = Path(text).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if not path.is_file():
            raise GraphLoadError(f"graph file {str(path)!r} (from {ref!r}) does not exist")
        return load_yaml_graph(path)
    return resolve_python_reference(text, ref, base_dir)


def load_graph(source: GraphSource, *, base_dir: str | Path | None = None) -> StateGraph | Pregel:
    """Resolve ``source`` to a ``StateGraph`` builder or a compiled graph (not yet bound)."""
    if source is None:
        raise GraphLoadError(
            "no graph given: pass graph='file.py:attr', a StateGraph or a compiled graph"
        )
    obj: Any = source
    if isinstance(obj, Path):
        obj = str(obj)
    if isinstance(obj, str):
        obj = _resolve_string(obj, Path(base_dir) if base_dir else None)
    return as_graph(obj, source)


def bind_graph(
    graph: StateGraph | Pregel, checkpointer: BaseCheckpointSaver[Any], store: BaseStore
) -> Pregel:
    """Compile a builder, or re-bind a compiled graph, with the manager's checkpointer and store.

    A graph compiled with its own checkpointer is re-bound to the manager's (with a warning):
    the session's durability and isolation depend on everything living in one database.
    """
    if isinstance(graph, StateGraph):
        try:
            return graph.compile(checkpointer=checkpointer, store=store)
        except Exception as exc:
            raise GraphLoadError(
                f"compiling the graph failed: {type(exc).__name__}: {exc}"
            ) from exc
    own = graph.checkpointer
    if own not in (None, True, False) and own is not checkpointer:
        log.warning(
            "graph %r was compiled with its own checkpointer (%s); graph-sessions re-binds it to the "
            "manager's storage so that sessions persist in one place",
            graph.name,
            type(own).__name__,
        )
    if graph.store is not None and graph.store is not store:
        log.warning(
            "graph %r was compiled with its own store; re-bound to the manager's store", graph.name
        )
    return graph.copy(update={"checkpointer": checkpointer, "store": store})
