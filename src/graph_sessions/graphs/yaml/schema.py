"""Pydantic models of a YAML graph file, and the YAML reader that remembers line numbers.

The models describe the file as written; :mod:`.compile` turns them into a LangGraph
``StateGraph``. Unknown keys are tolerated (files written for YamlGraph carry keys we
do not use, such as ``defaults.temperature`` or ``exports``) and ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ConfigSpec",
    "EdgeSpec",
    "GraphFileSpec",
    "InterruptNode",
    "LlmNode",
    "MapNode",
    "NODE_MODELS",
    "NodeBase",
    "PassthroughNode",
    "PythonNode",
    "RouterNode",
    "SubgraphNode",
    "ToolSpec",
    "YamlDocument",
    "YamlProblem",
    "read_yaml",
]


@dataclass(frozen=True)
class YamlProblem:
    """One problem found in a YAML graph (or prompt) file.

    ``str(problem)`` reads ``file:line: field: message``; ``line`` is 1-based, ``None``
    when unknown (printed as ``?``); ``field`` is a dotted path such as
    ``nodes.ask.resume_key`` or ``edges[2].to``.
    """

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        line = "?" if self.line is None else str(self.line)
        return f"{self.file}:{line}: {self.field}: {self.message}"


Path_ = tuple[str | int, ...]


def format_path(path: Path_) -> str:
    """``("edges", 2, "to")`` -> ``"edges[2].to"``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(file)"


@dataclass
class YamlDocument:
    """A parsed YAML file with the line of every key and list item."""

    file: str
    data: Any
    lines: dict[Path_, int]

    def line(self, path: Path_) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), None)

    def problem(self, path: Path_, message: str) -> YamlProblem:
        """A :class:`YamlProblem` located at ``path``."""
        return YamlProblem(self.file, self.line(path), format_path(path), message)


def _record_lines(
    node: yaml.Node, path: Path_, lines: dict[Path_, int], duplicates: list[tuple[Path_, int]]
) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            child = (*path, key)
            if key in seen and key != "<<":
                duplicates.append((child, key_node.start_mark.line + 1))
            seen.add(key)
            lines[child] = key_node.start_mark.line + 1
            _record_lines(value_node, child, lines, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            child = (*path, i)
            lines[child] = item.start_mark.line + 1
            _record_lines(item, child, lines, duplicates)


def read_yaml(
    path: Path, display: str | None = None
) -> tuple[YamlDocument | None, list[YamlProblem]]:
    """Read ``path`` with PyYAML's safe loader, recording lines (no arbitrary tags).

    Returns the document (``None`` when the file cannot be read or parsed) and its
    problems; a duplicated key is a problem, though the document is still returned."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [YamlProblem(name, None, "(file)", "file not found")]
    except OSError as exc:
        return None, [YamlProblem(name, None, "(file)", f"cannot read: {exc}")]
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        return None, [YamlProblem(name, line, "(file)", f"invalid YAML: {exc.problem or exc}")]
    except yaml.YAMLError as exc:
        return None, [YamlProblem(name, None, "(file)", f"invalid YAML: {exc}")]
    finally:
        loader.dispose()
    lines: dict[Path_, int] = {(): 1}
    duplicates: list[tuple[Path_, int]] = []
    if root is not None:
        _record_lines(root, (), lines, duplicates)
    problems = [
        YamlProblem(name, line, format_path(p), "duplicate key: the later one would silently win")
        for p, line in duplicates
    ]
    return YamlDocument(name, data, lines), problems


# --------------------------------------------------------------------------- models

_OPEN = ConfigDict(extra="allow", populate_by_name=True)


class ToolSpec(BaseModel):
    """``tools.<name>``: a Python function, from a file next to the graph or a module."""

    model_config = _OPEN
    type: str = "python"
    function: str | None = None
    path: str | None = None
    module: str | None = None
    description: str = ""


class ConfigSpec(BaseModel):
    """``config``: run limits. ``recursion_limit`` and ``timeout`` are read by the runner."""

    model_config = _OPEN
    recursion_limit: int | None = Field(default=None, gt=0)
    timeout: float | None = Field(default=None, gt=0)
    max_map_items: int | None = Field(default=None, gt=0)


class EdgeSpec(BaseModel):
    """``edges[i]``: ``from`` -> ``to`` (a node, a list = fan-out, or ``END``)."""

    model_config = _OPEN
    from_: str = Field(alias="from")
    to: str | list[str]
    condition: str | bool | None = None
    type: Literal["conditional", "normal", "default"] | None = None


class GraphFileSpec(BaseModel):
    """The top level of a graph file."""

    model_config = _OPEN
    version: str | int | float | None = None
    name: str = "unnamed"
    description: str = ""
    state: dict[str, Any] = Field(default_factory=dict)
    nodes: dict[str, Any]
    edges: list[Any] = Field(default_factory=list)
    loop_limits: dict[str, int] = Field(default_factory=dict)
    loop_exits: dict[str, str] = Field(default_factory=dict)
    checkpointer: dict[str, Any] | None = None
    config: ConfigSpec = Field(default_factory=ConfigSpec)
    tools: dict[str, Any] = Field(default_factory=dict)
    defaults: dict[str, Any] = Field(default_factory=dict)


class NodeBase(BaseModel):
    """Keys every node accepts."""

    model_config = _OPEN
    type: str = "llm"
    description: str = ""
    state_key: str | None = None


class PassthroughNode(NodeBase):
    """``type: passthrough``: ``output: {key: expression}``, evaluated on the incoming state."""

    output: dict[str, Any]


class InterruptNode(NodeBase):
    """``type: interrupt``: pause for a human; the answer goes to ``resume_key``."""

    message: str | dict[str, Any] | None = None
    prompt: str | None = None
    state_key: str | None = "interrupt_message"
    resume_key: str = "user_input"


class PythonNode(NodeBase):
    """``type: python``: call ``tools.<tool>`` with the state."""

    tool: str | None = None
    function: str | None = None
    variables: dict[str, Any] = Field(default_factory=dict)
    on_error: Literal["fail", "skip"] = "fail"


class RouterNode(NodeBase):
    """``type: router``: pick the next node from ``routes`` by an expression or a tool."""

    expression: str | None = None
    tool: str | None = None
    route_field: str | None = None
    routes: dict[str, str]
    default_route: str | None = None
    prompt: str | None = None


class SubgraphNode(NodeBase):
    """``type: subgraph``: run another YAML or Python graph as one node."""

    graph: str
    mode: Literal["invoke", "stream"] = "invoke"
    input_mapping: dict[str, str] = Field(default_factory=dict)
    output_mapping: dict[str, str] = Field(default_factory=dict)


class MapNode(NodeBase):
    """``type: map``: run ``node`` once per item of ``over`` (LangGraph ``Send``)."""

    over: str
    as_: str = Field(alias="as")
    node: dict[str, Any]
    collect: str
    max_items: int | None = Field(default=None, gt=0)


class LlmNode(NodeBase):
    """``type: llm``: a LangChain chat model call with a prompt file."""

    prompt: str
    variables: dict[str, Any] = Field(default_factory=dict)
    model: str | None = None
    provider: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    chat_model: str | None = None
    parse_json: bool = False
    skip_if_exists: bool = False


NODE_MODELS: dict[str, type[NodeBase]] = {
    "passthrough": PassthroughNode,
    "interrupt": InterruptNode,
    "python": PythonNode,
    "router": RouterNode,
    "subgraph": SubgraphNode,
    "map": MapNode,
    "llm": LlmNode,
}
