"""A real ``graph-sessions`` server process serving the reference graphs (``chat``,
``approval``, ``slow``, ``parent``) for the LangGraph-compatible API, and clients of the real
``langgraph_sdk`` pointed at it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support.lgapi_graphs import REFERENCE_GRAPHS
from support.server import PY, ServerProcess, base_env, free_port

HERE = Path(__file__).resolve().parent
LG_GRAPHS = REFERENCE_GRAPHS
GRAPH_IDS = ("chat", "approval", "slow", "parent")


def write_lg_config(folder: Path, db: Path, **section: Any) -> Path:
    """A langgraph.json serving the four reference graphs on SQLite at ``db``."""
    config = {
        "graphs": {g: f"{LG_GRAPHS}:{g}" for g in GRAPH_IDS},
        "graph_sessions": {"backend": f"sqlite:///{db}", **section},
    }
    path = folder / "langgraph.json"
    path.write_text(json.dumps(config))
    return path


def start_lg_server(
    folder: Path, *, env: dict[str, str] | None = None, port: int | None = None, **section: Any
) -> ServerProcess:
    """``python -m graph_sessions.server`` on the reference graphs, started and answering."""
    folder.mkdir(parents=True, exist_ok=True)
    config = write_lg_config(folder, folder / "sessions.db", **section)
    port = port or free_port()
    args = [PY, "-m", "graph_sessions.server", "--config", str(config), "--port", str(port)]
    return ServerProcess(args, base_env(**(env or {})), folder, port).start()


__all__ = ["GRAPH_IDS", "LG_GRAPHS", "start_lg_server", "write_lg_config"]
