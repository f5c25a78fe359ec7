"""Time helpers: timezone-aware UTC everywhere, and an injectable clock for tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def to_utc(value: datetime) -> datetime:
    """Return ``value`` as aware UTC; naive datetimes are taken to be UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class ManualClock:
    """A clock that only moves when told to, for tests of TTL and expiry."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = to_utc(start) if start else utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward by ``seconds`` and return the new time."""
        self.now = self.now + timedelta(seconds=seconds)
        return self.now
