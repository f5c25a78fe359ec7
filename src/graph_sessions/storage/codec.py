"""Encoding shared by the backends: JSON columns, sortable UTC timestamps, and URLs as
messages show them (no password)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson

from graph_sessions.jsonable import dumps


def dump_json(value: Any, *, strict: bool = False) -> str:
    """JSON text in the shapes of :mod:`graph_sessions.jsonable` (what the HTTP API and the
    CLI's ``--json`` show); values with no better shape are stored as their ``str``.
    ``strict``: ``TypeError`` for keys that are not strings and integers past 64 bits."""
    return dumps(value, strict=strict).decode()


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


def redact_password(url: str) -> str:
    """``url`` with its password, if any, as ``***`` (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
