"""The ``tools`` section: python functions (from a file or a module) that python,
router and llm nodes name."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from graph_sessions.graphs.imports import import_file_as_module
from graph_sessions.graphs.yaml.schema import Path_, YamlDocument, YamlProblem

__all__ = ["load_tools"]


def load_tools(
    doc: YamlDocument,
    raw_tools: Mapping[str, Any],
    base_dir: Path,
    overrides: Mapping[str, Callable[..., Any]],
    problems: list[YamlProblem],
) -> tuple[dict[str, Callable[..., Any]], set[str]]:
    """The loaded tools by name, and every tool name (a tool that failed to load is
    named but absent, its problem reported). ``overrides`` add or replace tools."""
    tools: dict[str, Callable[..., Any]] = {}
    names: set[str] = set(overrides)
    for name, raw in raw_tools.items():
        names.add(str(name))
        if name in overrides:
            continue
        fn = _load_tool(doc, ("tools", name), raw, base_dir, problems)
        if fn is not None:
            tools[str(name)] = fn
    tools.update(overrides)
    return tools, names


def _load_tool(
    doc: YamlDocument, path: Path_, raw: Any, base_dir: Path, problems: list[YamlProblem]
) -> Callable[..., Any] | None:
    """One ``type: python`` tool's function (``None`` after reporting why not)."""
    if not isinstance(raw, dict):
        problems.append(doc.problem(path, f"a tool must be a mapping, not {type(raw).__name__}"))
        return None
    kind = raw.get("type", "shell" if "command" in raw else "python")
    if kind != "python":
        problems.append(
            doc.problem(
                (*path, "type"),
                f"tool type {kind!r} is not supported (only `type: python` tools are)",
            )
        )
        return None
    function = raw.get("function")
    if not isinstance(function, str) or not function:
        problems.append(doc.problem((*path, "function"), "required field is missing"))
        return None
    file, module_name = raw.get("path"), raw.get("module")
    if file and module_name:
        problems.append(doc.problem(path, "give either `path` or `module`, not both"))
        return None
    if not file and not module_name and "." in function:
        module_name, _, function = function.rpartition(".")
    module = _tool_module(doc, path, file, module_name, base_dir, problems)
    if module is None:
        return None
    fn = getattr(module, function, None)
    if fn is None or not callable(fn):
        problems.append(
            doc.problem(
                (*path, "function"),
                f"{function!r} is not a function of {file or module.__name__!r}",
            )
        )
        return None
    return fn


def _tool_module(
    doc: YamlDocument,
    path: Path_,
    file: Any,
    module_name: Any,
    base_dir: Path,
    problems: list[YamlProblem],
) -> Any:
    """The module a tool comes from: its file (relative to the graph) or its module."""
    try:
        if file:
            target = Path(str(file)).expanduser()
            if not target.is_absolute():
                target = base_dir / target
            if not target.is_file():
                problems.append(
                    doc.problem((*path, "path"), f"tool file {str(target)!r} does not exist")
                )
                return None
            return import_file_as_module(target, "_graph_sessions_yaml_tools")
        if module_name:
            return importlib.import_module(str(module_name))
        problems.append(doc.problem(path, "a python tool needs `path` (a file) or `module`"))
        return None
    except (Exception, SystemExit) as exc:  # a tool file calling sys.exit() at import
        problems.append(
            doc.problem(
                (*path, "path" if file else "module"),
                f"importing the tool failed: {type(exc).__name__}: {exc}",
            )
        )
        return None
