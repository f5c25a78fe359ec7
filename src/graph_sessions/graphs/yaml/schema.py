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
from pydantic import BaseModel, ConfigDict, Field, ValidationError

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
    "validation_problems",
    "yaml_type",
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
    except UnicodeDecodeError as exc:
        bad_line = path.read_bytes()[: exc.start].count(b"\n") + 1
        return None, [YamlProblem(name, bad_line, "(file)", f"not UTF-8 text: {exc.reason}")]
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


# --------------------------------------------------------------------------- messages

_EXPECTED = {
    "string_type": "a string",
    "dict_type": "a mapping (key: value)",
    "list_type": "a list",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
}


def yaml_type(value: Any) -> str:
    """How a YAML reader would name ``value``'s type (``a list``, ``the number 5``...)."""
    if value is None:
        return "null (nothing)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {shown!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def validation_problems(
    doc: YamlDocument, exc: ValidationError, prefix: Path_ = ()
) -> list[YamlProblem]:
    """Pydantic's errors as problems in YAML words, one per field.

    A field whose value failed every member of a union (``message: 42`` against
    ``str | dict``) gives one problem listing what is accepted, at the field itself
    (Pydantic adds the member's name to the location)."""
    grouped: dict[Path_, list[dict[str, Any]]] = {}
    for err in exc.errors():
        raw_loc = err["loc"]
        if raw_loc and raw_loc[-1] == "[key]":  # a mapping key that is not a string
            key_path: Path_ = (*prefix, *(str(p) for p in raw_loc[:-1]))
            key = raw_loc[-2] if len(raw_loc) > 1 else None
            grouped.setdefault(key_path, []).append(
                {
                    "type": "key",
                    "msg": f"the name {key!r} should be a string: write it in quotes ('{key}')",
                }
            )
            continue
        loc: Path_ = (*prefix, *(p for p in raw_loc if isinstance(p, str | int)))
        if err["type"] != "missing":
            # Cut union member names (``message.str``): keep the part written in the file.
            while len(loc) > len(prefix) + 1 and loc not in doc.lines:
                loc = loc[:-1]
        grouped.setdefault(loc, []).append(dict(err))
    out: list[YamlProblem] = []
    for loc, errs in grouped.items():
        if any(e["type"] == "missing" for e in errs):
            out.append(doc.problem(loc, "required field is missing"))
            continue
        expected = list(dict.fromkeys(_EXPECTED[e["type"]] for e in errs if e["type"] in _EXPECTED))
        if expected and len(expected) == len(errs):
            got = yaml_type(errs[0].get("input"))
            out.append(doc.problem(loc, f"should be {' or '.join(expected)}, not {got}"))
            continue
        for e in errs:
            msg = str(e["msg"])
            if msg.startswith("Input should be"):
                msg = "should be" + msg[len("Input should be") :]
            out.append(doc.problem(loc, msg))
    return out


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
    parse_json: bool | None = None  # None: true when the prompt file declares a `schema`
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
