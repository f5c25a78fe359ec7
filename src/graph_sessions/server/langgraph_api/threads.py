"""``/threads``: create (``if_exists``, ``ttl``, ``supersteps``), get, patch, delete,
search, count, copy and prune, as LangGraph's Agent Server answers them. A thread is a
session: same row, id, owner, TTL; everything goes through the manager.

Supersets of the reference: any session id is a thread id (not only UUIDs), and a system
assistant id is accepted for ``metadata.graph_id``. ``ttl.ttl`` is in minutes (ours are
seconds); the expiry strategy is the server's ``on_expire``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path, Request, Response
from pydantic import Field

from graph_sessions.core.manager import GraphSessionManager
from graph_sessions.errors import InvalidInput, SessionExists
from graph_sessions.models import SessionInfo
from graph_sessions.server.auth import Principal
from graph_sessions.server.deps import Caller, manager_of
from graph_sessions.server.errors import ApiError
from graph_sessions.server.jsonable import JSONResponse
from graph_sessions.server.langgraph_api import shapes
from graph_sessions.server.langgraph_api.bodies import LgBody
from graph_sessions.server.langgraph_api.error_docs import detail_errors
from graph_sessions.server.langgraph_api.ids import new_id
from graph_sessions.server.langgraph_api.lg_authz import (
    Grant,
    grant,
    id_value,
    stored_metadata,
    thread_grant,
)
from graph_sessions.server.langgraph_api.thread_access import (
    owned_thread,
    served_graph,
    thread_body,
    thread_not_found,
)
from graph_sessions.server.langgraph_api.thread_search import (
    ThreadCount,
    ThreadSearch,
    count_matching,
    find_threads,
    thread_items,
)
from graph_sessions.server.routing import GuardedRouter
from graph_sessions.vocabulary import ExpiryStrategy

router = GuardedRouter(tags=["langgraph: threads"], responses=detail_errors())

ThreadIdPath = Annotated[str, Path(min_length=1, max_length=256, description="the thread id")]


class ThreadTTL(LgBody):
    """A thread's time to live, in minutes."""

    strategy: ExpiryStrategy = "delete"
    ttl: float = Field(gt=0, le=10**9, description="minutes from now until the thread expires")


class SuperstepUpdate(LgBody):
    """One state write of a superstep."""

    values: dict[str, Any] | list[Any] | None = None
    as_node: str | None = Field(default=None, max_length=256)
    command: dict[str, Any] | None = None


class Superstep(LgBody):
    """The state writes of one superstep."""

    updates: list[SuperstepUpdate] = Field(max_length=1000)


class ThreadCreate(LgBody):
    """``POST /threads``."""

    thread_id: str | None = Field(default=None, min_length=1, max_length=256)
    metadata: dict[str, Any] | None = None
    if_exists: Literal["raise", "do_nothing"] = "raise"
    ttl: ThreadTTL | None = None
    supersteps: list[Superstep] | None = Field(default=None, max_length=1000)
    graph_id: str | None = Field(default=None, max_length=256)


class ThreadPatch(LgBody):
    """``PATCH /threads/{thread_id}``."""

    metadata: dict[str, Any] | None = None
    ttl: ThreadTTL | None = None


class ThreadPrune(LgBody):
    """``POST /threads/prune``."""

    thread_ids: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(max_length=1000)
    strategy: ExpiryStrategy = "delete"


def _search_value(body: ThreadCount, limit: int | None = None) -> dict[str, Any]:
    """What LangGraph hands a ``threads.search`` handler."""
    value: dict[str, Any] = {
        "metadata": dict(body.metadata or {}),
        "values": body.values,
        "status": body.status,
        "limit": 0,
        "offset": 0,
    }
    if isinstance(body, ThreadSearch) and limit is None:
        value.update(limit=body.limit, offset=body.offset)
    return value


async def _get_or_none(manager: GraphSessionManager, thread_id: str, principal: Principal) -> Any:
    try:
        return await manager.get(thread_id, owner=principal.scope)
    except InvalidInput:
        return None


def _seconds(ttl: ThreadTTL | None) -> float | None:
    return ttl.ttl * 60.0 if ttl is not None else None


