"""``/sessions``: create, read, update, delete, list and search sessions; their state,
checkpoints, fork, messages, events (with a live SSE tail) and runs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

import anyio
import orjson
from fastapi import Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sse_starlette import EventSourceResponse, ServerSentEvent

from graph_sessions.errors import InvalidInput, SessionExpired, SessionNotFound
from graph_sessions.models import (
    CheckpointInfo,
    Event,
    EventType,
    Message,
    RunInfo,
    SessionPage,
    SessionStatus,
)
from graph_sessions.server.auth import Principal
from graph_sessions.server.deps import (
    Caller,
    OwnedSession,
    SessionIdPath,
    info_dict,
    manager_of,
)
from graph_sessions.server.errors import error_responses, sse_schema
from graph_sessions.server.jsonable import JSONResponse, dumps
from graph_sessions.server.routing import GuardedRouter
from graph_sessions.server.schemas import (
    AppendMessagesRequest,
    ClearedOut,
    CreateSessionRequest,
    ForkRequest,
    SearchRequest,
    SessionOut,
    SessionPageOut,
    StateOut,
    SuspendRequest,
    UpdateSessionRequest,
    UpdateStateRequest,
)
from graph_sessions.vocabulary import DEFAULT_ORDER, DEFAULT_SORT, SORT_FIELDS, SORT_ORDERS, pattern

router = GuardedRouter(tags=["sessions"])

READ = error_responses(400, 401, 404, 422)
#: the largest page of GET /sessions/{id}/checkpoints
MAX_CHECKPOINTS_PAGE = 100
WRITE = error_responses(400, 401, 404, 409, 413, 422, 423)


TimeQuery = Annotated[
    str | None,
    Query(
        max_length=64,
        description="an ISO 8601 time, e.g. 2026-01-31T12:00:00Z (naive: UTC)",
        json_schema_extra={"format": "date-time"},
    ),
]


def _time(name: str, value: str | None) -> datetime | None:
    """Parse an ISO 8601 query time (400 ``invalid_input`` when it is not one)."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidInput(f"{name} must be an ISO 8601 time, not {value[:64]!r}") from None


def page_dict(page: SessionPage) -> dict[str, Any]:
    """A page of sessions as JSON-ready data."""
    return {"sessions": [info_dict(s) for s in page.sessions], "next_cursor": page.next_cursor}


def _owner_filter(principal: Principal, owner: str | None) -> tuple[str | None, bool]:
    """(owner to filter by, whether the result is empty by construction)."""
    if principal.scope is None:
        return owner, False
    if owner is not None and owner != principal.scope:
        return principal.scope, True  # a user asking for someone else's: nothing visible
    return principal.scope, False


async def _search(request: Request, principal: Principal, body: SearchRequest) -> Response:
    manager = manager_of(request)
    owner, empty = _owner_filter(principal, body.owner)
    if empty:
        return JSONResponse({"sessions": [], "next_cursor": None})
    page = await manager.list(
        [s.value for s in body.status] if body.status else None,
        sort=body.sort,
        order=body.order,
        limit=body.limit,
        cursor=body.cursor,
        owner=owner,
        graph_id=body.graph_id,
        task_id=body.task_id,
        id_prefix=body.id_prefix,
        metadata=body.metadata,
        created_after=body.created_after,
        created_before=body.created_before,
        updated_after=body.updated_after,
        updated_before=body.updated_before,
        include_expired=body.include_expired,
    )
    return JSONResponse(page_dict(page))


@router.post(
    "/sessions",
    status_code=201,
    response_model=SessionOut,
    responses=error_responses(400, 401, 409, 413, 422),
    summary="Create a session",
)
async def create_session(
    body: CreateSessionRequest, request: Request, principal: Caller
) -> Response:
    """Register a new session (an id is generated when none is given); 409 if the id is
    taken. Omit ``ttl`` for the server's default, send ``null`` for a session that never
    expires. Admins may create a session on behalf of ``owner``."""
    manager = manager_of(request)
    if body.owner is not None and not principal.is_admin:
        raise InvalidInput("only admins may set owner; a user's sessions are its own")
    kwargs: dict[str, Any] = {}
    if "ttl" in body.model_fields_set:
        kwargs["ttl"] = body.ttl
    session = await manager.create(
        body.session_id,
        owner=body.owner if body.owner is not None else principal.owner,
        metadata=body.metadata,
        task_id=body.task_id,
        initial_state=body.initial_state,
        graph_id=body.graph_id,
        **kwargs,
    )
    return JSONResponse(info_dict(session.info), status_code=201)


