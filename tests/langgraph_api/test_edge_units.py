"""Quick checks (no process) of the LangGraph edge: loading auth files and running their
handlers with LangGraph's semantics, and the settings langgraph.json gives (http.cors,
auth.path, store.ttl, checkpointer.ttl) through ``load_config``."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request

from graph_sessions.config import load_config
from graph_sessions.errors import ConfigError
from graph_sessions.server.errors import ApiError
from graph_sessions.server.langgraph_api.lg_auth import (
    AuthUser,
    auth_configurable,
    load_lg_auth,
    matches_filter,
)
from graph_sessions.settings import CorsSettings, ServerSettings


def _auth_file(folder: Path, body: str, name: str = "auth.py") -> Path:
    path = folder / name
    path.write_text("from langgraph_sdk import Auth\nauth = Auth()\n" + textwrap.dedent(body))
    return path


def _request(headers: dict[str, str], path: str = "/threads", query: str = "") -> Request:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": path,
        "query_string": query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "path_params": {},
    }
    return Request(scope)


async def test_authenticate_gets_parameters_by_name_and_may_be_sync(tmp_path: Path) -> None:
    _auth_file(
        tmp_path,
        """
        @auth.authenticate
        def who(headers, path, method, query_params, request, scopes):
            assert path == "/threads" and method == "POST" and scopes == []
            assert request.url.path == "/threads"
            return {"identity": headers[b"x-user"].decode() + query_params.get("suffix", ""),
                    "permissions": ["p1"]}
        """,
    )
    lg = load_lg_auth("./auth.py:auth", tmp_path)
    req = _request({"X-User": "carol"}, query="suffix=-x")
    principal = await lg.authenticate(req)
    assert (principal.owner, principal.role, principal.via) == ("carol-x", "user", "auth_file")
    user = req.state.lg_user
    assert user.identity == "carol-x" and list(user.permissions) == ["p1"]
    assert auth_configurable(req) == {
        "langgraph_auth_user": {
            "identity": "carol-x",
            "display_name": "carol-x",
            "is_authenticated": True,
            "permissions": ["p1"],
        },
        "langgraph_auth_user_id": "carol-x",
        "langgraph_auth_permissions": ["p1"],
    }
    assert auth_configurable(_request({})) == {}


async def test_authenticate_failures_answer_401_or_the_handlers_status(tmp_path: Path) -> None:
    _auth_file(
        tmp_path,
        """
        @auth.authenticate
        async def who(authorization):
            if authorization == "Bearer forbidden":
                raise Auth.exceptions.HTTPException(status_code=403, detail="go away")
            if authorization == "Bearer nobody":
                return None
            return {}["boom"]
        """,
    )
    lg = load_lg_auth(str(tmp_path / "auth.py") + ":auth")
    for token, status, text in (
        ("forbidden", 403, "go away"),
        ("nobody", 401, "authentication failed"),
        ("crash", 401, "authentication failed"),
    ):
        with pytest.raises(ApiError) as err:
            await lg.authenticate(_request({"Authorization": f"Bearer {token}"}))
        assert (err.value.status, err.value.message) == (status, text)


async def test_handlers_run_most_specific_first_with_langgraph_answers(tmp_path: Path) -> None:
    _auth_file(
        tmp_path,
        """
        @auth.authenticate
        async def who():
            return "u"

        @auth.on
        async def everything(ctx, value):
            value.setdefault("metadata", {})["owner"] = ctx.user.identity
            return {"owner": ctx.user.identity}

        @auth.on.threads.delete
        async def no_delete(ctx, value):
            return False

        @auth.on.threads.read
        async def read(ctx, value):
            assert value.get("ok"), "not ok"
            return True

        @auth.on.assistants
        async def assistants(ctx, value):
            raise Auth.exceptions.HTTPException(status_code=418, detail="teapot")
        """,
    )
    lg = load_lg_auth("./auth.py:auth", tmp_path)
    user = AuthUser({"identity": "u"})
    value: dict[str, Any] = {"metadata": {"a": 1}}
    assert await lg.authorize(user, "threads", "create", value) == {"owner": "u"}
    assert value["metadata"] == {"a": 1, "owner": "u"}
    assert await lg.authorize(user, "threads", "read", {"ok": True}) is None
    for resource, action, val, status, message in (
        ("threads", "delete", {}, 403, "Forbidden"),
        ("threads", "read", {}, 403, "not ok"),
        ("assistants", "search", {}, 418, "teapot"),
    ):
        with pytest.raises(ApiError) as err:
            await lg.authorize(user, resource, action, val)
        assert (err.value.status, err.value.message) == (status, message)
    assert lg.handles("store")  # the global handler covers every resource


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("./missing.py:auth", "does not exist"),
        ("./auth.py:nothing", "not a langgraph_sdk.Auth"),
        ("noname", "write './auth.py:auth'"),
        ("./noauthenticate.py:auth", "no @auth.authenticate"),
        ("./broken.py:auth", "cannot import"),
    ],
)
def test_bad_auth_paths_are_config_errors(tmp_path: Path, text: str, problem: str) -> None:
    _auth_file(tmp_path, "@auth.authenticate\nasync def who():\n    return 'u'\n")
    _auth_file(tmp_path, "", name="noauthenticate.py")
    (tmp_path / "broken.py").write_text("raise RuntimeError('oops')\n")
    with pytest.raises(ConfigError, match=problem):
        load_lg_auth(text, tmp_path)


def test_matches_filter_like_langgraph() -> None:
    meta = {"owner": "a", "tags": ["x", "y"]}
    assert matches_filter(meta, None) and matches_filter(meta, {})
    assert matches_filter(meta, {"owner": "a"})
    assert matches_filter(meta, {"owner": {"$eq": "a"}})
    assert not matches_filter(meta, {"owner": "b"})
    assert matches_filter(meta, {"tags": {"$contains": "x"}})
    assert matches_filter(meta, {"tags": {"$contains": ["x", "y"]}})
    assert not matches_filter(meta, {"tags": {"$contains": "z"}})
    assert not matches_filter(None, {"owner": "a"})


# ---------------------------------------------------------------- settings and the file
def test_cors_setting_forms() -> None:
    default = ServerSettings().cors
    assert default.enabled and default.allow_origins == ["*"] and not default.credentials
    assert default.expose_headers == [
        "x-pagination-total",
        "x-pagination-next",
        "content-location",
    ]
    env = ServerSettings.from_env({"GRAPH_SESSIONS_CORS": "https://a.example, https://b.example"})
    assert env.cors.allow_origins == ["https://a.example", "https://b.example"]
    assert env.cors.credentials
    as_json = ServerSettings.from_env({"GRAPH_SESSIONS_CORS": '{"allow_origins": ["https://c"]}'})
    assert as_json.cors.allow_origins == ["https://c"]
    assert not ServerSettings.from_env({"GRAPH_SESSIONS_CORS": "off"}).cors.enabled
    assert not ServerSettings(cors=False).cors.enabled  # type: ignore[arg-type]
    assert CorsSettings(allow_origins=["https://d"], allow_credentials=False).credentials is False


def _project(folder: Path, data: dict[str, Any]) -> Path:
    path = folder / "langgraph.json"
    path.write_text(json.dumps({"graphs": {"agent": "./agent.py:graph"}, **data}))
    return path


def test_langgraph_keys_become_server_settings(tmp_path: Path) -> None:
    path = _project(
        tmp_path,
        {
            "http": {"cors": {"allow_origins": ["https://ui.example"], "max_age": 60}},
            "auth": {"path": "./auth.py:auth"},
            "store": {"ttl": {"default_ttl": 30, "sweep_interval_minutes": 2}},
        },
    )
    cfg = load_config(path, environ={}, apply_env=False)
    settings = ServerSettings.from_sources(cfg.server, {})
    assert settings.cors.allow_origins == ["https://ui.example"] and settings.cors.max_age == 60
    assert settings.auth_path == f"{(tmp_path / 'auth.py').resolve()}:auth"
    assert settings.auth_enabled
    ttl = settings.store_ttl
    assert (ttl.default_ttl, ttl.sweep_interval_minutes, ttl.refresh_on_read) == (30, 2, True)
    # Our own section wins over LangGraph's keys; the environment wins over both.
    path = _project(
        tmp_path,
        {
            "http": {"cors": {"allow_origins": ["https://ui.example"]}},
            "graph_sessions": {"server": {"cors": {"allow_origins": ["https://ours"]}}},
        },
    )
    cfg = load_config(path, environ={}, apply_env=False)
    assert ServerSettings.from_sources(cfg.server, {}).cors.allow_origins == ["https://ours"]
    cfg = load_config(path, environ={"GRAPH_SESSIONS_CORS": "off"}, apply_env=False)
    assert not ServerSettings.from_sources(cfg.server, {}).cors.enabled


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"http": {"cors": {"allow_origins": "*", "bogus": 1}}}, "cors"),
        ({"store": {"ttl": {"default_ttl": -1}}}, "store_ttl"),
        ({"store": {"ttl": {"sweep_every": 3}}}, "store_ttl"),
    ],
)
def test_bad_langgraph_server_keys_are_config_errors(
    tmp_path: Path, data: dict[str, Any], where: str
) -> None:
    with pytest.raises(ConfigError, match=where):
        load_config(_project(tmp_path, data), environ={}, apply_env=False)


def test_checkpointer_ttl_maps_onto_session_ttl_and_sweeper(tmp_path: Path) -> None:
    path = _project(
        tmp_path,
        {
            "checkpointer": {
                "ttl": {"strategy": "delete", "default_ttl": 60, "sweep_interval_minutes": 5}
            }
        },
    )
    cfg = load_config(path, environ={}, apply_env=False)
    assert cfg.manager["ttl"] == 3600.0
    assert cfg.manager["on_expire"] == "delete"
    assert cfg.manager["sweep_interval"] == 300.0
    # Our section wins; a strategy we do not know is a config error, not a silent default.
    path = _project(
        tmp_path,
        {
            "checkpointer": {"ttl": {"default_ttl": 60}},
            "graph_sessions": {"ttl": 10},
        },
    )
    assert load_config(path, environ={}, apply_env=False).manager["ttl"] == 10
    path = _project(tmp_path, {"checkpointer": {"ttl": {"strategy": "explode"}}})
    with pytest.raises(ConfigError, match="strategy"):
        load_config(path, environ={}, apply_env=False)