async def _existing(manager: GraphSessionManager, thread_id: str, granted: Grant) -> dict[str, Any]:
    """The caller's thread ``thread_id`` unchanged (``if_exists: do_nothing``); 409 when it
    is another owner's (or the auth handler's filter does not match it)."""
    taken = ApiError(409, "conflict", f"Thread with ID {thread_id} already exists")
    try:
        session = await owned_thread(manager, thread_id, granted.principal)
    except ApiError:
        raise taken from None
    if not granted.allows(session.info.metadata):
        raise taken
    return await thread_body(manager, session)


async def _seed(
    manager: GraphSessionManager, info: SessionInfo, supersteps: list[Superstep]
) -> None:
    """Write the supersteps through the core's ``update_state``, one update at a time."""
    session = manager.session(info)
    for step in supersteps:
        for update in step.updates:
            if update.command is not None:
                raise InvalidInput("supersteps with a command are not supported yet")
            if update.values is not None and not isinstance(update.values, dict):
                raise InvalidInput("supersteps values must be an object of state values")
            await session.update_state(update.values, as_node=update.as_node)


@router.post("/threads", summary="Create a thread (LangGraph)")
async def create_thread(body: ThreadCreate, request: Request, principal: Caller) -> Response:
    """A new thread (a session of the caller); ``metadata.graph_id`` binds its graph (the
    server's default graph otherwise, re-bound by its first run). ``if_exists: do_nothing``
    answers an existing thread unchanged."""
    manager = manager_of(request)
    thread_id = body.thread_id or new_id()
    metadata = dict(body.metadata or {})
    if body.graph_id is not None and "graph_id" not in metadata:
        metadata["graph_id"] = body.graph_id
    value = {"thread_id": id_value(thread_id), "metadata": metadata, "if_exists": body.if_exists}
    granted = await grant(request, principal, "threads", "create", value)
    metadata = stored_metadata(value, metadata)
    graph_id = served_graph(manager, metadata.get("graph_id"))
    if graph_id is not None:
        metadata["graph_id"] = graph_id
    if body.supersteps and graph_id is None:
        raise ApiError(
            400,
            "bad_request",
            f"Thread '{thread_id}' has no assigned graph ID: supersteps need metadata.graph_id, "
            f"one of {manager.graph_ids}",
        )
    kwargs: dict[str, Any] = {}
    if body.ttl is not None:
        kwargs["ttl"] = _seconds(body.ttl)
    if body.if_exists == "do_nothing" and await manager.get(thread_id) is not None:
        return JSONResponse(await _existing(manager, thread_id, granted))
    try:
        session = await manager.create(
            thread_id, owner=principal.owner, metadata=metadata, graph_id=graph_id, **kwargs
        )
    except SessionExists:
        if body.if_exists == "do_nothing":
            return JSONResponse(await _existing(manager, thread_id, granted))
        raise ApiError(409, "conflict", f"Thread with ID {thread_id} already exists") from None
    if body.supersteps:
        try:
            await _seed(manager, session.info, body.supersteps)
        except BaseException:
            await manager.delete(thread_id)
            raise
        await session.refresh()
    return JSONResponse(await thread_body(manager, session))


@router.post("/threads/search", summary="Search threads (LangGraph)")
async def search(body: ThreadSearch, request: Request, principal: Caller) -> Response:
    """Threads matching ``metadata``, ``values``, ``status`` and ``ids``; ``limit``/``offset``
    pages with LangGraph's ``X-Pagination-Total``/``X-Pagination-Next`` headers."""
    manager = manager_of(request)
    granted = await grant(request, principal, "threads", "search", _search_value(body))
    rows, more = await find_threads(manager, granted.principal, body, granted.filter)
    items = await thread_items(manager, rows, list(body.select) if body.select else None)
    headers = shapes.pagination_headers(body.offset, body.limit, len(items), more)
    return JSONResponse(items, headers=headers)


@router.post("/threads/count", summary="Count threads (LangGraph)")
async def count(body: ThreadCount, request: Request, principal: Caller) -> Response:
    """How many threads match ``metadata``, ``values`` and ``status``: a bare integer."""
    granted = await grant(request, principal, "threads", "search", _search_value(body, 0))
    return JSONResponse(
        await count_matching(manager_of(request), granted.principal, body, granted.filter)
    )


