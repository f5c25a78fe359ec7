"""The project configuration file (langgraph.json) as the Python API reads it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from graph_sessions import ConfigError, GraphSessionManager, load_config
from graph_sessions.config import find_config

GRAPH_PY = """
import operator
from typing import Annotated
from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START, END
import os

class S(TypedDict, total=False):
    user_input: str
    turns: Annotated[list[str], operator.add]
    response: str

def reply(state):
    greeting = os.environ.get("GREETING", "hi")
    return {"turns": [state.get("user_input", "")], "response": f"{greeting} {state.get('user_input', '')}"}

b = StateGraph(S)
b.add_node("reply", reply)
b.add_edge(START, "reply")
b.add_edge("reply", END)
graph = b
"""


def write_project(tmp_path: Path, config: dict[str, Any]) -> Path:
    (tmp_path / "app").mkdir(exist_ok=True)
    (tmp_path / "app" / "agent.py").write_text(GRAPH_PY)
    path = tmp_path / "langgraph.json"
    path.write_text(json.dumps(config, indent=2))
    return path


def test_langgraph_json_as_langgraph_users_write_it(tmp_path: Path) -> None:
    path = write_project(
        tmp_path,
        {
            "dependencies": ["."],
            "graphs": {"agent": "./app/agent.py:graph"},
            "env": {"GREETING": "hello"},
            "checkpointer": {
                "ttl": {"strategy": "delete", "default_ttl": 30, "sweep_interval_minutes": 2}
            },
            "python_version": "3.11",
        },
    )
    cfg = load_config(path, environ={}, apply_env=False)
    assert cfg.graphs == {"agent": f"{(tmp_path / 'app' / 'agent.py').resolve()}:graph"}
    assert cfg.manager == {
        "ttl": 1800.0,
        "on_expire": "delete",
        "sweep_interval": 120.0,
        "backend": f"sqlite:///{(tmp_path / 'sessions.db').resolve()}",  # next to the file
    }
    assert cfg.env == {"GREETING": "hello"}
    assert any(n.startswith("dependencies: ignored") for n in cfg.notes)
    assert any(n.startswith("python_version: ignored") for n in cfg.notes)


async def test_manager_from_config_runs_the_graphs_with_our_namespace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "s.db"
    monkeypatch.setenv("DB_PATH", str(db))
    monkeypatch.delenv("GREETING", raising=False)
    path = write_project(
        tmp_path,
        {
            "graphs": {"agent": "./app/agent.py:graph", "other": {"path": "./app/agent.py:b"}},
            "env": {"GREETING": "hey"},
            "graph_sessions": {
                "backend": "sqlite:///${DB_PATH}",
                "default_graph": "other",
                "output_key": "response",
                "ttl": 600,
                "checkpoint_retention": 5,
            },
        },
    )
    async with GraphSessionManager.from_config(path) as m:
        assert m.graph_ids == ["other", "agent"]
        assert m.ttl == 600 and m.checkpoint_retention == 5
        s = await m.create("s1", graph_id="agent")
        assert (await s.invoke({"user_input": "you"})).output == "hey you"
        assert (await m.create("s2")).info.graph_id == "other"
    assert db.is_file()
    assert os.environ["GREETING"] == "hey"  # the file's env reaches the graph


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write_project(
        tmp_path,
        {
            "graphs": {"agent": "./app/agent.py:graph"},
            "graph_sessions": {"backend": "memory://", "ttl": 60, "server": {"port": 9000}},
        },
    )
    env = {
        "GRAPH_SESSIONS_BACKEND": "sqlite:///elsewhere.db",
        "GRAPH_SESSIONS_TTL": "never",
        "GRAPH_SESSIONS_MULTITASK": "reject",
        "GRAPH_SESSIONS_PORT": "9100",
        "GRAPH_SESSIONS_API_KEYS": "k1:alice, k2:bob:admin",
    }
    cfg = load_config(path, environ=env, apply_env=False)
    assert cfg.manager["backend"] == "sqlite:///elsewhere.db"
    assert cfg.manager["ttl"] is None
    assert cfg.manager["multitask"] == "reject"
    assert cfg.server == {"port": 9100, "api_keys": ["k1:alice", "k2:bob:admin"]}
    kwargs = cfg.manager_kwargs(backend="memory://", ttl=None)
    assert kwargs["backend"] == "memory://"  # explicit arguments win; None means "not given"


def test_dotenv_file_and_expansion_defaults(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SECRET=s3cret\n# comment\nPORT=7001\n")
    path = write_project(
        tmp_path,
        {
            "env": ".env",
            "graph_sessions": {
                "backend": "${BACKEND:-memory://}",
                "server": {"jwt_secret": "${SECRET}", "host": "0.0.0.0"},
            },
        },
    )
    cfg = load_config(path, environ={}, apply_env=False)
    assert cfg.manager["backend"] == "memory://"
    assert cfg.server == {"jwt_secret": "s3cret", "host": "0.0.0.0"}
    assert cfg.env == {"SECRET": "s3cret", "PORT": "7001"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"graphs": {"a": "x.py:g"},\n  "env": }', r"langgraph.json:2:\d+: not valid JSON"),
        ("[1, 2]", "top level must be a JSON object"),
        (
            '{"graph_sessions": {"ttl": -5}}',
            r"graph_sessions.ttl: Input should be greater than 0 \(got -5\)",
        ),
        (
            '{"graph_sessions": {"multitask": "queue"}}',
            r"graph_sessions.multitask: Input should be 'enqueue'",
        ),
        (
            '{"graph_sessions": {"bakend": "memory://"}}',
            r"graph_sessions.bakend: Extra inputs are not permitted",
        ),
        ('{"graph_sessions": {"server": {"port": "x"}}}', r"graph_sessions.server.port"),
        (
            '{"graph_sessions": {"backend": "${NOPE}"}}',
            r"graph_sessions.backend: environment variable NOPE is not set",
        ),
        ('{"graphs": {"a": {"description": "no path"}}}', r"graphs.a: an object needs a 'path'"),
        (
            '{"graphs": {"a": "./x.py:g"}, "graph_sessions": {"default_graph": "b"}}',
            r"default_graph: 'b' is not one of the graphs: a",
        ),
        ('{"checkpointer": {"ttl": {"strategy": "archive"}}}', r"checkpointer.ttl.strategy"),
        ('{"env": "missing.env"}', r"env: file .*missing.env' does not exist"),
    ],
)
def test_bad_files_name_the_file_and_the_field(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "langgraph.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path, environ={}, apply_env=False)
    assert str(path) in str(info.value)


def test_bad_environment_overrides_are_typed_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"GRAPH_SESSIONS_TTL='soon': not a valid ttl"):
        load_config(None, environ={"GRAPH_SESSIONS_TTL": "soon"}, apply_env=False)
    with pytest.raises(ConfigError, match=r"ttl_mode"):
        load_config(None, environ={"GRAPH_SESSIONS_TTL_MODE": "weekly"}, apply_env=False)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.json", environ={}, apply_env=False)


def test_config_discovery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert find_config(tmp_path, environ={}) is None
    path = write_project(tmp_path, {"graphs": {"agent": "./app/agent.py:graph"}})
    assert find_config(tmp_path, environ={}) == path
    other = tmp_path / "prod.json"
    other.write_text("{}")
    assert find_config(tmp_path, environ={"GRAPH_SESSIONS_CONFIG": str(other)}) == other
    monkeypatch.chdir(tmp_path)
    assert load_config(environ={}, apply_env=False).graphs.keys() == {"agent"}


def test_auth_and_store_are_read_with_notes(tmp_path: Path) -> None:
    path = write_project(
        tmp_path,
        {
            "auth": {"path": "./auth.py:auth", "disable_studio_auth": True},
            "store": {"index": {"embed": "openai:text-embedding-3-small", "dims": 1536}},
            "mystery": 1,
        },
    )
    cfg = load_config(path, environ={}, apply_env=False)
    assert cfg.auth == {"path": "./auth.py:auth", "disable_studio_auth": True}
    assert cfg.store is not None and cfg.store["index"]["dims"] == 1536
    # auth.path is served (made absolute next to the file); the rest of auth is noted.
    assert cfg.server["auth_path"] == f"{(tmp_path / 'auth.py').resolve()}:auth"
    notes = "\n".join(cfg.notes)
    assert "auth.disable_studio_auth: ignored" in notes
    assert "store.index" in notes and "mystery: unknown key" in notes


def test_every_server_setting_has_a_file_key_and_an_environment_variable(tmp_path: Path) -> None:
    """Regression: shutdown_timeout/access_log were rejected in the file, and the JWT, claim,
    auth, disconnect and logging variables were ignored by `graph-sessions serve`."""
    from graph_sessions.server.settings import ServerSettings

    path = write_project(
        tmp_path,
        {
            "graphs": {"agent": "./app/agent.py:graph"},
            "graph_sessions": {"server": {"shutdown_timeout": 5, "access_log": False}},
        },
    )
    env = {
        "GRAPH_SESSIONS_JWT_AUDIENCE": "aud",
        "GRAPH_SESSIONS_JWT_ISSUER": "iss",
        "GRAPH_SESSIONS_OWNER_CLAIM": "email",
        "GRAPH_SESSIONS_ROLE_CLAIM": "grp",
        "GRAPH_SESSIONS_REQUIRE_AUTH": "false",
        "GRAPH_SESSIONS_ON_DISCONNECT": "cancel",
        "GRAPH_SESSIONS_LOG_JSON": "0",
    }
    cfg = load_config(path, environ=env, apply_env=False)
    settings = ServerSettings.from_env(environ={}, **cfg.server)
    assert settings.shutdown_timeout == 5 and settings.access_log is False
    assert (settings.jwt_audience, settings.jwt_issuer) == ("aud", "iss")
    assert (settings.owner_claim, settings.role_claim) == ("email", "grp")
    assert settings.require_auth is False and settings.log_json is False
    assert settings.on_disconnect == "cancel"
    with pytest.raises(ConfigError, match="on_disconnect"):
        load_config(path, environ={"GRAPH_SESSIONS_ON_DISCONNECT": "explode"}, apply_env=False)
