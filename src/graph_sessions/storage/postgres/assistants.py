"""The Postgres backend's assistants: every version in ``assistant_versions``, the current
one named by ``assistants`` (as on SQLite). Each function runs on the cursor of the
transaction the backend gives it (pipelined: answers come from ``RETURNING``)."""

from __future__ import annotations

from datetime import datetime

from graph_sessions.models import AssistantInfo
from graph_sessions.storage.codec import dump_time
from graph_sessions.storage.postgres.connection import Cursor
from graph_sessions.storage.record_rows import assistant_from_row, assistant_values

_VERSION_COLUMNS = (
    "assistant_id, version, graph_id, owner, name, description, config, context, metadata, "
    "created_at, updated_at"
)
_VERSION_SELECT = (
    "v.assistant_id, v.version, v.graph_id, v.owner, v.name, v.description, v.config::text, "
    "v.context::text, v.metadata::text, v.created_at, v.updated_at"
)
_CURRENT = (
    f"SELECT {_VERSION_SELECT} FROM assistants a JOIN assistant_versions v "
    "ON v.assistant_id = a.assistant_id AND v.version = a.version"
)


async def _insert_version(cur: Cursor, info: AssistantInfo) -> None:
    await cur.execute(
        f"INSERT INTO assistant_versions ({_VERSION_COLUMNS}) VALUES ({', '.join(['%s'] * 11)})",
        assistant_values(info),
    )


async def create(cur: Cursor, info: AssistantInfo) -> bool:
    """See ``Backend.create_assistant``."""
    await cur.execute(
        "INSERT INTO assistants (assistant_id, version, created_at) VALUES (%s, %s, %s) "
        "ON CONFLICT (assistant_id) DO NOTHING RETURNING 1",
        (info.assistant_id, info.version, dump_time(info.created_at)),
    )
    if await cur.fetchone() is None:
        return False
    await cur.execute(
        "DELETE FROM assistant_versions WHERE assistant_id = %s", (info.assistant_id,)
    )
    await _insert_version(cur, info)
    return True


async def get(cur: Cursor, assistant_id: str) -> AssistantInfo | None:
    """See ``Backend.get_assistant``."""
    await cur.execute(f"{_CURRENT} WHERE a.assistant_id = %s", (assistant_id,))
    row = await cur.fetchone()
    return assistant_from_row(row) if row else None


async def list_all(cur: Cursor) -> list[AssistantInfo]:
    """See ``Backend.list_assistants``."""
    await cur.execute(f"{_CURRENT} ORDER BY a.created_at, a.assistant_id")
    return [assistant_from_row(r) for r in await cur.fetchall()]


async def add_version(cur: Cursor, info: AssistantInfo) -> bool:
    """See ``Backend.add_assistant_version``: the assistant's row is locked first, so
    racing writers of the same next version are serialized and all but one find it taken."""
    await cur.execute(
        "SELECT 1 FROM assistants WHERE assistant_id = %s FOR UPDATE", (info.assistant_id,)
    )
    if await cur.fetchone() is None:
        return False
    await cur.execute(
        "SELECT MAX(version) FROM assistant_versions WHERE assistant_id = %s",
        (info.assistant_id,),
    )
    row = await cur.fetchone()
    top = row[0] if row else None
    if top is None or top != info.version - 1:
        return False
    await _insert_version(cur, info)
    await cur.execute(
        "UPDATE assistants SET version = %s WHERE assistant_id = %s",
        (info.version, info.assistant_id),
    )
    return True


async def set_version(
    cur: Cursor, assistant_id: str, version: int, updated_at: datetime
) -> AssistantInfo | None:
    """See ``Backend.set_assistant_version``."""
    await cur.execute(
        "UPDATE assistant_versions SET updated_at = %s WHERE assistant_id = %s AND version = %s "
        "RETURNING 1",
        (dump_time(updated_at), assistant_id, version),
    )
    if await cur.fetchone() is None:
        return None
    await cur.execute(
        "UPDATE assistants SET version = %s WHERE assistant_id = %s", (version, assistant_id)
    )
    return await get(cur, assistant_id)


async def versions(cur: Cursor, assistant_id: str) -> list[AssistantInfo]:
    """See ``Backend.list_assistant_versions``."""
    await cur.execute(
        f"SELECT {_VERSION_SELECT} FROM assistant_versions v WHERE v.assistant_id = %s "
        "ORDER BY v.version DESC",
        (assistant_id,),
    )
    return [assistant_from_row(r) for r in await cur.fetchall()]


async def delete(cur: Cursor, assistant_id: str) -> bool:
    """See ``Backend.delete_assistant``."""
    await cur.execute("DELETE FROM assistant_versions WHERE assistant_id = %s", (assistant_id,))
    await cur.execute("DELETE FROM assistants WHERE assistant_id = %s RETURNING 1", (assistant_id,))
    return await cur.fetchone() is not None


__all__ = ["add_version", "create", "delete", "get", "list_all", "set_version", "versions"]
