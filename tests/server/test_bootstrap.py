"""One server bootstrap for `graph-sessions serve` and `python -m graph_sessions.server`:
precedence command line > GRAPH_SESSIONS_* environment > config file > defaults, as
docs/cli.md and docs/deployment.md say, and the same answer from both entry points."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from support.server import GRAPHS, PY, ServerProcess, base_env, free_port

from graph_sessions.errors import ConfigError
from graph_sessions.server.bootstrap import plan_server


def project(folder: Path, **server: Any) -> Path:
    """A langgraph.json with two graphs and ``server`` as its server section."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "langgraph.json"
    path.write_text(
        json.dumps(
            {
                "graphs": {"work": f"{GRAPHS}:work", "approval": f"{GRAPHS}:approval"},
                "graph_sessions": {
                    "backend": f"sqlite:///{folder / 'sessions.db'}",
                    "shutdown_timeout": 20,
                    "server": server,
                },
            }
        )
    )
    return path


def test_port_precedence_cli_env_file_default(tmp_path: Path) -> None:
    with_port = str(project(tmp_path / "a", port=9000))
    env = {"GRAPH_SESSIONS_PORT": "9100"}
    assert plan_server(config=with_port, environ=env, port=9200).settings.port == 9200
    assert plan_server(config=with_port, environ=env).settings.port == 9100
    assert plan_server(config=with_port, environ={}).settings.port == 9000
    bare = str(project(tmp_path / "b"))
    assert plan_server(config=bare, environ={}).settings.port == 8123


def test_shutdown_timeout_env_beats_the_server_section_which_beats_the_top_level(
    tmp_path: Path,
) -> None:
    """`serve` used to let the file's server.shutdown_timeout beat the environment."""
    with_section = str(project(tmp_path / "a", shutdown_timeout=5))
    env = {"GRAPH_SESSIONS_SHUTDOWN_TIMEOUT": "10"}
    assert plan_server(config=with_section, environ=env).settings.shutdown_timeout == 10
    assert plan_server(config=with_section, environ={}).settings.shutdown_timeout == 5
    # Without a server value, the top-level one (20) is the server's too (python -m used 30).
    plan = plan_server(config=str(project(tmp_path / "b")), environ={})
    assert plan.settings.shutdown_timeout == 20 and plan.manager_kwargs["shutdown_timeout"] == 20


def test_environment_words_and_graph(tmp_path: Path) -> None:
    path = str(project(tmp_path, run_timeout=30))
    env = {"GRAPH_SESSIONS_RUN_TIMEOUT": "never", "GRAPH_SESSIONS_GRAPH": "approval"}
    plan = plan_server(config=path, environ=env)
    assert plan.settings.run_timeout is None  # `python -m` used to refuse "never"
    assert plan.manager_kwargs["graph_id"] == "approval"  # `serve` used to ignore the variable
    assert plan_server("work", config=path, environ=env).manager_kwargs["graph_id"] == "work"
    with pytest.raises(ConfigError, match="GRAPH_SESSIONS_PORT='x': not a valid port"):
        plan_server(config=path, environ={"GRAPH_SESSIONS_PORT": "x"})
    with pytest.raises(ConfigError, match="server settings: port"):
        plan_server(config=path, environ={}, port=70000)
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    with pytest.raises(ConfigError, match="serve needs a graph"):
        plan_server(config=str(empty), environ={})


def _command(entry: str) -> list[str]:
    if entry.startswith("python"):
        return [PY, "-m", "graph_sessions.server"]
    exe = Path(sys.executable).parent / "graph-sessions"
    return [*([str(exe)] if exe.exists() else [PY, "-m", "graph_sessions.cli.main"]), "serve"]


@pytest.mark.parametrize("entry", ["python -m graph_sessions.server", "graph-sessions serve"])
def test_both_entry_points_read_the_same_sources(tmp_path: Path, entry: str) -> None:
    """A real process of each entry point, with the file, the environment and no flags:
    the environment's port wins over the file's, ``never`` is a run timeout, and
    GRAPH_SESSIONS_GRAPH picks the default graph."""
    file_port, env_port = free_port(), free_port()
    path = project(tmp_path, port=file_port, run_timeout=30)
    args = _command(entry)
    env = base_env(
        GRAPH_SESSIONS_PORT=str(env_port),
        GRAPH_SESSIONS_RUN_TIMEOUT="never",
        GRAPH_SESSIONS_GRAPH="approval",
    )
    srv = ServerProcess([*args, "--config", str(path)], env, tmp_path, env_port).start()
    try:
        with srv.client() as c:
            r = c.post("/sessions", json={"session_id": "s1"})
            assert r.status_code == 201, r.text
            assert r.json()["graph_id"] == "approval"
    finally:
        srv.stop()