@router.post("/threads/prune", summary="Prune threads (LangGraph)")
async def prune(body: ThreadPrune, request: Request, principal: Caller) -> Response:
    """The caller's threads among ``thread_ids``: deleted (``strategy: delete``) or cut down
    to their latest checkpoint, state kept (``keep_latest``); ``{"pruned_count": n}``."""
    manager = manager_of(request)
    value = {"thread_ids": [id_value(t) for t in body.thread_ids]}
    granted = await grant(request, principal, "threads", "delete", value)
    principal = granted.principal
    pruned = 0
    for thread_id in dict.fromkeys(body.thread_ids):
        if granted.filter is not None:
            found = await _get_or_none(manager, thread_id, principal)
            if found is None or not granted.allows(found.info.metadata):
                continue
        if body.strategy == "delete":
            try:
                deleted = await manager.delete(thread_id, owner=principal.scope)
            except InvalidInput:  # not an id a thread can have: nothing to prune
                deleted = False
            pruned += int(deleted)
            continue
        try:
            session = await owned_thread(manager, thread_id, principal)
        except ApiError:  # missing or another owner's: nothing to prune
            continue
        await session.prune_history(1)
        pruned += 1
    return JSONResponse({"pruned_count": pruned})


@router.get("/threads/{thread_id}", summary="Get a thread (LangGraph)")
async def get_thread(thread_id: ThreadIdPath, request: Request, principal: Caller) -> Response:
    """The thread with its values, status, interrupts and error."""
    manager = manager_of(request)
    session, _ = await thread_grant(request, principal, thread_id)
    return JSONResponse(await thread_body(manager, session))


@router.patch("/threads/{thread_id}", summary="Update a thread (LangGraph)")
async def patch_thread(
    thread_id: ThreadIdPath, body: ThreadPatch, request: Request, principal: Caller
) -> Response:
    """Merge ``metadata`` into the thread's; ``ttl`` gives it a new lifetime (minutes)."""
    manager = manager_of(request)
    value = {"thread_id": id_value(thread_id), "metadata": dict(body.metadata or {})}
    session, principal = await thread_grant(request, principal, thread_id, "update", value)
    metadata = dict(stored_metadata(value, body.metadata))
    if body.metadata is not None or metadata:
        graph_id = served_graph(manager, metadata.get("graph_id"))
        if graph_id is not None:
            metadata["graph_id"] = graph_id
        session.info = await manager.update_metadata(thread_id, metadata, owner=principal.scope)
        if graph_id is not None and graph_id != session.info.graph_id:
            session.info = await manager.rebind(thread_id, graph_id=graph_id, owner=principal.scope)
    if body.ttl is not None:
        session.info = await manager.set_ttl(thread_id, _seconds(body.ttl), owner=principal.scope)
    return JSONResponse(await thread_body(manager, session))


@router.delete("/threads/{thread_id}", status_code=204, summary="Delete a thread (LangGraph)")
async def delete_thread(thread_id: ThreadIdPath, request: Request, principal: Caller) -> Response:
    """Delete the thread and everything of it; a run in progress is cancelled first."""
    manager = manager_of(request)
    _, principal = await thread_grant(request, principal, thread_id, "delete")
    try:
        deleted = await manager.delete(thread_id, owner=principal.scope)
    except InvalidInput:
        deleted = False
    if not deleted:
        raise thread_not_found(thread_id)
    return Response(status_code=204)


@router.post("/threads/{thread_id}/copy", summary="Copy a thread (LangGraph)")
async def copy_thread(thread_id: ThreadIdPath, request: Request, principal: Caller) -> Response:
    """A new thread with the metadata and every checkpoint of this one (answered, as
    LangGraph does, without ``values``)."""
    manager = manager_of(request)
    _, principal = await thread_grant(request, principal, thread_id)
    copy_id = new_id()
    await grant(request, principal, "threads", "create", {"thread_id": id_value(copy_id)})
    copied = await manager.copy(thread_id, new_id=copy_id, owner=principal.scope)
    return JSONResponse(shapes.thread(copied.info, None, with_values=False))


__all__ = ["router"]
