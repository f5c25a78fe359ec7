"""Row <-> model mapping of the Postgres backend's tables (see ``schema.py``).

Values are encoded exactly as on SQLite (``storage/sqlite/rows.py``: JSON text, fixed-width
UTC timestamps), and JSON columns are selected as text, so one mapping serves both."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graph_sessions.storage.postgres.schema import SESSION_SELECT
from graph_sessions.storage.sqlite.rows import (
    SESSION_FIELDS,
    message_values,
    row_to_event,
    row_to_info,
    row_to_message,
    row_to_run,
    session_values,
    to_column,
)

MESSAGE_SELECT = "id, session_id, role, content::text, data::text, created_at"
EVENT_SELECT = "id, session_id, type, run_id, at, data::text"
RUN_SELECT = (
    "run_id, session_id, status, kind, multitask, started_at, finished_at, error, "
    "checkpoint_before, checkpoint_after"
)


def update_sql(
    changes: dict[str, Any], where: str = "", raw_sets: Sequence[str] = ()
) -> tuple[str, list[Any]]:
    """``UPDATE sessions ... RETURNING`` (``SESSION_SELECT``) setting ``changes`` (a
    record's ``changes()``) plus ``raw_sets``, with ``revision`` bumped unless given. Its
    parameters: the set values, then ``session_id``, then those of ``where`` (SQL appended
    to ``WHERE session_id = %s``)."""
    sets = [f"{name} = %s" for name in changes]
    sets.extend(raw_sets)
    if "revision" not in changes:
        sets.append("revision = revision + 1")
    sql = (
        f"UPDATE sessions SET {', '.join(sets)} WHERE session_id = %s{where} "
        f"RETURNING {SESSION_SELECT}"
    )
    return sql, [to_column(n, v) for n, v in changes.items()]


__all__ = [
    "EVENT_SELECT",
    "MESSAGE_SELECT",
    "RUN_SELECT",
    "SESSION_FIELDS",
    "message_values",
    "row_to_event",
    "row_to_info",
    "row_to_message",
    "row_to_run",
    "session_values",
    "update_sql",
]
