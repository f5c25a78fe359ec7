"""The SQLite backend's assistants: every version in ``assistant_versions``, the current
one named by ``assistants`` (see ``schema.py``, migration 3). Each function runs inside
the transaction the backend gives it."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from graph_sessions.models import AssistantInfo
from graph_sessions.storage.codec import dump_time
from graph_sessions.storage.record_rows import assistant_from_row, assistant_values

_VERSION_COLUMNS = (
    "assistant_id, version, graph_id, owner, name, description, config, context, metadata, "
    "created_at, updated_at"
)
_CURRENT = (
    f"SELECT {', '.join('v.' + c.strip() for c in _VERSION_COLUMNS.split(','))} "
    "FROM assistants a JOIN assistant_versions v "
    "ON v.assistant_id = a.assistant_id AND v.version = a.version"
)


def _insert_version(c: sqlite3.Connection, info: AssistantInfo) -> None:
    c.execute(
        f"INSERT INTO assistant_versions ({_VERSION_COLUMNS}) VALUES ({', '.join('?' * 11)})",
        assistant_values(info),
    )


def create(c: sqlite3.Connection, info: AssistantInfo) -> bool:
    """See ``Backend.create_assistant``."""
    cur = c.execute(
        "INSERT OR IGNORE INTO assistants (assistant_id, version, created_at) VALUES (?, ?, ?)",
        (info.assistant_id, info.version, dump_time(info.created_at)),
    )
    if cur.rowcount == 0:
        return False
    c.execute("DELETE FROM assistant_versions WHERE assistant_id = ?", (info.assistant_id,))
    _insert_version(c, info)
    return True


def get(c: sqlite3.Connection, assistant_id: str) -> AssistantInfo | None:
    """See ``Backend.get_assistant``."""
    row = c.execute(f"{_CURRENT} WHERE a.assistant_id = ?", (assistant_id,)).fetchone()
    return assistant_from_row(row) if row else None


def list_all(c: sqlite3.Connection) -> list[AssistantInfo]:
    """See ``Backend.list_assistants``."""
    rows = c.execute(f"{_CURRENT} ORDER BY a.created_at, a.assistant_id").fetchall()
    return [assistant_from_row(r) for r in rows]


def add_version(c: sqlite3.Connection, info: AssistantInfo) -> bool:
    """See ``Backend.add_assistant_version``."""
    top = c.execute(
        "SELECT MAX(version) FROM assistant_versions WHERE assistant_id = ?",
        (info.assistant_id,),
    ).fetchone()[0]
    if top is None or top != info.version - 1:
        return False
    _insert_version(c, info)
    c.execute(
        "UPDATE assistants SET version = ? WHERE assistant_id = ?",
        (info.version, info.assistant_id),
    )
    return True


def set_version(
    c: sqlite3.Connection, assistant_id: str, version: int, updated_at: datetime
) -> AssistantInfo | None:
    """See ``Backend.set_assistant_version``."""
    cur = c.execute(
        "UPDATE assistant_versions SET updated_at = ? WHERE assistant_id = ? AND version = ?",
        (dump_time(updated_at), assistant_id, version),
    )
    if cur.rowcount == 0:
        return None
    c.execute("UPDATE assistants SET version = ? WHERE assistant_id = ?", (version, assistant_id))
    return get(c, assistant_id)


def versions(c: sqlite3.Connection, assistant_id: str) -> list[AssistantInfo]:
    """See ``Backend.list_assistant_versions``."""
    rows = c.execute(
        f"SELECT {_VERSION_COLUMNS} FROM assistant_versions WHERE assistant_id = ? "
        "ORDER BY version DESC",
        (assistant_id,),
    ).fetchall()
    return [assistant_from_row(r) for r in rows]


def delete(c: sqlite3.Connection, assistant_id: str) -> bool:
    """See ``Backend.delete_assistant``."""
    c.execute("DELETE FROM assistant_versions WHERE assistant_id = ?", (assistant_id,))
    return c.execute("DELETE FROM assistants WHERE assistant_id = ?", (assistant_id,)).rowcount > 0


__all__ = ["add_version", "create", "delete", "get", "list_all", "set_version", "versions"]
