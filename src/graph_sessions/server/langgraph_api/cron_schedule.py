"""Cron expressions, read by ``croniter`` (never by hand): validation with LangGraph's
422 messages and the next fire time after a moment, in the cron's IANA timezone (UTC when
none), always answered in UTC.

``croniter`` takes the five standard fields and an optional sixth, **seconds**
(``"* * * * * */2"``: every two seconds), as LangGraph's server does."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

from graph_sessions.server.errors import ApiError


def bad_schedule(schedule: str) -> ApiError:
    """LangGraph's 422 for a schedule ``croniter`` refuses."""
    return ApiError(
        422,
        "validation_error",
        f"Invalid cron schedule: '{schedule}'. Reason: Invalid cron schedule. Ensure the "
        "schedule uses the standard cron format (minute hour day_of_month month "
        "day_of_week). Example: '*/5 * * * *' for every 5 minutes.",
    )


def check_timezone(timezone: str | None) -> str | None:
    """``timezone`` when it names an IANA zone (or is ``None``); LangGraph's 422 otherwise."""
    if timezone is None:
        return None
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, KeyError):
        raise ApiError(
            422,
            "validation_error",
            f"Invalid timezone: '{timezone}'. Use IANA timezone format (e.g. 'America/New_York').",
        ) from None
    return timezone


def next_fire(schedule: str, after: datetime, timezone: str | None = None) -> datetime:
    """The schedule's first time strictly after ``after`` (UTC). 422 when the schedule is
    not one ``croniter`` reads, or never fires (``0 0 30 2 *``)."""
    if not croniter.is_valid(schedule):
        raise bad_schedule(schedule)
    base = after.astimezone(ZoneInfo(timezone) if timezone else UTC)
    try:
        found = croniter(schedule, base).get_next(datetime)
    except (CroniterBadDateError, ValueError, KeyError, OverflowError):
        raise bad_schedule(schedule) from None
    assert isinstance(found, datetime)
    return found.astimezone(UTC)


__all__ = ["bad_schedule", "check_timezone", "next_fire"]
