"""The package's public surface: ``py.typed`` shipped, one explicit ``__all__`` per package,
every exported name importable and documented, internals (the checkpoint engine) not exported."""

from __future__ import annotations

import importlib
import inspect
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = ROOT / "src" / "graph_sessions"
PACKAGES = [
    "graph_sessions",
    "graph_sessions.checkpoint",
    "graph_sessions.storage",
    "graph_sessions.core",
    "graph_sessions.server",
    "graph_sessions.graphs",
]


def test_py_typed_is_in_the_package_and_the_wheel_ships_the_package_folder() -> None:
    assert (PACKAGE_DIR / "py.typed").is_file()
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]
    wheel = build["targets"]["wheel"]
    assert wheel["packages"] == ["src/graph_sessions"]  # every file under it, py.typed too
    assert not any("py.typed" in str(x) for x in wheel.get("exclude", []))


@pytest.mark.parametrize("name", PACKAGES)
def test_every_package_has_an_explicit_documented_public_list(name: str) -> None:
    module = importlib.import_module(name)
    public = module.__dict__.get("__all__")
    assert isinstance(public, list) and public, f"{name} has no __all__"
    assert len(set(public)) == len(public), f"{name}.__all__ repeats a name"
    for item in public:
        assert hasattr(module, item), f"{name}.__all__ names {item!r}, which it lacks"
        value = getattr(module, item)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"{name}.{item} has no docstring"


def test_the_checkpoint_package_does_not_export_its_engine() -> None:
    checkpoint = importlib.import_module("graph_sessions.checkpoint")
    assert sorted(checkpoint.__all__) == [
        "AsyncPostgresSaver",
        "AsyncRedisSaver",
        "AsyncSqliteSaver",
        "PostgresSaver",
        "RedisSaver",
        "SqliteSaver",
    ]
    for item in checkpoint.__all__:
        assert getattr(checkpoint, item).__module__ != "graph_sessions.checkpoint.engine"


def test_every_event_type_is_emitted_somewhere() -> None:
    """A kind the code never logs is a lie in the API's vocabulary (``deleted`` was one: the
    log is deleted with the session, so it was removed)."""
    from graph_sessions.models import EventType

    source = "\n".join(p.read_text() for p in PACKAGE_DIR.rglob("*.py") if p.name != "models.py")
    for kind in EventType:
        assert f"EventType.{kind.name}" in source, f"EventType.{kind.name} is never emitted"
    assert not hasattr(EventType, "DELETED")
