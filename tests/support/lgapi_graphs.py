"""The graphs of ``reference/langgraph-api/lgdev-project/graphs.py`` (``chat``, ``approval``,
``slow``, ``parent``): the LangGraph-compatible API is tested on the very graphs LangGraph's
own server was recorded with. Loaded from that file, not copied."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

REFERENCE_GRAPHS = (
    Path(__file__).resolve().parents[2]
    / "reference"
    / "langgraph-api"
    / "lgdev-project"
    / "graphs.py"
)


def _load() -> Any:
    name = "graph_sessions_reference_graphs"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REFERENCE_GRAPHS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_graphs = _load()
chat = _graphs.chat
approval = _graphs.approval
slow = _graphs.slow
parent = _graphs.parent

__all__ = ["REFERENCE_GRAPHS", "approval", "chat", "parent", "slow"]
