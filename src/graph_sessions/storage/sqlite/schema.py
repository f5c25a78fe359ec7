"""The SQLite backend's own tables: their schema, its migrations, and the registry's columns."""

from __future__ import annotations

import sqlite3

# Ordered migrations; each runs once, in one transaction, and bumps schema_version.
MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE IF NOT EXISTS sessions (
            session_id TEXT PRIMARY KEY,
            graph_id TEXT NOT NULL,
            owner TEXT,
            task_id TEXT,
            status TEXT NOT NULL,
            metadata TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            expires_at TEXT,
            ttl REAL,
            ttl_mode TEXT NOT NULL DEFAULT 'sliding',
            last_error TEXT,
            run_count INTEGER NOT NULL DEFAULT 0,
            revision INTEGER NOT NULL DEFAULT 0,
            previous_status TEXT,
            suspend_reason TEXT,
            interrupts TEXT NOT NULL DEFAULT '[]',
            lease_owner TEXT
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
            run_id TEXT PRIMARY KEY,
            session_id TEXT NOT NULL,
            status TEXT NOT NULL,
            kind TEXT NOT NULL,
            multitask TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            error TEXT,
            checkpoint_before TEXT,
            checkpoint_after TEXT
        );
        CREATE INDEX IF NOT EXISTS ix_runs_session ON runs (session_id, started_at);
        CREATE TABLE IF NOT EXISTS session_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id TEXT NOT NULL,
            type TEXT NOT NULL,
            run_id TEXT,
            at TEXT NOT NULL,
            data TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX IF NOT EXISTS ix_events_session ON session_events (session_id, id);
        CREATE TABLE IF NOT EXISTS messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id TEXT NOT NULL,
            role TEXT NOT NULL,
            content TEXT NOT NULL,
            data TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS ix_messages_session ON messages (session_id, id);
        """,
    ),
    (
        2,
        """
        ALTER TABLE sessions ADD COLUMN lease_expires_at TEXT;
        ALTER TABLE sessions ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE sessions ADD COLUMN graph_identity TEXT
        """,
    ),
    (
        3,
        """
        CREATE TABLE IF NOT EXISTS assistants (
            assistant_id TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS assistant_versions (
            assistant_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            graph_id TEXT NOT NULL,
            owner TEXT,
            name TEXT NOT NULL,
            description TEXT,
            config TEXT NOT NULL DEFAULT '{}',
            context TEXT NOT NULL DEFAULT '{}',
            metadata TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (assistant_id, version)
        )
        """,
    ),
    (
        4,
        """
        CREATE TABLE IF NOT EXISTS crons (
            cron_id TEXT PRIMARY KEY,
            assistant_id TEXT NOT NULL,
            thread_id TEXT,
            owner TEXT,
            schedule TEXT NOT NULL,
            timezone TEXT,
            end_time TEXT,
            payload TEXT NOT NULL DEFAULT '{}',
            metadata TEXT NOT NULL DEFAULT '{}',
            on_run_completed TEXT,
            enabled INTEGER NOT NULL DEFAULT 1,
            next_run_date TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS ix_crons_due ON crons (next_run_date) WHERE enabled = 1;
        CREATE INDEX IF NOT EXISTS ix_crons_thread ON crons (thread_id) WHERE thread_id IS NOT NULL;
        CREATE INDEX IF NOT EXISTS ix_crons_owner ON crons (owner, created_at)
        """,
    ),
    (
        5,
        """
        CREATE TABLE IF NOT EXISTS pending_runs (
            run_id TEXT PRIMARY KEY,
            session_id TEXT NOT NULL,
            owner TEXT,
            created_at TEXT NOT NULL,
            not_before TEXT,
            payload TEXT NOT NULL DEFAULT '{}',
            claimed_by TEXT,
            claimed_until TEXT
        );
        CREATE INDEX IF NOT EXISTS ix_pending_runs_session
            ON pending_runs (session_id, created_at, run_id);
        CREATE INDEX IF NOT EXISTS ix_pending_runs_claim ON pending_runs (claimed_by)
        """,
    ),
    (
        6,
        """
        CREATE TABLE IF NOT EXISTS cancel_requests (
            run_id TEXT PRIMARY KEY,
            session_id TEXT NOT NULL,
            action TEXT NOT NULL,
            requested_at TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS run_tickets (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id TEXT NOT NULL,
            owner TEXT NOT NULL,
            expires_at TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS ix_run_tickets_session ON run_tickets (session_id, seq);
        CREATE INDEX IF NOT EXISTS ix_run_tickets_owner ON run_tickets (owner)
        """,
    ),
]

SESSION_COLUMNS = (
    "session_id, graph_id, owner, task_id, status, metadata, created_at, updated_at, "
    "expires_at, ttl, ttl_mode, last_error, run_count, revision, previous_status, "
    "suspend_reason, interrupts, lease_owner, lease_expires_at, lease_epoch, graph_identity"
)


def migrate(conn: sqlite3.Connection) -> None:
    """Apply the migrations this file has not had yet, each in its own transaction. A
    migration is skipped only when its own number is recorded (not any higher one): a
    file migrated by a build that lacked a lower number still gets it."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    applied = {row[0] for row in conn.execute("SELECT version FROM schema_version")}
    for version, script in MIGRATIONS:
        if version in applied:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in script.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, applied_at) VALUES (?, datetime('now'))",
                (version,),
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def schema_version(conn: sqlite3.Connection) -> int:
    """The highest migration applied to the file."""
    return int(conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0])
