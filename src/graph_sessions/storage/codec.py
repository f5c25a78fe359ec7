"""Encoding shared by the SQL backends: JSON columns and sortable UTC timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson


def dump_json(value: Any) -> str:
    """JSON text; values JSON cannot hold are stored as their ``str``."""
    return orjson.dumps(value, default=_fallback).decode()


def _fallback(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump()
    if hasattr(value, "__dict__"):
        return {k: v for k, v in vars(value).items() if not k.startswith("_")}
    return str(value)


def load_json(text: str | bytes | None) -> Any:
    """Parse a JSON column (``None`` stays ``None``)."""
    return None if text is None else orjson.loads(text)


def dump_time(value: datetime | None) -> str | None:
    """Fixed-width ISO-8601 in UTC, so text order is time order."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def load_time(text: str | None) -> datetime | None:
    """Parse a timestamp column into an aware UTC datetime."""
    return None if text is None else datetime.fromisoformat(text)
