"""Python graph references: ``"path/to/file.py:attr"``, ``"package.module:attr"`` and
factories, resolved to a ``StateGraph`` or a compiled graph.

Below both :mod:`.references` (which adds YAML files and binding) and :mod:`.yaml` (whose
subgraph nodes may name a python graph), so that neither imports the other for it.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from langgraph.graph import StateGraph
from langgraph.pregel import Pregel

from graph_sessions.errors import GraphLoadError
from graph_sessions.graphs.imports import import_file_as_module

__all__ = ["as_graph", "load_python_graph", "resolve_python_reference"]


def _import_file(path: Path, ref: str) -> Any:
    if not path.is_file():
        raise GraphLoadError(f"graph file {str(path)!r} (from {ref!r}) does not exist")
    try:
        return import_file_as_module(path, "_graph_sessions_user")
    except Exception as exc:
        raise GraphLoadError(
            f"importing {str(path)!r} (from {ref!r}) failed: {type(exc).__name__}: {exc}"
        ) from exc


def resolve_python_reference(text: str, ref: str, base_dir: Path | None) -> Any:
    """The object ``text`` (``module:attr`` or ``file.py:attr``, stripped) names; ``ref`` is
    the reference as given, for messages. A relative file is taken from ``base_dir``."""
    module_part, sep, attr = text.rpartition(":")
    if not sep or not module_part or not attr:
        raise GraphLoadError(
            f"graph reference {ref!r} must look like 'path/to/file.py:graph' or 'package.module:graph'"
        )
    if module_part.endswith(".py") or "/" in module_part or "\\" in module_part:
        path = Path(module_part).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        module = _import_file(path, ref)
    else:
        try:
            module = importlib.import_module(module_part)
        except Exception as exc:
            raise GraphLoadError(
                f"cannot import module {module_part!r} (from {ref!r}): {type(exc).__name__}: {exc}"
            ) from exc
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise GraphLoadError(
                f"{module_part!r} has no attribute {attr!r} (from {ref!r})"
            ) from None
    return obj


def as_graph(obj: Any, source: Any) -> StateGraph | Pregel:
    """``obj`` as a graph: a zero-argument factory is called; anything else not a
    ``StateGraph`` or compiled graph is an error naming ``source``."""
    if not isinstance(obj, StateGraph | Pregel) and callable(obj):
        try:
            obj = obj()
        except TypeError as exc:
            raise GraphLoadError(f"graph factory {source!r} must take no arguments: {exc}") from exc
        except Exception as exc:
            raise GraphLoadError(
                f"graph factory {source!r} raised {type(exc).__name__}: {exc}"
            ) from exc
    if not isinstance(obj, StateGraph | Pregel):
        raise GraphLoadError(
            f"{source!r} resolved to {type(obj).__name__}, not a LangGraph StateGraph or compiled graph"
        )
    return obj


def load_python_graph(ref: str, *, base_dir: Path | None = None) -> StateGraph | Pregel:
    """The graph a python reference names (a factory is called)."""
    return as_graph(resolve_python_reference(ref.strip(), ref, base_dir), ref)
