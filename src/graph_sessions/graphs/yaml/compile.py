"""Compile a YAML graph file to a LangGraph graph (and validate it).

The pipeline is: read the file keeping line numbers (:func:`.schema.read_yaml`), check the
top level with Pydantic, load the python tools (:mod:`.tools`), build every node
(:mod:`.nodes`), check the edges, conditions and reachability (:mod:`.edges`), then add
everything to a ``StateGraph`` (:mod:`.assembly`) whose state schema is a ``TypedDict``
made from the ``state:`` section plus every key the nodes read or write (:mod:`.state`).
:mod:`.plan` runs the checks. Every problem is collected with its file, line and field;
loading a file with problems raises :class:`~graph_sessions.errors.GraphLoadError`
listing all of them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from langgraph.pregel import Pregel

from graph_sessions.graphs.yaml.plan import GraphPlan, plan_yaml_graph
from graph_sessions.graphs.yaml.schema import YamlProblem
from graph_sessions.graphs.yaml.state import LOOP_COUNTS_KEY

log = logging.getLogger("graph_sessions.yaml")

__all__ = [
    "LOOP_COUNTS_KEY",
    "GraphPlan",
    "load_yaml_graph",
    "plan_yaml_graph",
    "validate_yaml_graph",
]


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
