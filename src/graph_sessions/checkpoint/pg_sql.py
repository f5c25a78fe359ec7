"""What is Postgres-specific in the Postgres savers' SQL: the tables, their migrations, the
translation of the storage engine's statements, and ``list``'s metadata filter.

The engine (``engine.py``) holds the storage scheme and writes its SQL once, in SQLite's
dialect; ``to_postgres`` rewrites each statement the few ways the dialects differ
(``INSERT OR REPLACE``/``OR IGNORE`` as ``ON CONFLICT``, ``CROSS JOIN ... ON``, ``instr``,
the temp schema, ``BEGIN`` variants, ``?`` marks), once per statement text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import get_checkpoint_id

from graph_sessions.checkpoint.dbapi import Connection
from graph_sessions.checkpoint.schema import BLOBS, CHECKPOINTS, DDL, WRITES

MIGRATIONS_TABLE = "gs_checkpoint_migrations"
#: the key of the advisory lock ``setup`` holds while it migrates ("gs_ckpt")
ADVISORY_LOCK_KEY = 0x67735F636B7074


def _postgres_ddl(ddl: str) -> str:
    """SQLite's table definitions (``schema.DDL``) in Postgres's types: the same tables,
    columns and keys on both databases. Text columns keep the default collation:
    checkpoint ids are fixed-format UUIDv6 strings, ordered alike by every collation."""
    ddl = ddl.replace(") WITHOUT ROWID", ")").replace(" BLOB", " BYTEA")
    ddl = ddl.replace("kind INTEGER", "kind SMALLINT").replace("seq INTEGER", "seq BIGINT")
    return ddl


#: Postgres migrations, applied in order by ``setup_postgres``, each once. The tables are
#: the engine's (names shared with SQLite, none of LangGraph's: both savers can share a
#: database). Before ``schema.DDL`` changes, freeze migration 0's text here; the change
#: then comes as a migration of its own.
MIGRATIONS: tuple[str, ...] = (_postgres_ddl(DDL),)

#: primary key columns of each table, for ``ON CONFLICT``
_KEYS = {
    CHECKPOINTS: ("thread_id", "checkpoint_ns", "checkpoint_id"),
    BLOBS: ("thread_id", "checkpoint_ns", "channel", "version"),
    WRITES: ("thread_id", "checkpoint_ns", "checkpoint_id", "task_id", "idx"),
}
_INSERT = re.compile(r"^\s*INSERT OR (REPLACE|IGNORE) INTO (\w+) \(([^)]*)\)(.*)$", re.S)
#: SQLite's transaction statements; a read (``BEGIN DEFERRED``) sees one snapshot
_CONTROL = {
    "BEGIN": "BEGIN",
    "BEGIN IMMEDIATE": "BEGIN",
    "BEGIN DEFERRED": "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
    "COMMIT": "COMMIT",
    "ROLLBACK": "ROLLBACK",
}


def control(sql: str) -> str | None:
    """The Postgres form of a transaction statement, or ``None`` if ``sql`` is not one."""
    return _CONTROL.get(sql.strip().upper())


@lru_cache(maxsize=512)
def to_postgres(sql: str) -> str:
    """One engine statement in Postgres's dialect with psycopg's ``%s`` marks."""
    match = _INSERT.match(sql)
    if match is not None:
        verb, table, columns, rest = match.groups()
        if verb == "IGNORE":
            conflict = " ON CONFLICT DO NOTHING"
        else:
            keys = _KEYS[table]
            names = [c.strip() for c in columns.split(",")]
            sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in names if c not in keys)
            conflict = f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}"
        sql = f"INSERT INTO {table} ({columns}){rest.rstrip()}{conflict}"
    sql = sql.replace("CROSS JOIN", "JOIN").replace("temp.gs_keep", "pg_temp.gs_keep")
    sql = sql.replace(
        "instr(metadata, CAST(? AS BLOB)) > 0", "position(convert_to(?, 'UTF8') in metadata) > 0"
    )
    return sql.replace("%", "%%").replace("?", "%s")


def search_where(
    config: RunnableConfig | None,
    filter: dict[str, Any] | None,
    before: RunnableConfig | None = None,
) -> tuple[str, Sequence[Any]]:
    """``list``'s WHERE clause (engine dialect): LangGraph's Postgres semantics, the
    metadata filter is JSON containment (``@>``)."""
    wheres: list[str] = []
    params: list[Any] = []
    if config is not None:
        conf = config["configurable"]
        wheres.append("thread_id = ?")
        params.append(str(conf["thread_id"]))
        ns = conf.get("checkpoint_ns")
        if ns is not None:
            wheres.append("checkpoint_ns = ?")
            params.append(ns)
        if checkpoint_id := get_checkpoint_id(config):
            wheres.append("checkpoint_id = ?")
            params.append(str(checkpoint_id))
    if filter:
        wheres.append("convert_from(metadata, 'UTF8')::jsonb @> CAST(? AS jsonb)")
        params.append(json.dumps(filter, ensure_ascii=False))
    if before is not None:
        wheres.append("checkpoint_id < ?")
        params.append(str(get_checkpoint_id(before)))
    return ("WHERE " + " AND ".join(wheres) if wheres else "", params)


def setup_postgres(conn: Connection) -> None:
    """Create or migrate the tables, in one transaction under an advisory lock (so that
    savers set up at once by several processes migrate once). Idempotent."""
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN")
    try:
        conn.execute("SELECT pg_advisory_xact_lock(?)", (ADVISORY_LOCK_KEY,))
        conn.execute(f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (v INTEGER PRIMARY KEY)")
        row = conn.execute(f"SELECT MAX(v) FROM {MIGRATIONS_TABLE}").fetchone()
        done = -1 if row is None or row[0] is None else int(row[0])
        for v in range(done + 1, len(MIGRATIONS)):
            for statement in MIGRATIONS[v].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"INSERT INTO {MIGRATIONS_TABLE} (v) VALUES (?)", (v,))
    except BaseException:
        if own:
            conn.execute("ROLLBACK")
        raise
    if own:
        conn.execute("COMMIT")
