"""``Query``: session, sessions (a Relay-style connection with every filter of
``manager.list``), stats, graphs."""

from __future__ import annotations

from typing import Any

import strawberry
from pydantic import ValidationError
from strawberry.types import Info

from graph_sessions.core.listing import encode_cursor
from graph_sessions.errors import SessionExpired, SessionNotFound
from graph_sessions.graphql.access import ctx, owned
from graph_sessions.graphql.errors import invalid_input
from graph_sessions.graphql.types import (
    Graphs,
    PageInfo,
    Session,
    SessionConnection,
    SessionEdge,
    SessionFilter,
    Stats,
    js,
    page_size,
)
from graph_sessions.models import SessionStatus
from graph_sessions.server.auth import Principal
from graph_sessions.server.schemas import SearchRequest


def owner_filter(principal: Principal, owner: str | None) -> tuple[str | None, bool]:
    """(owner to filter by, whether nothing can match): a user sees only its own."""
    if principal.scope is None:
        return owner, False
    return principal.scope, owner is not None and owner != principal.scope


def search_request(where: SessionFilter | None, limit: int, cursor: str | None) -> SearchRequest:
    """The REST search body of a GraphQL filter (validated the same way)."""
    w = where or SessionFilter()
    try:
        return SearchRequest(
            status=list(w.status) if w.status else None,
            owner=w.owner,
            graph_id=w.graph_id,
            task_id=w.task_id,
            id_prefix=w.id_prefix,
            metadata=w.metadata,  # type: ignore[arg-type]
            created_after=w.created_after,
            created_before=w.created_before,
            updated_after=w.updated_after,
            updated_before=w.updated_before,
            include_expired=w.include_expired,
            sort=w.sort,  # type: ignore[arg-type]
            order=w.order,  # type: ignore[arg-type]
            limit=limit,
            cursor=cursor,
        )
    except ValidationError as exc:
        raise invalid_input(exc) from None


def list_filters(body: SearchRequest, owner: str | None) -> dict[str, Any]:
    """The keyword filters of ``manager.list`` / ``manager.count`` for a search body."""
    return {
        "owner": owner,
        "graph_id": body.graph_id,
        "task_id": body.task_id,
        "id_prefix": body.id_prefix,
        "metadata": body.metadata,
        "created_after": body.created_after,
        "created_before": body.created_before,
        "updated_after": body.updated_after,
        "updated_before": body.updated_before,
        "include_expired": body.include_expired,
    }


async def _none() -> int:
    return 0


@strawberry.type
class Query:
    """Reads."""

    @strawberry.field(
        description="The caller's session, or null (absent, expired, another owner's)."
    )
    async def session(self, info: Info[Any, Any], id: strawberry.ID) -> Session | None:
        try:
            return Session.of(await owned(info, str(id)))
        except (SessionNotFound, SessionExpired):
            return None

    @strawberry.field(description="A page of the caller's sessions (all of them for admins).")
    async def sessions(
        self,
        info: Info[Any, Any],
        filter: SessionFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> SessionConnection:
        c = ctx(info)
        body = search_request(filter, page_size(first, 50), after)
        owner, empty = owner_filter(c.principal, body.owner)
        if empty:
            return SessionConnection(
                edges=[], page_info=PageInfo(has_next_page=False, end_cursor=None), counter=_none
            )
        filters = list_filters(body, owner)
        statuses = [s.value for s in body.status] if body.status else None
        page = await c.manager.list(
            statuses,
            sort=body.sort,
            order=body.order,
            limit=body.limit,
            cursor=body.cursor,
            **filters,
        )
        edges = [
            SessionEdge(node=Session.of(c.manager.session(s)), cursor=encode_cursor(s, body.sort))
            for s in page.sessions
        ]
        return SessionConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.next_cursor is not None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            # totalCount is a second query: run only when the client selected it
            counter=lambda: c.manager.count(statuses, **filters),
        )

    @strawberry.field(description="Totals by status over the sessions the caller can see.")
    async def stats(self, info: Info[Any, Any]) -> Stats:
        c = ctx(info)
        principal = c.principal
        if principal.scope is None:
            s = await c.manager.stats()
            return Stats(scope="all", total=s.total, by_status=js(s.by_status), expired=s.expired)
        by_status: dict[str, int] = {}
        for status in SessionStatus:
            if status == SessionStatus.EXPIRED:
                continue
            n = await c.manager.count(status, owner=principal.scope)
            if n:
                by_status[status.value] = n
        total = sum(by_status.values())
        with_expired = await c.manager.count(owner=principal.scope, include_expired=True)
        return Stats(
            scope="owner",
            total=total,
            by_status=js(by_status),
            expired=max(0, with_expired - total),
        )

    @strawberry.field(description="The graph ids sessions can be created for.")
    async def graphs(self, info: Info[Any, Any]) -> Graphs:
        c = ctx(info)
        _ = c.principal  # only for a caller who authenticated (as GET /graphs)
        return Graphs(graphs=c.manager.graph_ids, default=c.manager.graph_id)
