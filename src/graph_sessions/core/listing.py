"""Listing sessions: filters, their validation, and opaque page cursors."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from typing_extensions import TypedDict

from graph_sessions.clock import to_utc
from graph_sessions.core.context import CoreContext
from graph_sessions.core.filters import check_metadata_filter
from graph_sessions.errors import InvalidInput
from graph_sessions.models import SessionInfo, SessionPage, SessionStatus
from graph_sessions.storage.backend import SessionQuery
from graph_sessions.storage.codec import dump_time
from graph_sessions.vocabulary import SORT_FIELDS, SORT_ORDERS, SortField, choice_error

MAX_LIMIT = 1000
StatusFilter = SessionStatus | str | Sequence[SessionStatus | str] | None


class SessionFilters(TypedDict, total=False):
    """Filters of :meth:`GraphSessionManager.list` and :meth:`GraphSessionManager.count`."""

    owner: str | None
    graph_id: str | None
    task_id: str | None
    id_prefix: str | None
    metadata: dict[str, Any] | None
    created_after: datetime | None
    created_before: datetime | None
    updated_after: datetime | None
    updated_before: datetime | None
    include_expired: bool


def encode_cursor(info: SessionInfo, sort: str) -> str:
    """The cursor of the page that starts after ``info`` in ``sort`` order."""
    raw = orjson.dumps([dump_time(getattr(info, sort)), info.session_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str | None, str]:
    """(sort value, session id) of a cursor :func:`encode_cursor` made; ``InvalidInput``
    for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, session_id = orjson.loads(raw)
        if not isinstance(session_id, str) or not (value is None or isinstance(value, str)):
            raise ValueError
        return value, session_id
    except Exception:
        raise InvalidInput(f"cursor {cursor!r} is not one this API returned") from None


def build_query(status: StatusFilter, filters: SessionFilters, now: datetime) -> SessionQuery:
    """The storage query for ``status`` and ``filters`` (``InvalidInput`` for unknown
    filters or statuses, metadata filters too deep or wide, times that are not datetimes)."""
    unknown = set(filters) - set(SessionFilters.__annotations__)
    if unknown:
        known = ", ".join(SessionFilters.__annotations__)
        raise InvalidInput(f"unknown filter(s) {sorted(unknown)}; known: status, {known}")
    include_expired = bool(filters.get("include_expired", False))
    statuses: list[SessionStatus] | None = None
    if status is not None:
        raw = [status] if isinstance(status, str) else list(status)
        try:
            statuses = [SessionStatus(s) for s in raw]
        except ValueError:
            known = ", ".join(s.value for s in SessionStatus)
            raise InvalidInput(f"unknown status in {raw!r}; known: {known}") from None
        if SessionStatus.EXPIRED in statuses:
            include_expired = True
    id_prefix = filters.get("id_prefix")
    if id_prefix is not None and not isinstance(id_prefix, str):
        raise InvalidInput(f"id_prefix must be a string, not {type(id_prefix).__name__}")
    metadata = filters.get("metadata")
    if metadata is not None:
        check_metadata_filter(metadata)

    def moment(name: str) -> datetime | None:
        value = filters.get(name)
        if value is not None and not isinstance(value, datetime):
            raise InvalidInput(f"{name} must be a datetime, not {type(value).__name__}")
        return to_utc(value) if value is not None else None

    return SessionQuery(
        status=statuses,
        owner=filters.get("owner"),
        graph_id=filters.get("graph_id"),
        task_id=filters.get("task_id"),
        id_prefix=id_prefix or None,
        metadata=metadata,
        created_after=moment("created_after"),
        created_before=moment("created_before"),
        updated_after=moment("updated_after"),
        updated_before=moment("updated_before"),
        include_expired=include_expired,
        now=now,
    )


async def list_page(
    ctx: CoreContext,
    status: StatusFilter,
    filters: SessionFilters,
    *,
    sort: SortField,
    order: str,
    limit: int,
    cursor: str | None,
) -> SessionPage:
    """One page of sessions (see :meth:`GraphSessionManager.list`)."""
    ctx.require_open()
    for problem in (
        choice_error("sort", sort, SORT_FIELDS),
        choice_error("order", order, SORT_ORDERS),
    ):
        if problem is not None:
            raise InvalidInput(problem)
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}, not {limit!r}")
    query = build_query(status, filters, ctx.now())
    query.sort = sort
    query.descending = order == "desc"
    query.limit = limit + 1
    query.cursor = decode_cursor(cursor) if cursor else None
    rows = await ctx.backend.list_sessions(query)
    more = len(rows) > limit
    rows = rows[:limit]
    return SessionPage(
        sessions=rows, next_cursor=encode_cursor(rows[-1], sort) if more and rows else None
    )


async def count(ctx: CoreContext, status: StatusFilter, filters: SessionFilters) -> int:
    """How many sessions match (the filters of :func:`list_page`)."""
    ctx.require_open()
    return await ctx.backend.count_sessions(build_query(status, filters, ctx.now()))