@router.get(
    "/sessions",
    response_model=SessionPageOut,
    responses=error_responses(400, 401, 422),
    summary="List sessions",
)
async def list_sessions(
    request: Request,
    principal: Caller,
    status: Annotated[
        list[SessionStatus] | None, Query(description="one or more statuses (repeat)")
    ] = None,
    owner: Annotated[str | None, Query(description="admins: any owner; users: their own")] = None,
    graph_id: str | None = None,
    task_id: str | None = None,
    id_prefix: Annotated[
        str | None, Query(description="sessions whose id starts with this text", max_length=256)
    ] = None,
    metadata: Annotated[
        str | None,
        Query(
            description='a JSON object: sessions whose metadata contains these pairs, e.g. {"plan":"pro"}',
            max_length=4096,
        ),
    ] = None,
    created_after: TimeQuery = None,
    created_before: TimeQuery = None,
    updated_after: TimeQuery = None,
    updated_before: TimeQuery = None,
    include_expired: bool = False,
    sort: Annotated[str, Query(pattern=pattern(SORT_FIELDS))] = DEFAULT_SORT,
    order: Annotated[str, Query(pattern=pattern(SORT_ORDERS))] = DEFAULT_ORDER,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> Response:
    """One page of the caller's sessions (every session for admins), newest first by
    default, filtered by every filter of ``manager.list``. Pass ``next_cursor`` back as
    ``cursor`` for the next page."""
    meta: dict[str, Any] | None = None
    if metadata is not None:
        try:
            meta = orjson.loads(metadata)
        except orjson.JSONDecodeError:
            meta = None
        if not isinstance(meta, dict):
            raise InvalidInput('metadata must be a JSON object, e.g. {"plan":"pro"}')
    try:
        body = SearchRequest(
            status=status,
            owner=owner,
            graph_id=graph_id,
            task_id=task_id,
            id_prefix=id_prefix,
            metadata=meta,
            created_after=_time("created_after", created_after),
            created_before=_time("created_before", created_before),
            updated_after=_time("updated_after", updated_after),
            updated_before=_time("updated_before", updated_before),
            include_expired=include_expired,
            sort=sort,  # type: ignore[arg-type]
            order=order,  # type: ignore[arg-type]
            limit=limit,
            cursor=cursor,
        )
    except ValidationError as exc:  # e.g. metadata nested too deep: 422, as for the body
        raise RequestValidationError(exc.errors()) from None
    return await _search(request, principal, body)


@router.post(
    "/sessions/search",
    response_model=SessionPageOut,
    responses=error_responses(400, 401, 413, 422),
    summary="Search sessions",
)
async def search_sessions(body: SearchRequest, request: Request, principal: Caller) -> Response:
    """``GET /sessions`` with the filters in a JSON body (metadata as an object)."""
    return await _search(request, principal, body)


@router.get(
    "/sessions/{session_id}", response_model=SessionOut, responses=READ, summary="Get a session"
)
async def get_session(session: OwnedSession) -> Response:
    """The session's registry row. 404 when it does not exist, has expired, or is another
    owner's."""
    return JSONResponse(info_dict(session.info))


@router.patch(
    "/sessions/{session_id}",
    response_model=SessionOut,
    responses=WRITE,
    summary="Update metadata and/or TTL",
)
async def update_session(
    session_id: SessionIdPath,
    body: UpdateSessionRequest,
    request: Request,
    principal: Caller,
    session: OwnedSession,
) -> Response:
    """Merge ``metadata`` into the session's (replace it with ``merge: false``) and/or set a
    new ``ttl`` in seconds from now (``null``: never expires)."""
    manager = manager_of(request)
    info = session.info
    if body.metadata is not None:
        info = await manager.update_metadata(
            session_id, body.metadata, merge=body.merge, owner=principal.scope
        )
    if "ttl" in body.model_fields_set:
        info = await manager.set_ttl(session_id, body.ttl, owner=principal.scope)
    return JSONResponse(info_dict(info))


@router.delete(
    "/sessions/{session_id}",
    status_code=204,
    response_class=Response,
    responses=READ,
    summary="Delete a session",
)
async def delete_session(
    session_id: SessionIdPath, request: Request, principal: Caller
) -> Response:
    """Delete everything of the session: registry row, checkpoints, runs, events, messages.
    A run in progress is cancelled first."""
    manager = manager_of(request)
    if not await manager.delete(session_id, owner=principal.scope):
        raise SessionNotFound(f"session {session_id!r} does not exist", session_id=session_id)
    return Response(status_code=204)


@router.post(
    "/sessions/{session_id}/suspend",
    response_model=SessionOut,
    responses=WRITE,
    summary="Suspend a session",
)
async def suspend_session(
    session: OwnedSession,
    body: SuspendRequest | None = None,
) -> Response:
    """Pause the session on purpose: invokes answer 423 until ``/resume`` lifts it. 409 while
    a run is executing or when its status cannot be suspended (e.g. ``created``)."""
    info = await session.suspend(reason=body.reason if body else None)
    return JSONResponse(info_dict(info))


@router.get(
    "/sessions/{session_id}/state",
    response_model=StateOut,
    responses=READ,
    summary="The session's state",
)
async def get_state(
    session_id: SessionIdPath,
    session: OwnedSession,
    checkpoint_id: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
) -> Response:
    """The state values at the head (or at ``checkpoint_id``), the next nodes and the pending
    interrupts. ``{}`` before the first run."""
    snap = await session.snapshot(checkpoint_id)
    if snap is None:
        out: dict[str, Any] = {"session_id": session_id, "values": await session.get_state()}
    else:
        out = {
            "session_id": session_id,
            "values": snap.values,
            "next": snap.next,
            "checkpoint_id": snap.checkpoint_id,
            "created_at": snap.created_at,
            "interrupts": snap.interrupts,
        }
    return JSONResponse(out)


@router.post(
    "/sessions/{session_id}/state",
    response_model=CheckpointInfo,
    responses=WRITE,
    summary="Write into the session's state",
)
async def update_state(body: UpdateStateRequest, session: OwnedSession) -> Response:
    """Write ``values`` into the state as if node ``as_node`` returned them (a new
    checkpoint). 409 while a run is executing."""
    info = await session.update_state(body.values, as_node=body.as_node)
    return JSONResponse(info.model_dump())


@router.get(
    "/sessions/{session_id}/checkpoints",
    response_model=list[CheckpointInfo],
    responses=READ,
    summary="The session's history",
)
async def list_checkpoints(
    session: OwnedSession,
    limit: Annotated[int, Query(ge=1, le=MAX_CHECKPOINTS_PAGE)] = 20,
    before: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    include_values: Annotated[
        bool, Query(description="add each checkpoint's full state (`values`); off by default")
    ] = False,
) -> Response:
    """Checkpoints, newest first; pass the last ``checkpoint_id`` as ``before`` for more. At
    most 100 per page. Each is its metadata (id, parent, step, source, next, created_at,
    interrupts); the state of each (``values``) only with ``include_values=true``, since a
    page of full states can be huge: read one with ``GET /state?checkpoint_id=``."""
    items = await session.checkpoints(limit=limit, before=before)
    exclude = None if include_values else {"values"}
    return JSONResponse([c.model_dump(exclude=exclude) for c in items])


@router.post(
    "/sessions/{session_id}/fork",
    response_model=CheckpointInfo,
    responses=WRITE,
    summary="Rewind to a past checkpoint",
)
async def fork_session(body: ForkRequest, session: OwnedSession) -> Response:
    """Make a copy of past checkpoint ``checkpoint_id`` the session's head; the next run
    continues from it. 404 for an unknown checkpoint, 409 while a run is executing."""
    info = await session.fork(body.checkpoint_id)
    return JSONResponse(info.model_dump())


@router.get(
    "/sessions/{session_id}/runs",
    response_model=list[RunInfo],
    responses=READ,
    summary="The session's runs",
)
async def list_runs(
    session: OwnedSession,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> Response:
    """The session's runs, newest first."""
    return JSONResponse([r.model_dump() for r in await session.runs(limit=limit)])


@router.get(
    "/sessions/{session_id}/messages",
    response_model=list[Message],
    responses=READ,
    summary="The session's transcript",
)
async def list_messages(
    session: OwnedSession,
    limit: Annotated[int | None, Query(ge=1, le=10_000)] = None,
    before: Annotated[int | None, Query(ge=0, le=2**62)] = None,
) -> Response:
    """The last ``limit`` messages (all by default) older than id ``before``, oldest first."""
    items = await session.messages.load(limit=limit, before=before)
    return JSONResponse([m.model_dump() for m in items])


@router.post(
    "/sessions/{session_id}/messages",
    status_code=201,
    response_model=list[Message],
    responses=WRITE,
    summary="Append to the transcript",
)
async def append_messages(
    session_id: SessionIdPath, body: AppendMessagesRequest, request: Request, session: OwnedSession
) -> Response:
    """Append messages (one transaction); returns them with their ids."""
    manager = manager_of(request)
    items = [m.model_dump() for m in body.messages]
    ids = await session.messages.extend(items)
    now = manager.now()
    out = [
        Message(
            id=i,
            session_id=session_id,
            role=m["role"],
            content=m["content"],
            data=m["data"],
            created_at=now,
        ).model_dump()
        for i, m in zip(ids, items, strict=True)
    ]
    return JSONResponse(out, status_code=201)


@router.delete(
    "/sessions/{session_id}/messages",
    response_model=ClearedOut,
    responses=READ,
    summary="Clear the transcript",
)
async def clear_messages(session: OwnedSession) -> Response:
    """Delete the session's transcript; returns how many messages were removed."""
    return JSONResponse({"deleted": await session.messages.clear()})


_EVENTS_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A JSON list of events, or with follow=true an SSE stream: one "
        "`event: <type>` per log entry (`id` = event id, `data` = the Event as JSON), ending "
        "with `event: end` when the session is deleted or expires.",
        "content": {
            "text/event-stream": {
                "schema": sse_schema(
                    [t.value for t in EventType] + ["end"], "one entry of the execution log"
                )
            }
        },
    }
}


