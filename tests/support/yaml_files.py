"""Helpers of the YAML graph tests: write a graph file (and its neighbours) and run it."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from graph_sessions import GraphSessionManager


def write(folder: Path, name: str, text: str) -> Path:
    """Write ``text`` (dedented) to ``folder/name`` and return the path."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def visible(state: dict[str, Any]) -> dict[str, Any]:
    """The state without the hidden bookkeeping keys (``_route``, ``_loop_counts``...)."""
    return {k: v for k, v in state.items() if not k.startswith("_")}


def manager(graph: Any, tmp_path: Path, **kwargs: Any) -> GraphSessionManager:
    """A manager on a fresh SQLite file in ``tmp_path``."""
    return GraphSessionManager(graph=graph, backend=f"sqlite:///{tmp_path / 'y.db'}", **kwargs)
