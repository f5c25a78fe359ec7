"""``POST /threads/search`` and ``/threads/count``: the core's listing (owner, status and
metadata filters, created/updated order, cursors) with LangGraph's ``limit``/``offset``
pages and pagination headers.

What the core cannot filter or sort by is done here, over the rows the core's filters
matched (at most :data:`MAX_SCANNED`, else 400): ``ids`` (each read by id), ``values``
(the state of each candidate is read) and ``sort_by`` ``thread_id`` or ``status``.

An auth file handler's filter (``threads.search``) narrows both: its plain equalities go
to the core's metadata filter with the body's, the rest (``$contains``, ``$or``...) is
checked here over the scanned rows.

The pagination headers are :func:`shapes.pagination_headers`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from graph_sessions.core.manager import GraphSessionManager
from graph_sessions.core.session import GraphSession
from graph_sessions.errors import InvalidInput
from graph_sessions.models import SessionInfo, SessionStatus
from graph_sessions.server.auth import Principal
from graph_sessions.server.jsonable import to_jsonable
from graph_sessions.server.langgraph_api import shapes
from graph_sessions.server.langgraph_api.bodies import LgBody
from graph_sessions.server.langgraph_api.lg_auth import Filter, matches_filter
from graph_sessions.server.langgraph_api.thread_access import head
from graph_sessions.vocabulary import SortField, SortOrder

#: the most rows a search filters or sorts itself (``values``, ``sort_by: thread_id``...)
MAX_SCANNED = 10_000
_PAGE = 1000  # the core's largest page

ThreadStatus = Literal["idle", "busy", "interrupted", "error"]
ThreadField = Literal[
    "thread_id",
    "created_at",
    "updated_at",
    "state_updated_at",
    "metadata",
    "config",
    "status",
    "values",
    "interrupts",
    "error",
]


class ThreadCount(LgBody):
    """``POST /threads/count``."""

    metadata: dict[str, Any] | None = None
    values: dict[str, Any] | None = None
    status: ThreadStatus | None = None


class ThreadSearch(ThreadCount):
    """``POST /threads/search``."""

    ids: list[Annotated[str, Field(min_length=1, max_length=256)]] | None = Field(
        default=None, max_length=1000
    )
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10**9)
    sort_by: (
        Literal["thread_id", "status", "created_at", "updated_at", "state_updated_at"] | None
    ) = None
    sort_order: SortOrder | None = None
    select: list[ThreadField] | None = Field(default=None, max_length=20)
    extract: dict[str, str] | None = None


_SCALARS = (str, int, float, bool)


class _Scoped:
    """A body's metadata filter and an auth filter, split into what the core matches (plain
    equalities, merged) and what is checked here (``rest``); ``empty`` when the two ask
    for different values of one key (nothing can match)."""

    def __init__(self, metadata: dict[str, Any] | None, auth: Filter | None) -> None:
        self.metadata = dict(metadata or {})
        self.rest: Filter = {}
        self.empty = False
        for key, want in (auth or {}).items():
            plain = want.get("$eq") if isinstance(want, dict) and set(want) == {"$eq"} else want
            if key.startswith("$") or not isinstance(plain, _SCALARS):
                self.rest[key] = want
            elif key in self.metadata and self.metadata[key] != plain:
                self.empty = True
            else:
                self.metadata[key] = plain

    def keeps(self, info: SessionInfo) -> bool:
        """Whether a row the core matched passes the rest of the auth filter."""
        return matches_filter(info.metadata, self.rest)


def _statuses(status: str | None) -> list[SessionStatus] | None:
    return shapes.SESSION_STATUSES_OF[status] if status else None


def _contains(have: Any, want: Any) -> bool:
    """JSON containment (``@>``): every key/value of ``want`` is in ``have``."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(
            k in have and _contains(have[k], v) for k, v in want.items()
        )
    if isinstance(want, list) and isinstance(have, list):
        return all(any(_contains(h, w) for h in have) for w in want)
    return bool(have == want)


async def _scan(
    manager: GraphSessionManager,
    owner: str | None,
    body: ThreadCount,
    metadata: dict[str, Any] | None,
    *,
    sort: SortField,
    descending: bool,
    want: int | None,
) -> tuple[list[SessionInfo], bool]:
    """Rows the core's filters match, in order: at least ``want`` when there are that many
    (all for ``None``); (rows, whether more remain)."""
    rows: list[SessionInfo] = []
    cursor: str | None = None
    while True:
        size = _PAGE if want is None else max(1, min(_PAGE, want - len(rows)))
        page = await manager.list(
            _statuses(body.status),
            sort=sort,
            order="desc" if descending else "asc",
            limit=size,
            cursor=cursor,
            owner=owner,
            metadata=metadata or None,
        )
        rows.extend(page.sessions)
        cursor = page.next_cursor
        if cursor is None:
            return rows, False
        if want is not None and len(rows) >= want:
            return rows, True
        if len(rows) >= MAX_SCANNED:
            raise InvalidInput(
                f"this search would scan more than {MAX_SCANNED} threads; narrow it with "
                "metadata or status"
            )


