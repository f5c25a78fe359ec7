"""SQLite backend: ``schema`` (tables and migrations), ``connection`` (the one aiosqlite
connection and its WAL thread), ``rows`` (row <-> model mapping), ``fencing`` (transactions
and fenced savers), ``assistants`` (assistant versions), ``pending`` (pending runs) and ``backend`` (:class:`SqliteBackend` and its queries)."""

from graph_sessions.storage.sqlite.backend import SqliteBackend
from graph_sessions.storage.sqlite.schema import MIGRATIONS, SESSION_COLUMNS

__all__ = ["MIGRATIONS", "SESSION_COLUMNS", "SqliteBackend"]
