"""The connection the storage engine runs on: the part of ``sqlite3.Connection`` it uses.

``sqlite3.Connection`` is one; the Postgres savers hand the engine an adapter of a
psycopg connection (``pg_conn.py``) that speaks the same calls and translates the SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol


class Cursor(Protocol):
    """The result of ``Connection.execute``."""

    @property
    def rowcount(self) -> int:
        """Rows changed by a write statement."""

    def fetchone(self) -> Any:
        """The next row, or ``None``."""

    def fetchall(self) -> list[Any]:
        """The remaining rows."""

    def __iter__(self) -> Iterator[Any]:
        """The remaining rows, one by one."""

    def close(self) -> None:
        """Drop the remaining rows."""


class Connection(Protocol):
    """What ``StorageEngine`` calls on a connection (SQL in SQLite's dialect, ``?`` marks)."""

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor:
        """Run one statement."""

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Any:
        """Run one statement once per parameter row."""

    def commit(self) -> None:
        """Commit the open transaction."""
