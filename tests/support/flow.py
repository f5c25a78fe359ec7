"""Helpers of the Python-API flow tests (tests/flow/): managers without a sweeper, storage
several managers in a row can share, row counts, the support-bot example as a module."""

from __future__ import annotations

import importlib.util
import sqlite3
import sys
from datetime import datetime, timedelta
from typing import Any

from graph_sessions import GraphSessionManager
from graph_sessions.storage.memory import MemoryBackend
from support.db_tables import session_rows
from support.paths import EXAMPLES, SUPPORT

SUPPORT_BOT = EXAMPLES / "support_bot.py"
FLOW_GRAPHS = SUPPORT / "flow_graphs.py"
DRAFT_FOR = "Thanks for writing about {!r}. We are on it."
DECLINED = "A colleague will follow up shortly."


def support_bot_module() -> Any:
    """examples/support_bot.py, imported once."""
    name = "support_bot_for_flow_tests"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SUPPORT_BOT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # TypedDict annotations are resolved through sys.modules
    spec.loader.exec_module(module)
    return module


def manager(graph: Any, backend: Any, **kwargs: Any) -> GraphSessionManager:
    """A manager without the background sweeper (nothing in these tests expires)."""
    kwargs.setdefault("sweep_interval", None)
    return GraphSessionManager(graph=graph, backend=backend, **kwargs)


def shareable(url: str) -> Any:
    """Something several managers in a row can use as the same storage: the SQLite URL, or
    one MemoryBackend object (its close() keeps the data)."""
    return MemoryBackend() if url.startswith("memory") else url


def sqlite_path(url: str) -> str:
    """The file of a ``sqlite:///`` URL."""
    assert url.startswith("sqlite:///")
    return url[len("sqlite:///") :]


def is_utc(value: datetime | None) -> bool:
    """Whether ``value`` is an aware datetime in UTC."""
    return value is not None and value.tzinfo is not None and value.utcoffset() == timedelta(0)


def count_rows(db_file: str, session_id: str) -> dict[str, int]:
    """Rows of one session in every table that holds session data (read with sqlite3)."""
    con = sqlite3.connect(db_file)
    try:
        return session_rows(con, session_id)
    finally:
        con.close()