async def _by_ids(
    manager: GraphSessionManager, owner: str | None, body: ThreadSearch
) -> list[SessionInfo]:
    statuses = _statuses(body.status)
    rows = []
    for thread_id in dict.fromkeys(body.ids or []):
        try:
            session = await manager.get(thread_id, owner=owner)
        except InvalidInput:
            continue
        if session is None:
            continue
        info = session.info
        if statuses is not None and info.status not in statuses:
            continue
        if body.metadata and not _contains(info.metadata, body.metadata):
            continue
        rows.append(info)
    return rows


async def _values_match(
    manager: GraphSessionManager, info: SessionInfo, values: dict[str, Any]
) -> bool:
    snapshot = await head(manager, manager.session(info))
    if snapshot is None or snapshot.created_at is None:
        return False
    return _contains(to_jsonable(snapshot.values), to_jsonable(values))


async def _filter_values(
    manager: GraphSessionManager, rows: list[SessionInfo], values: dict[str, Any] | None
) -> list[SessionInfo]:
    if not values:
        return rows
    return [info for info in rows if await _values_match(manager, info, values)]


def _sort_key(field: str) -> Any:
    if field == "thread_id":
        return lambda info: info.session_id
    if field == "status":
        return lambda info: shapes.thread_status(info)
    if field == "updated_at":
        return lambda info: info.updated_at
    return lambda info: info.created_at


def _core_sort(sort_by: str | None) -> SortField | None:
    if sort_by in (None, "created_at"):
        return "created_at"
    if sort_by in ("updated_at", "state_updated_at"):
        return "updated_at"
    return None


async def find_threads(
    manager: GraphSessionManager,
    principal: Principal,
    body: ThreadSearch,
    auth_filter: Filter | None = None,
) -> tuple[list[SessionInfo], bool]:
    """One page of the caller's matching threads (and the auth handler's filter's); (rows,
    whether a next page exists)."""
    if body.extract:
        raise InvalidInput("extract is not supported yet")
    scoped = _Scoped(body.metadata, auth_filter)
    if scoped.empty:
        return [], False
    owner = principal.scope
    descending = body.sort_order != "asc"
    end = body.offset + body.limit
    core_sort = _core_sort(body.sort_by)
    if body.ids is None and not body.values and not scoped.rest and core_sort is not None:
        rows, more = await _scan(
            manager,
            owner,
            body,
            scoped.metadata,
            sort=core_sort,
            descending=descending,
            want=end + 1,
        )
        return rows[body.offset : end], more or len(rows) > end
    if body.ids is not None:
        rows = await _by_ids(manager, owner, body)
        rows = [info for info in rows if matches_filter(info.metadata, auth_filter)]
    else:
        rows, _ = await _scan(
            manager,
            owner,
            body,
            scoped.metadata,
            sort="created_at",
            descending=descending,
            want=None,
        )
        rows = [info for info in rows if scoped.keeps(info)]
    rows = await _filter_values(manager, rows, body.values)
    rows.sort(key=_sort_key(body.sort_by or "created_at"), reverse=descending)
    return rows[body.offset : end], len(rows) > end


async def thread_items(
    manager: GraphSessionManager, rows: list[SessionInfo], select: list[str] | None
) -> list[dict[str, Any]]:
    """The rows as LangGraph threads (their heads read only when a field needs them)."""
    needs_head = not select or bool({"values", "interrupts", "error", "status"} & set(select))
    out = []
    for info in rows:
        session: GraphSession = manager.session(info)
        snapshot = await head(manager, session) if needs_head else None
        item = shapes.thread(info, snapshot, busy=manager.is_busy(info.session_id))
        out.append(shapes.select(item, select))
    return out


async def count_matching(
    manager: GraphSessionManager,
    principal: Principal,
    body: ThreadCount,
    auth_filter: Filter | None = None,
) -> int:
    """How many of the caller's threads match (and the auth handler's filter)."""
    scoped = _Scoped(body.metadata, auth_filter)
    if scoped.empty:
        return 0
    if not body.values and not scoped.rest:
        return await manager.count(
            _statuses(body.status), owner=principal.scope, metadata=scoped.metadata or None
        )
    rows, _ = await _scan(
        manager,
        principal.scope,
        body,
        scoped.metadata,
        sort="created_at",
        descending=True,
        want=None,
    )
    rows = [info for info in rows if scoped.keeps(info)]
    return len(await _filter_values(manager, rows, body.values))


__all__ = [
    "MAX_SCANNED",
    "ThreadCount",
    "ThreadSearch",
    "count_matching",
    "find_threads",
    "thread_items",
]
