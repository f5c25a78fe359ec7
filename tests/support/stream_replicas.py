"""Replicas for the tests: the same server started N times on one Postgres database (each
process its own port and folder), serving the ``ticker`` graph (``stream_graphs.py``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support.server import PY, ServerProcess, base_env, free_port

HERE = Path(__file__).resolve().parent
GRAPHS = HERE / "stream_graphs.py"


def start_replica(folder: Path, backend: str, **section: Any) -> ServerProcess:
    """One replica on ``backend`` (a Postgres URL or a shared SQLite URL), started."""
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "graphs": {"ticker": f"{GRAPHS}:ticker"},
        "graph_sessions": {"backend": backend, **section},
    }
    path = folder / "langgraph.json"
    path.write_text(json.dumps(config))
    port = free_port()
    args = [PY, "-m", "graph_sessions.server", "--config", str(path), "--port", str(port)]
    return ServerProcess(args, base_env(), folder, port).start()


def start_replicas(root: Path, backend: str, n: int = 2, **section: Any) -> list[ServerProcess]:
    """``n`` replicas on one database (started one after the other: they migrate once)."""
    return [start_replica(root / f"replica{i}", backend, **section) for i in range(n)]


__all__ = ["start_replica", "start_replicas"]
