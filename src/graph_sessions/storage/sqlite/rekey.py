"""``rekey`` on SQLite (``storage/rekey.py``): each batch read and re-sealed inside one
``BEGIN IMMEDIATE`` transaction, the lock every writer of the file takes, so a server
writing meanwhile waits a batch at most (its busy timeout) and loses nothing.

The connection deletes securely while it re-seals (``PRAGMA secure_delete``: an old
cell's bytes are overwritten, not left in the page), and the write-ahead log, which still
holds the pages as they were, is truncated at the end when no reader needs it."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from graph_sessions.jsonable import dumps
from graph_sessions.storage.rekey import SQL_TABLES, Batch, RekeyTable, Row
from graph_sessions.storage.sqlite.connection import SqliteConnection


def _load(value: Any) -> Any:
    return None if value is None else orjson.loads(value)


class SqliteRekeySource:
    """Batches of a SQLite file's tables, on the backend's own connection."""

    def __init__(self, connection: SqliteConnection) -> None:
        self.connection = connection

    async def tables(self) -> Sequence[RekeyTable]:
        """The tables of :data:`SQL_TABLES` this file has."""

        def names(c: sqlite3.Connection) -> set[str]:
            c.execute("PRAGMA secure_delete=ON")
            return {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}

        have = await self.connection.call(names)
        return [t for t in SQL_TABLES if t.table in have]

    async def last_key(self, table: RekeyTable) -> tuple[Any, ...] | None:
        """The highest primary key now (see ``RekeySource.last_key``)."""
        sql = table.last_key_sql()
        row = await self.connection.call(lambda c: c.execute(sql).fetchone())
        return None if row is None else tuple(row)

    async def batch(
        self,
        table: RekeyTable,
        after: tuple[Any, ...] | None,
        until: tuple[Any, ...],
        limit: int,
        reseal: Callable[[Row], Row | None],
        write: bool,
    ) -> Batch:
        """One batch (see ``RekeySource.batch``)."""
        return await self.connection.call(
            lambda c: self._batch(c, table, after, until, limit, reseal, write)
        )

    @staticmethod
    def _batch(
        c: sqlite3.Connection,
        table: RekeyTable,
        after: tuple[Any, ...] | None,
        until: tuple[Any, ...],
        limit: int,
        reseal: Callable[[Row], Row | None],
        write: bool,
    ) -> Batch:
        sql = table.batch_sql(", ".join(table.columns), "?", after is not None)
        if write:
            c.execute("BEGIN IMMEDIATE")
        try:
            rows = c.execute(sql, (*until, *(after or ()), limit)).fetchall()
            resealed = 0
            for raw in rows:
                row = dict(zip(table.columns, raw, strict=True))
                for name in table.json:
                    row[name] = _load(row[name])
                new = reseal(row)
                if not new:
                    continue
                resealed += 1
                if not write:
                    continue
                names = list(new)
                values = [dumps(new[n]).decode() if n in table.json else new[n] for n in names]
                c.execute(
                    f"UPDATE {table.table} SET {', '.join(f'{n} = ?' for n in names)} "
                    f"WHERE {' AND '.join(f'{k} = ?' for k in table.keys)}",
                    (*values, *raw[: len(table.keys)]),
                )
        except BaseException:
            if write:
                c.execute("ROLLBACK")
            raise
        if write:
            c.execute("COMMIT")
        last = tuple(rows[-1][: len(table.keys)]) if rows else None
        return Batch(len(rows), resealed, last)

    async def finish(self, compact: bool) -> None:
        """``compact``: ``VACUUM`` (the file rewritten from its rows: no old bytes left in
        free space or free pages; writers wait meanwhile). Then checkpoint and truncate the
        write-ahead log (its frames hold the old pages); skipped quietly while a reader
        holds it."""

        def truncate(c: sqlite3.Connection) -> None:
            if compact:
                c.execute("VACUUM")
            with contextlib.suppress(sqlite3.OperationalError):
                c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

        await self.connection.call(truncate)
