"""Where graphs come from: references to Python objects (later, YAML files)."""

from graph_sessions.graphs.references import bind_graph, load_graph

__all__ = ["bind_graph", "load_graph"]
