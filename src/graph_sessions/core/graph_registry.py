"""The graphs a manager serves: their sources, and once storage is open, the bound graphs
with their identities."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from langgraph.pregel import Pregel

from graph_sessions.core.identity import graph_identity
from graph_sessions.errors import GraphLoadError, InvalidInput
from graph_sessions.graphs.references import GraphSource, bind_graph, load_graph


def graph_label(source: Any, graph_id: str) -> str:
    """How a graph is named in messages: its reference as given, else its id."""
    if isinstance(source, str | Path):
        return str(source)
    return graph_id


class GraphRegistry:
    """Graph ids to graphs: loaded at construction, bound to a checkpointer and store by
    :meth:`bind` (when the manager opens) and let go by :meth:`unbind`.

    ``source`` is one graph reference (served as ``graph_id``, ``"default"`` when not
    given), a mapping of graph ids to references (``graph_id`` picks the default, the
    first when not given), or ``None``: no graph (sessions can be listed, inspected,
    deleted and swept, not run)."""

    def __init__(
        self, source: GraphSource | Mapping[str, GraphSource], graph_id: str | None = None
    ) -> None:
        if isinstance(source, Mapping):
            if not source:
                raise InvalidInput("graph mapping is empty: give at least one graph id")
            graph_id = graph_id or next(iter(source))
            if graph_id not in source:
                raise InvalidInput(
                    f"graph_id {graph_id!r} is not one of the graphs given: {', '.join(source)}"
                )
            self._sources = {str(k): load_graph(v) for k, v in source.items()}
            self._labels = {str(k): graph_label(v, str(k)) for k, v in source.items()}
        elif source is None:
            graph_id = graph_id or "default"
            self._sources = {}
            self._labels = {}
        else:
            graph_id = graph_id or "default"
            self._sources = {graph_id: load_graph(source)}
            self._labels = {graph_id: graph_label(source, graph_id)}
        #: the default graph's id
        self.default_id: str = graph_id
        self._graphs: dict[str, Pregel] = {}
        self._identities: dict[str, str] = {}
        self._breakpoints: dict[str, bool] = {}

    @property
    def ids(self) -> list[str]:
        """The ids of the graphs served, the default first."""
        if not self._sources:
            return []
        return [self.default_id, *(g for g in self._sources if g != self.default_id)]

    def bind(self, checkpointer: Any, store: Any) -> None:
        """Bind every graph to the storage's checkpointer and store (raises what binding
        raises; nothing is bound then)."""
        graphs = {gid: bind_graph(src, checkpointer, store) for gid, src in self._sources.items()}
        self._breakpoints = {
            gid: bool(g.interrupt_before_nodes or g.interrupt_after_nodes)
            for gid, g in graphs.items()
        }
        self._identities = {
            gid: graph_identity(g, self._labels.get(gid, gid)) for gid, g in graphs.items()
        }
        self._graphs = graphs

    def unbind(self) -> None:
        """Let go of the bound graphs (the identities stay known)."""
        self._graphs = {}

    def get(self, graph_id: str | None, *, session_id: str | None = None) -> Pregel:
        """The bound graph with this id (the default for ``None``); ``GraphLoadError`` when
        no graph is served, ``InvalidInput`` when this one is not."""
        graph = self._graphs.get(graph_id or self.default_id)
        if graph is None and not self._graphs:
            raise GraphLoadError(
                "this manager was opened without a graph: it can list, inspect, delete and "
                "sweep sessions; pass graph= (or a config file's graphs) to run them",
                session_id=session_id,
            )
        if graph is None:
            whose = f"session {session_id!r} uses graph" if session_id else "graph"
            raise InvalidInput(
                f"{whose} {graph_id!r}, which this manager does not serve "
                f"(graphs: {', '.join(self.ids)})",
                session_id=session_id,
            )
        return graph

    def identity(self, graph_id: str | None) -> str | None:
        """The identity of a bound graph (the default for ``None``); ``None`` if unknown."""
        return self._identities.get(graph_id or self.default_id)

    def has_static_breakpoints(self, graph_id: str) -> bool:
        """True when that graph was compiled with ``interrupt_before``/``interrupt_after``."""
        return self._breakpoints.get(graph_id, False)
