"""Every layer takes its value sets from ``graph_sessions.vocabulary``: the config file, the
manager, a run's options, listing, the HTTP schema and the server settings accept exactly
the vocabulary's words, so a new word is one edit there."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest
from support.server import GRAPHS as SERVER_GRAPHS

from graph_sessions import ConfigError, GraphSessionManager, InvalidInput, load_config
from graph_sessions.server.app import create_app
from graph_sessions.server.settings import ServerSettings
from graph_sessions.vocabulary import (
    CANCEL_ACTIONS,
    DURABILITIES,
    EXPIRY_STRATEGIES,
    MULTITASK_STRATEGIES,
    ON_DISCONNECT,
    ROLES,
    SORT_FIELDS,
    SORT_ORDERS,
    TTL_MODES,
    choice_error,
)

SRC = Path(__file__).resolve().parent.parent / "src" / "graph_sessions"
GRAPH = f"{SERVER_GRAPHS}:work"


def test_choice_error_names_the_choices() -> None:
    assert choice_error("order", "asc", SORT_ORDERS) is None
    assert choice_error("order", "up", SORT_ORDERS) == "order must be 'asc' or 'desc', not 'up'"
    assert choice_error("sort", 3, SORT_FIELDS) == (
        "sort must be one of created_at, updated_at, expires_at, not 3"
    )


def test_no_module_spells_a_value_set_of_its_own() -> None:
    """No ``Literal[...]`` in src repeats (or is a subset of) a vocabulary set."""
    sets = {
        frozenset(s)
        for s in (
            MULTITASK_STRATEGIES,
            CANCEL_ACTIONS,
            DURABILITIES,
            TTL_MODES,
            EXPIRY_STRATEGIES,
            ON_DISCONNECT,
            SORT_FIELDS,
            SORT_ORDERS,
            ROLES,
        )
    }
    found = []
    for path in SRC.rglob("*.py"):
        if path.name == "vocabulary.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Subscript) and getattr(node.value, "id", "") == "Literal":
                items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
                words = frozenset(getattr(i, "value", None) for i in items)
                if any(words <= s for s in sets):
                    found.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert found == []


def _config(tmp_path: Path, **section: Any) -> None:
    path = tmp_path / "langgraph.json"
    path.write_text(json.dumps({"graph_sessions": section}))
    load_config(path, environ={}, apply_env=False)


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("multitask", MULTITASK_STRATEGIES),
        ("durability", DURABILITIES),
        ("ttl_mode", TTL_MODES),
        ("on_expire", EXPIRY_STRATEGIES),
    ],
)
def test_config_file_and_manager_accept_exactly_the_vocabulary(
    tmp_path: Path, key: str, words: tuple[str, ...]
) -> None:
    for word in words:
        _config(tmp_path, **{key: word})
        GraphSessionManager(GRAPH, "memory://", **{key: word})
    with pytest.raises(ConfigError, match=key):
        _config(tmp_path, **{key: "nonsense"})
    with pytest.raises(InvalidInput, match=f"{key} must be"):
        GraphSessionManager(GRAPH, "memory://", **{key: "nonsense"})


def test_server_settings_and_file_section_accept_exactly_the_vocabulary(tmp_path: Path) -> None:
    for word in ON_DISCONNECT:
        assert ServerSettings(on_disconnect=word).on_disconnect == word
        _config(tmp_path, server={"on_disconnect": word})
    with pytest.raises(ConfigError, match="on_disconnect"):
        _config(tmp_path, server={"on_disconnect": "nonsense"})
    for role in ROLES:
        assert ServerSettings(api_keys=f"k:o:{role}").api_keys[0].role == role
    with pytest.raises(ValueError, match="API key role must be 'user' or 'admin'"):
        ServerSettings(api_keys="k:o:root")


def test_every_server_setting_is_a_file_key_and_an_environment_variable(tmp_path: Path) -> None:
    """A new ServerSettings field needs nothing else: the file and the environment know it."""
    names = list(ServerSettings.model_fields)
    assert {ServerSettings.env_var(n) for n in names} == {
        "GRAPH_SESSIONS_" + n.upper() for n in names
    }
    env = {ServerSettings.env_var("metrics_cache_seconds"): "3"}
    assert ServerSettings.env_values(env) == {"metrics_cache_seconds": "3"}
    with pytest.raises(ConfigError, match="Extra inputs are not permitted"):
        _config(tmp_path, server={"no_such_setting": 1})


def _enum_of(schema: dict[str, Any], model: str, field: str) -> list[str]:
    prop = schema["components"]["schemas"][model]["properties"][field]
    for option in prop.get("anyOf", [prop]):
        if "enum" in option:
            return list(option["enum"])
    ref = next(o["$ref"] for o in prop.get("anyOf", [prop]) if "$ref" in o)
    return list(schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["enum"])


def test_http_schema_lists_the_vocabulary() -> None:
    schema = create_app(GraphSessionManager(GRAPH, "memory://")).openapi()
    assert _enum_of(schema, "InvokeRequest", "multitask") == list(MULTITASK_STRATEGIES)
    assert _enum_of(schema, "InvokeRequest", "durability") == list(DURABILITIES)
    assert _enum_of(schema, "StreamRequest", "on_disconnect") == list(ON_DISCONNECT)
    params = schema["paths"]["/sessions"]["get"]["parameters"]
    sort = next(p for p in params if p["name"] == "sort")["schema"]["pattern"]
    assert sort == "^(" + "|".join(SORT_FIELDS) + ")$"


async def test_listing_accepts_exactly_the_vocabulary() -> None:
    async with GraphSessionManager(GRAPH, "memory://") as m:
        for sort in SORT_FIELDS:
            for order in SORT_ORDERS:
                await m.list(sort=sort, order=order)
        with pytest.raises(InvalidInput, match="sort must be one of"):
            await m.list(sort="nonsense")  # type: ignore[arg-type]


def test_models_reuse_the_vocabulary_types() -> None:
    from graph_sessions import models
    from graph_sessions import vocabulary as v
    from graph_sessions.storage import backend

    assert models.MultitaskStrategy is v.MultitaskStrategy
    assert models.Durability is v.Durability and models.TTLMode is v.TTLMode
    assert backend.SortField is v.SortField
