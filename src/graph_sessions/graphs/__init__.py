"""Where graphs come from: references to Python objects and YAML graph files."""

from graph_sessions.graphs.references import bind_graph, load_graph
from graph_sessions.graphs.yaml import load_yaml_graph, validate_yaml_graph, yaml_to_mermaid

__all__ = ["bind_graph", "load_graph", "load_yaml_graph", "validate_yaml_graph", "yaml_to_mermaid"]
