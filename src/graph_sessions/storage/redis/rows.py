"""Records as Redis values and back: the registry row as a hash (its JSON in field
``row``), runs, log entries, pending runs, tickets, assistants, crons as
JSON. Times are fixed-width UTC text (``storage/codec.py``); scores are microseconds."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import Any

import orjson

from graph_sessions.jsonable import dumps
from graph_sessions.models import Event, EventType, Message, RunInfo, SessionInfo
from graph_sessions.storage.codec import dump_json, dump_time, load_json, load_time
from graph_sessions.storage.records import PendingRun

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def score(moment: datetime | None) -> int:
    """Microseconds since the epoch (``0`` for ``None``): a zset score that orders as the
    time does, exactly (below 2**53)."""
    if moment is None:
        return 0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def score_of_text(value: str | None) -> int:
    """The score of a sort value as a cursor holds it (``dump_time`` text, ``""``: none)."""
    return score(load_time(value)) if value else 0


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return dump_time(value)
    if isinstance(value, Enum):
        return value.value
    return value


def session_fields(info: SessionInfo) -> dict[str, str]:
    """The registry row as hash fields: one, ``row``, the whole row as JSON (a read
    parses one value, not one per column)."""
    return {
        "row": dump_json({name: _plain(getattr(info, name)) for name in SessionInfo.model_fields})
    }


def session_from_fields(fields: dict[bytes, bytes]) -> SessionInfo | None:
    """The row a ``HGETALL`` answered (``None`` for an empty answer: no such row)."""
    raw = fields.get(b"row") if fields else None
    return None if raw is None else SessionInfo.model_validate(orjson.loads(raw))


def run_json(run: RunInfo) -> str:
    """A run row (with its writes mark)."""
    data = {name: _plain(getattr(run, name)) for name in RunInfo.model_fields}
    return dump_json(data)


def run_from_json(raw: bytes | str) -> RunInfo:
    """The run a stored JSON holds."""
    return RunInfo.model_validate(orjson.loads(raw))


def event_payload(type_: str, run_id: str | None, data: dict[str, Any], at: str | None) -> str:
    """An event's member text (the id is put before it by the append script)."""
    return dump_json([type_, run_id, data, at])


def event_from_member(session_id: str, member: bytes) -> Event:
    """The event a log member holds."""
    head, _, body = member.partition(b"\x00")
    type_, run_id, data, at = orjson.loads(body)
    return Event.model_construct(
        id=int(head),
        session_id=session_id,
        type=EventType(type_),
        run_id=run_id,
        at=load_time(at),
        data=data or {},
    )


def message_payload(role: str, content: Any, data: dict[str, Any], at: str | None) -> str:
    """A message's member text."""
    return (
        "["
        + ",".join([dump_json(role), dumps(content).decode(), dump_json(data), dump_json(at)])
        + "]"
    )


def message_from_member(session_id: str, member: bytes) -> Message:
    """The message a transcript member holds."""
    head, _, body = member.partition(b"\x00")
    role, content, data, at = orjson.loads(body)
    return Message.model_construct(
        id=int(head),
        session_id=session_id,
        role=role,
        content=content,
        data=data or {},
        created_at=load_time(at),
    )


def pending_json(p: PendingRun) -> str:
    """A pending run."""
    return dump_json(
        {
            "run_id": p.run_id,
            "session_id": p.session_id,
            "owner": p.owner,
            "created_at": dump_time(p.created_at),
            "payload": p.payload,
            "not_before": dump_time(p.not_before),
            "claimed_by": p.claimed_by,
            "claimed_until": dump_time(p.claimed_until),
        }
    )


def pending_from_json(raw: bytes | str) -> PendingRun:
    """The pending run a stored JSON holds."""
    d = load_json(raw)
    created = load_time(d["created_at"])
    assert created is not None
    return PendingRun(
        run_id=d["run_id"],
        session_id=d["session_id"],
        owner=d["owner"],
        created_at=created,
        payload=d["payload"] or {},
        not_before=load_time(d["not_before"]),
        claimed_by=d["claimed_by"],
        claimed_until=load_time(d["claimed_until"]),
    )
