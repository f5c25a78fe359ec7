"""Stored records as table rows and back, the same for every SQL backend: the column order
of each table's values (``*_values``) and the record a selected row makes (``*_from_row``).
Times are fixed-width UTC text and JSON is text on every backend (``codec.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graph_sessions.models import AssistantInfo, CronInfo
from graph_sessions.storage.codec import dump_json, dump_time, load_json, load_time
from graph_sessions.storage.records import PendingRun


def assistant_values(info: AssistantInfo) -> tuple[Any, ...]:
    """An assistant version as its row values."""
    return (
        info.assistant_id,
        info.version,
        info.graph_id,
        info.owner,
        info.name,
        info.description,
        dump_json(info.config),
        dump_json(info.context),
        dump_json(info.metadata),
        dump_time(info.created_at),
        dump_time(info.updated_at),
    )


def assistant_from_row(row: Any) -> AssistantInfo:
    """The assistant version a selected row holds."""
    created = load_time(row[9])
    updated = load_time(row[10])
    assert created is not None and updated is not None
    return AssistantInfo(
        assistant_id=row[0],
        version=row[1],
        graph_id=row[2],
        owner=row[3],
        name=row[4],
        description=row[5],
        config=load_json(row[6]) or {},
        context=load_json(row[7]) or {},
        metadata=load_json(row[8]) or {},
        created_at=created,
        updated_at=updated,
    )


def cron_values(info: CronInfo) -> tuple[Any, ...]:
    """A cron as its row values."""
    return (
        info.cron_id,
        info.assistant_id,
        info.thread_id,
        info.owner,
        info.schedule,
        info.timezone,
        dump_time(info.end_time),
        dump_json(info.payload),
        dump_json(info.metadata),
        info.on_run_completed,
        bool(info.enabled),
        dump_time(info.next_run_date),
        dump_time(info.created_at),
        dump_time(info.updated_at),
    )


def cron_from_row(row: Any) -> CronInfo:
    """The cron a selected row holds."""
    next_run, created, updated = load_time(row[11]), load_time(row[12]), load_time(row[13])
    assert next_run is not None and created is not None and updated is not None
    return CronInfo(
        cron_id=row[0],
        assistant_id=row[1],
        thread_id=row[2],
        owner=row[3],
        schedule=row[4],
        timezone=row[5],
        end_time=load_time(row[6]),
        payload=load_json(row[7]) or {},
        metadata=load_json(row[8]) or {},
        on_run_completed=row[9],
        enabled=bool(row[10]),
        next_run_date=next_run,
        created_at=created,
        updated_at=updated,
    )


def pending_from_row(row: Sequence[Any]) -> PendingRun:
    """The pending run a selected row holds."""
    created = load_time(row[3])
    assert created is not None
    return PendingRun(
        run_id=row[0],
        session_id=row[1],
        owner=row[2],
        created_at=created,
        not_before=load_time(row[4]),
        payload=load_json(row[5]) or {},
        claimed_by=row[6],
        claimed_until=load_time(row[7]),
    )


__all__ = [
    "assistant_from_row",
    "assistant_values",
    "cron_from_row",
    "cron_values",
    "pending_from_row",
]
