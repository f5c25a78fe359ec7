"""YAML graphs: a file in the YamlGraph format compiled to a LangGraph graph.

``load_yaml_graph(path)`` gives the compiled graph (the manager binds its checkpointer),
``validate_yaml_graph(path)`` every problem with file, line and field, and
``yaml_to_mermaid(path)`` a diagram. See docs/yaml-graphs.md for the format.
"""

from graph_sessions.graphs.yaml.compile import (
    GraphPlan,
    load_yaml_graph,
    plan_yaml_graph,
    validate_yaml_graph,
)
from graph_sessions.graphs.yaml.expressions import ExpressionError, compile_expression, evaluate
from graph_sessions.graphs.yaml.mermaid import yaml_to_mermaid
from graph_sessions.graphs.yaml.nodes import KNOWN_NODE_TYPES
from graph_sessions.graphs.yaml.schema import YamlProblem

__all__ = [
    "KNOWN_NODE_TYPES",
    "ExpressionError",
    "GraphPlan",
    "YamlProblem",
    "compile_expression",
    "evaluate",
    "load_yaml_graph",
    "plan_yaml_graph",
    "validate_yaml_graph",
    "yaml_to_mermaid",
]
