"""LangGraph checkpoint savers for SQLite and Postgres whose cost per turn does not grow
with history.

``SqliteSaver`` and ``AsyncSqliteSaver`` are drop-in replacements for LangGraph's classes
of the same names (``langgraph.checkpoint.sqlite``); ``PostgresSaver`` and
``AsyncPostgresSaver`` for ``langgraph.checkpoint.postgres``'s (they need the ``postgres``
extra: psycopg 3 and its pool). ``RedisSaver`` and ``AsyncRedisSaver`` store on plain
Redis (the ``redis`` extra). Change the import, keep the code.
See ``docs/checkpoint-saver.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graph_sessions.checkpoint.async_saver import AsyncSqliteSaver
from graph_sessions.checkpoint.sync_saver import SqliteSaver

if TYPE_CHECKING:
    from graph_sessions.checkpoint.pg_async_saver import AsyncPostgresSaver
    from graph_sessions.checkpoint.pg_saver import PostgresSaver
    from graph_sessions.checkpoint.redis_async_saver import AsyncRedisSaver
    from graph_sessions.checkpoint.redis_saver import RedisSaver

_OPTIONAL = {
    "PostgresSaver": "graph_sessions.checkpoint.pg_saver",
    "AsyncPostgresSaver": "graph_sessions.checkpoint.pg_async_saver",
    "RedisSaver": "graph_sessions.checkpoint.redis_saver",
    "AsyncRedisSaver": "graph_sessions.checkpoint.redis_async_saver",
}


def __getattr__(name: str) -> Any:
    """The Postgres and Redis savers, imported on first use (psycopg and redis are optional
    extras)."""
    if name in _OPTIONAL:
        import importlib

        return getattr(importlib.import_module(_OPTIONAL[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# The storage engine under the savers (``checkpoint.engine``) is internal, not exported.
__all__ = [
    "AsyncPostgresSaver",
    "AsyncRedisSaver",
    "AsyncSqliteSaver",
    "PostgresSaver",
    "RedisSaver",
    "SqliteSaver",
]
