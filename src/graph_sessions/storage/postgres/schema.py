"""The Postgres backend's own tables: their schema and its ordered migrations, applied
under an advisory lock so that replicas starting at once migrate exactly once.

Times are stored as fixed-width UTC ISO-8601 text (``codec.dump_time``), as on SQLite, and
every text column that orders or pages a listing uses the ``"C"`` collation: listings sort
byte-wise, the same on both backends whatever the database's locale.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import tuple_row

from graph_sessions.storage.sqlite.schema import SESSION_COLUMNS

#: ``pg_advisory_lock`` key taken while migrating (any fixed 64-bit number: "gsmigrat")
MIGRATION_LOCK = 0x67736D6967726174

#: the SQLSTATE ``gs_check_fence`` raises when a fenced write's lease is gone
FENCE_SQLSTATE = "GSL01"

# Ordered migrations; each runs once, in one transaction, and records its version. A
# script is split on ";", a tuple is its statements as they are.
MIGRATIONS: list[tuple[int, str | tuple[str, ...]]] = [
    (
        1,
        """
        CREATE TABLE IF NOT EXISTS sessions (
            session_id TEXT COLLATE "C" PRIMARY KEY,
            graph_id TEXT NOT NULL,
            owner TEXT,
            task_id TEXT,
            status TEXT NOT NULL,
            metadata JSONB NOT NULL DEFAULT '{}',
            created_at TEXT COLLATE "C" NOT NULL,
            updated_at TEXT COLLATE "C" NOT NULL,
            expires_at TEXT COLLATE "C",
            ttl DOUBLE PRECISION,
            ttl_mode TEXT NOT NULL DEFAULT 'sliding',
            last_error TEXT,
            run_count INTEGER NOT NULL DEFAULT 0,
            revision INTEGER NOT NULL DEFAULT 0,
            previous_status TEXT,
            suspend_reason TEXT,
            interrupts JSONB NOT NULL DEFAULT '[]',
            lease_owner TEXT,
            lease_expires_at TEXT COLLATE "C",
            lease_epoch INTEGER NOT NULL DEFAULT 0,
            graph_identity TEXT
        );
        CREATE INDEX IF NOT EXISTS ix_sessions_created ON sessions (created_at, session_id);
        CREATE INDEX IF NOT EXISTS ix_sessions_updated ON sessions (updated_at, session_id);
        CREATE INDEX IF NOT EXISTS ix_sessions_status ON sessions (status, created_at, session_id);
        CREATE INDEX IF NOT EXISTS ix_sessions_owner ON sessions (owner, created_at, session_id);
        CREATE INDEX IF NOT EXISTS ix_sessions_graph ON sessions (graph_id, created_at, session_id);
        CREATE INDEX IF NOT EXISTS ix_sessions_task ON sessions (task_id);
        CREATE INDEX IF NOT EXISTS ix_sessions_expires ON sessions (expires_at)
            WHERE expires_at IS NOT NULL;
        CREATE TABLE IF NOT EXISTS runs (
            seq BIGSERIAL UNIQUE,
            run_id TEXT PRIMARY KEY,
            session_id TEXT NOT NULL,
            status TEXT NOT NULL,
            kind TEXT NOT NULL,
            multitask TEXT NOT NULL,
            started_at TEXT COLLATE "C" NOT NULL,
            finished_at TEXT,
            error TEXT,
            checkpoint_before TEXT,
            checkpoint_after TEXT
        );
        CREATE INDEX IF NOT EXISTS ix_runs_session ON runs (session_id, started_at, seq);
        CREATE TABLE IF NOT EXISTS session_events (
            id BIGSERIAL PRIMARY KEY,
            session_id TEXT NOT NULL,
            type TEXT NOT NULL,
            run_id TEXT,
            at TEXT NOT NULL,
            data JSONB NOT NULL DEFAULT '{}'
        );
        CREATE INDEX IF NOT EXISTS ix_events_session ON session_events (session_id, id);
        CREATE TABLE IF NOT EXISTS messages (
            id BIGSERIAL PRIMARY KEY,
            session_id TEXT NOT NULL,
            role TEXT NOT NULL,
            content JSONB NOT NULL,
            data JSONB NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS ix_messages_session ON messages (session_id, id);
        CREATE TABLE IF NOT EXISTS assistants (
            assistant_id TEXT COLLATE "C" PRIMARY KEY,
            version INTEGER NOT NULL,
            created_at TEXT COLLATE "C" NOT NULL
        );
        CREATE TABLE IF NOT EXISTS assistant_versions (
            assistant_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            graph_id TEXT NOT NULL,
            owner TEXT,
            name TEXT NOT NULL,
            description TEXT,
            config JSONB NOT NULL DEFAULT '{}',
            context JSONB NOT NULL DEFAULT '{}',
            metadata JSONB NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (assistant_id, version)
        )
        """,
    ),
    (
        2,
        # The fence of a checkpoint write (``fencing.py``) as one statement that raises
        # instead of answering, so that the check and the write go to the server together.
        (
            f"""
            CREATE OR REPLACE FUNCTION gs_check_fence(
                p_session TEXT, p_owner TEXT, p_epoch INTEGER
            ) RETURNS VOID LANGUAGE plpgsql AS $fn$
            BEGIN
                PERFORM 1 FROM sessions WHERE session_id = p_session
                    AND lease_owner IS NOT DISTINCT FROM p_owner AND lease_epoch = p_epoch
                    FOR SHARE;
                IF NOT FOUND THEN
                    RAISE EXCEPTION 'lease % epoch % of session % is gone', p_owner, p_epoch,
                        p_session USING ERRCODE = '{FENCE_SQLSTATE}';
                END IF;
            END
            $fn$
            """,
        ),
    ),
    (
        3,
        """
        CREATE TABLE IF NOT EXISTS crons (
            cron_id TEXT COLLATE "C" PRIMARY KEY,
            assistant_id TEXT NOT NULL,
            thread_id TEXT,
            owner TEXT,
            schedule TEXT NOT NULL,
            timezone TEXT,
            end_time TEXT COLLATE "C",
            payload JSONB NOT NULL DEFAULT '{}',
            metadata JSONB NOT NULL DEFAULT '{}',
            on_run_completed TEXT,
            enabled BOOLEAN NOT NULL DEFAULT TRUE,
            next_run_date TEXT COLLATE "C" NOT NULL,
            created_at TEXT COLLATE "C" NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS ix_crons_due ON crons (next_run_date) WHERE enabled;
        CREATE INDEX IF NOT EXISTS ix_crons_thread ON crons (thread_id) WHERE thread_id IS NOT NULL;
        CREATE INDEX IF NOT EXISTS ix_crons_owner ON crons (owner, created_at);
        CREATE TABLE IF NOT EXISTS pending_runs (
            run_id TEXT COLLATE "C" PRIMARY KEY,
            session_id TEXT NOT NULL,
            owner TEXT,
            created_at TEXT COLLATE "C" NOT NULL,
            not_before TEXT,
            payload JSONB NOT NULL DEFAULT '{}',
            claimed_by TEXT,
            claimed_until TEXT
        );
        CREATE INDEX IF NOT EXISTS ix_pending_runs_session
            ON pending_runs (session_id, created_at, run_id);
        CREATE INDEX IF NOT EXISTS ix_pending_runs_created ON pending_runs (created_at, run_id);
        CREATE INDEX IF NOT EXISTS ix_pending_runs_claim ON pending_runs (claimed_by)
        """,
    ),
    (
        4,
        """
        CREATE TABLE IF NOT EXISTS cancel_requests (
            run_id TEXT COLLATE "C" PRIMARY KEY,
            session_id TEXT NOT NULL,
            action TEXT NOT NULL,
            requested_at TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS run_tickets (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            session_id TEXT NOT NULL,
            owner TEXT NOT NULL,
            expires_at TEXT COLLATE "C" NOT NULL
        );
        CREATE INDEX IF NOT EXISTS ix_run_tickets_session ON run_tickets (session_id, seq);
        CREATE INDEX IF NOT EXISTS ix_run_tickets_owner ON run_tickets (owner)
        """,
    ),
]

#: the LISTEN/NOTIFY channel of cancel requests (payload: the run id)
CANCEL_CHANNEL = "gs_cancel"

#: the registry's columns as selected or returned: JSON columns as text (``rows.py``)
SESSION_SELECT = SESSION_COLUMNS.replace("metadata,", "metadata::text,").replace(
    "interrupts,", "interrupts::text,"
)


@contextlib.asynccontextmanager
async def migration_lock(conn: AsyncConnection[Any]) -> AsyncIterator[None]:
    """Hold the migration advisory lock on ``conn`` (autocommit; a connection of its own,
    not a pooled one) for the block: a second replica opening at the same time waits here,
    then finds every table and migration in place.

    The wait polls ``pg_try_advisory_lock`` instead of blocking in ``pg_advisory_lock``: a
    waiter blocked inside a statement is an open transaction, and the holder's
    ``CREATE INDEX CONCURRENTLY`` (LangGraph's migrations) waits for every open transaction
    to end: the two would wait for each other forever."""
    delay = 0.02
    async with conn.cursor(row_factory=tuple_row) as cur:
        while True:
            await cur.execute("SELECT pg_try_advisory_lock(%s)", (MIGRATION_LOCK,))
            row = await cur.fetchone()
            if row is not None and row[0]:
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)
        try:
            yield
        finally:
            await cur.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))


async def migrate(
    conn: AsyncConnection[Any], migrations: list[tuple[int, str | tuple[str, ...]]] | None = None
) -> int:
    """Apply the migrations (``MIGRATIONS`` unless given) the database has not had yet,
    each in its own transaction (call it under :func:`migration_lock`). A migration is
    skipped only when its own number is recorded (not any higher one), as on SQLite.
    Returns the schema version."""
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(
            "CREATE TABLE IF NOT EXISTS gs_schema_version "
            "(version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        await cur.execute("SELECT version FROM gs_schema_version")
        applied = {int(r[0]) for r in await cur.fetchall()}
        for version, script in migrations if migrations is not None else MIGRATIONS:
            if version in applied:
                continue
            statements = script.split(";") if isinstance(script, str) else script
            async with conn.transaction():
                for statement in statements:
                    if statement.strip():
                        await cur.execute(statement.encode())
                await cur.execute("INSERT INTO gs_schema_version (version) VALUES (%s)", (version,))
    return await schema_version(conn)


async def schema_version(conn: AsyncConnection[Any]) -> int:
    """The highest migration applied to the database (0: none)."""
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute("SELECT COALESCE(MAX(version), 0) FROM gs_schema_version")
        row = await cur.fetchone()
    return int(row[0]) if row else 0


__all__ = [
    "CANCEL_CHANNEL",
    "FENCE_SQLSTATE",
    "MIGRATIONS",
    "MIGRATION_LOCK",
    "SESSION_SELECT",
    "migrate",
    "migration_lock",
    "schema_version",
]
