"""Resolve a graph reference to a LangGraph graph and bind our checkpointer and store.

A reference is a compiled graph, a ``StateGraph`` builder, ``"path/to/file.py:attr"``,
``"package.module:attr"``, a YAML graph file (``"graphs/support.yaml"``, compiled by
:mod:`graph_sessions.graphs.yaml`) or a zero-argument factory returning one of those.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import sys
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import StateGraph
from langgraph.pregel import Pregel
from langgraph.store.base import BaseStore

from graph_sessions.errors import GraphLoadError

log = logging.getLogger("graph_sessions")

GraphSource = Any  # str | Path | StateGraph | Pregel | Callable[[], StateGraph | Pregel]


def import_file_as_module(path: Path, prefix: str) -> Any:
    """Import a Python file as a module named after its resolved path (imported once per
    process), with its folder importable while it runs, as when run as a script. Whatever
    the file raises (``SystemExit`` included) propagates and leaves no module behind."""
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    name = f"{prefix}_{path.stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {str(path)!r}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    finally:
        sys.path.remove(folder)
    return module


def _import_file(path: Path, ref: str) -> Any:
    if not path.is_file():
        raise GraphLoadError(f"graph file {str(path)!r} (from {ref!r}) does not exist")
    try:
        return import_file_as_module(path, "_graph_sessions_user")
    except Exception as exc:
        raise GraphLoadError(
            f"importing {str(path)!r} (from {ref!r}) failed: {type(exc).__name__}: {exc}"
        ) from exc


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
