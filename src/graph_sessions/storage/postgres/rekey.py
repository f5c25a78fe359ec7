"""``rekey`` on Postgres (``storage/rekey.py``): every row is written by its own statement
(autocommit) with a compare-and-set on the bytes it was read with
(``UPDATE ... WHERE <key> AND <column> = <old value>``); a row a server changed meanwhile
is read again and re-sealed from what it holds now, so no concurrent write is lost. No
transaction spans two rows: rekey never holds one row's lock while waiting for another's,
so it cannot deadlock with the servers' own transactions nor make them wait for a batch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson

from graph_sessions.errors import BackendError
from graph_sessions.jsonable import dumps
from graph_sessions.storage.postgres.connection import PostgresPool
from graph_sessions.storage.rekey import SQL_TABLES, Batch, RekeyTable, Row

#: times a row changed under a batch is read again before the batch gives up
RETRIES = 20


def _select(table: RekeyTable) -> str:
    return ", ".join(f"{c}::text" if c in table.json else c for c in table.columns)


class PostgresRekeySource:
    """Batches of a Postgres database's tables, on the backend's pool."""

    def __init__(self, pool: PostgresPool) -> None:
        self.pool = pool

    async def tables(self) -> Sequence[RekeyTable]:
        """The tables of :data:`SQL_TABLES` this database has (in its search path)."""
        async with self.pool.cursor() as cur:
            await cur.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = ANY(current_schemas(false))"
            )
            have = {r[0] for r in await cur.fetchall()}
        return [t for t in SQL_TABLES if t.table in have]

    async def last_key(self, table: RekeyTable) -> tuple[Any, ...] | None:
        """The highest primary key now (see ``RekeySource.last_key``)."""
        async with self.pool.cursor() as cur:
            await cur.execute(table.last_key_sql())
            row = await cur.fetchone()
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
        sql = table.batch_sql(_select(table), "%s", after is not None)
        async with self.pool.cursor() as cur:
            await cur.execute(sql, (*until, *(after or ()), limit))
            rows = await cur.fetchall()
            resealed = 0
            for raw in rows:
                current: tuple[Any, ...] | None = tuple(raw)
                for _ in range(RETRIES):
                    assert current is not None
                    row = dict(zip(table.columns, current, strict=True))
                    for name in table.json:
                        if row[name] is not None:
                            row[name] = orjson.loads(row[name])
                    new = reseal(row)
                    if not new:
                        break
                    if not write or await self._swap(cur, table, current, new):
                        resealed += 1
                        break
                    current = await self._reread(cur, table, current)
                    if current is None:  # deleted meanwhile
                        break
                else:
                    raise BackendError(
                        f"rekey: a row of {table.table} kept changing under it; run it again"
                    )
        last = tuple(rows[-1][: len(table.keys)]) if rows else None
        return Batch(len(rows), resealed, last)

    @staticmethod
    async def _swap(cur: Any, table: RekeyTable, old: tuple[Any, ...], new: Row) -> bool:
        """Write ``new`` if the row still holds ``old``'s values."""
        old_row = dict(zip(table.columns, old, strict=True))
        sets, params = [], []
        for name, value in new.items():
            if name in table.json:
                sets.append(f"{name} = CAST(%s AS jsonb)")
                params.append(dumps(value).decode())
            else:
                sets.append(f"{name} = %s")
                params.append(value)
        conds = [f"{k} = %s" for k in table.keys]
        params.extend(old_row[k] for k in table.keys)
        for name in table.values:
            conds.append(
                f"{name}::text IS NOT DISTINCT FROM %s"
                if name in table.json
                else f"{name} IS NOT DISTINCT FROM %s"
            )
            params.append(old_row[name])
        await cur.execute(
            f"UPDATE {table.table} SET {', '.join(sets)} WHERE {' AND '.join(conds)}", params
        )
        return bool(cur.rowcount)

    @staticmethod
    async def _reread(cur: Any, table: RekeyTable, old: tuple[Any, ...]) -> tuple[Any, ...] | None:
        conds = " AND ".join(f"{k} = %s" for k in table.keys)
        await cur.execute(
            f"SELECT {_select(table)} FROM {table.table} WHERE {conds}", old[: len(table.keys)]
        )
        row = await cur.fetchone()
        return None if row is None else tuple(row)

    async def finish(self, compact: bool) -> None:
        """Nothing: the old row versions are dead tuples, no longer readable through SQL;
        their bytes stay in the table files until reused (``VACUUM FULL`` rewrites them,
        locking the tables: an operator's choice, not done here)."""
