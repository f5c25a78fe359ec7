"""Row <-> model mapping of the SQLite backend's tables (see ``schema.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from graph_sessions.jsonable import dumps
from graph_sessions.models import (
    Event,
    EventType,
    Message,
    RunInfo,
    RunStatus,
    SessionInfo,
    SessionStatus,
)
from graph_sessions.storage.codec import dump_json, dump_time, load_json, load_time
from graph_sessions.storage.sqlite.schema import SESSION_COLUMNS

#: the registry's columns, in ``SESSION_COLUMNS`` order
SESSION_FIELDS = tuple(SESSION_COLUMNS.replace(" ", "").split(","))
MESSAGE_COLUMNS = "id, session_id, role, content, data, created_at"
EVENT_COLUMNS = "id, session_id, type, run_id, at, data"
_JSON_FIELDS = {"metadata", "interrupts"}
_TIME_FIELDS = {"created_at", "updated_at", "expires_at", "lease_expires_at"}
_ENUM_FIELDS = {"status", "previous_status"}


def to_column(name: str, value: Any) -> Any:
    """A ``SessionInfo`` field's value as its registry column stores it."""
    if name in _JSON_FIELDS:
        return dump_json(value)
    if name in _TIME_FIELDS:
        return dump_time(value)
    if name in _ENUM_FIELDS:
        return None if value is None else str(value)
    return value


def update_sql(
    changes: dict[str, Any], where: str = "", raw_sets: Sequence[str] = ()
) -> tuple[str, list[Any]]:
    """An ``UPDATE sessions ... RETURNING`` (``SESSION_COLUMNS``) setting ``changes``
    (from a record's ``changes()``: ``SessionUpdate``, ``RunStart``, ``RunFinish``), plus
    ``raw_sets`` (SQL assignments), with ``revision`` bumped unless given. Its parameters:
    the returned values, then ``session_id``, then those of ``where`` (SQL appended to
    ``WHERE session_id = ?``)."""
    sets = [f"{name} = ?" for name in changes]
    sets.extend(raw_sets)
    if "revision" not in changes:
        sets.append("revision = revision + 1")
    sql = (
        f"UPDATE sessions SET {', '.join(sets)} WHERE session_id = ?{where} "
        f"RETURNING {SESSION_COLUMNS}"
    )
    return sql, [to_column(n, v) for n, v in changes.items()]


def session_values(info: SessionInfo) -> tuple[Any, ...]:
    """A registry row for ``info``, in ``SESSION_COLUMNS`` order."""
    return tuple(to_column(n, getattr(info, n)) for n in SESSION_FIELDS)


def row_to_info(row: Sequence[Any]) -> SessionInfo:
    """A registry row (``SESSION_COLUMNS``) as a ``SessionInfo``."""
    return SessionInfo.model_construct(
        session_id=row[0],
        graph_id=row[1],
        owner=row[2],
        task_id=row[3],
        status=SessionStatus(row[4]),
        metadata=load_json(row[5]),
        created_at=load_time(row[6]),
        updated_at=load_time(row[7]),
        expires_at=load_time(row[8]),
        ttl=row[9],
        ttl_mode=row[10],
        last_error=row[11],
        run_count=row[12],
        revision=row[13],
        previous_status=SessionStatus(row[14]) if row[14] else None,
        suspend_reason=row[15],
        interrupts=load_json(row[16]),
        lease_owner=row[17],
        lease_expires_at=load_time(row[18]),
        lease_epoch=row[19],
        graph_identity=row[20],
    )


def row_to_run(row: Sequence[Any]) -> RunInfo:
    """A ``runs`` row (all columns, table order) as a ``RunInfo``."""
    return RunInfo.model_construct(
        run_id=row[0],
        session_id=row[1],
        status=RunStatus(row[2]),
        kind=row[3],
        multitask=row[4],
        started_at=load_time(row[5]),
        finished_at=load_time(row[6]),
        error=row[7],
        checkpoint_before=row[8],
        checkpoint_after=row[9],
    )


def row_to_message(row: Sequence[Any]) -> Message:
    """A ``messages`` row (``MESSAGE_COLUMNS``) as a ``Message``."""
    return Message.model_construct(
        id=row[0],
        session_id=row[1],
        role=row[2],
        content=orjson.loads(row[3]),
        data=load_json(row[4]),
        created_at=load_time(row[5]),
    )


def message_values(
    session_id: str, role: str, content: Any, data: Any, at: str | None
) -> tuple[Any, ...]:
    """A ``messages`` row to insert (without its id)."""
    return (session_id, role, dumps(content), dump_json(data), at)


def row_to_event(row: Sequence[Any]) -> Event:
    """A ``session_events`` row (``EVENT_COLUMNS``) as an ``Event``."""
    return Event.model_construct(
        id=row[0],
        session_id=row[1],
        type=EventType(row[2]),
        run_id=row[3],
        at=load_time(row[4]),
        data=load_json(row[5]),
    )