@router.get(
    "/sessions/{session_id}/events",
    response_model=list[Event],
    responses={**READ, **_EVENTS_DOC},
    summary="The session's execution log (follow=true: a live SSE tail)",
)
async def list_events(
    session_id: SessionIdPath,
    request: Request,
    session: OwnedSession,
    after: Annotated[int | None, Query(ge=0, le=2**62, description="an event id")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    follow: Annotated[bool, Query(description="keep the stream open and send new events")] = False,
) -> Response:
    """The execution log, oldest first, after event id ``after``. With ``follow=true`` the
    answer is an SSE stream: the events so far, then each new one as it is logged."""
    if not follow:
        events = await session.events(after=after, limit=limit)
        return JSONResponse([e.model_dump() for e in events])
    stopping: asyncio.Event = request.app.state.stopping
    shutdown = anyio.Event()

    async def tail() -> Any:
        pages = session.follow_events(
            after,
            page=limit,
            stopped=lambda: stopping.is_set() or shutdown.is_set(),
            wake=(stopping,),
        )
        try:
            async for events in pages:
                for event in events:
                    yield ServerSentEvent(
                        id=str(event.id),
                        event=str(event.type),
                        data=dumps(event.model_dump()).decode(),
                    )
        except (SessionNotFound, SessionExpired) as exc:  # gone, or its id taken again
            yield ServerSentEvent(event="end", data=dumps(exc.to_dict()).decode())
            return
        yield ServerSentEvent(event="end", data='{"reason": "server shutting down"}')

    return EventSourceResponse(
        tail(), ping=15, sep="\n", shutdown_event=shutdown, shutdown_grace_period=1.0
    )
