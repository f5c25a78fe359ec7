"""A thread's state and history as LangGraph's Agent Server answers them: ``GET|POST
/threads/{id}/state``, ``GET /threads/{id}/state/{checkpoint_id}``, ``POST
/threads/{id}/state/checkpoint``, ``GET|POST /threads/{id}/history``. Reads are LangGraph's
own snapshots (through the session); writes go through the core's fenced ``update_state``.

``before`` of a history search is accepted in both forms, ``{"configurable": {...}}`` (what
LangGraph's server takes) and the bare checkpoint the SDK's ``get_history(before=...)``
sends (which LangGraph's server answers with a 500), and as a checkpoint id string."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query, Request, Response
from pydantic import Field

from graph_sessions.core.manager import GraphSessionManager
from graph_sessions.core.session import GraphSession
from graph_sessions.errors import InvalidInput
from graph_sessions.server.deps import Caller, manager_of
from graph_sessions.server.errors import ApiError
from graph_sessions.server.jsonable import JSONResponse
from graph_sessions.server.langgraph_api import shapes
from graph_sessions.server.langgraph_api.bodies import LgBody
from graph_sessions.server.langgraph_api.error_docs import detail_errors
from graph_sessions.server.langgraph_api.lg_authz import authorized_thread, thread_grant
from graph_sessions.server.langgraph_api.thread_access import served_graph
from graph_sessions.server.routing import GuardedRouter

router = GuardedRouter(tags=["langgraph: thread state"], responses=detail_errors())

ThreadIdPath = Annotated[str, Path(min_length=1, max_length=256, description="the thread id")]
CheckpointIdPath = Annotated[str, Path(min_length=1, max_length=256)]
MAX_HISTORY = 1000


class CheckpointConfig(LgBody):
    """A checkpoint as LangGraph's clients name it."""

    thread_id: str | None = Field(default=None, max_length=256)
    checkpoint_ns: str | None = Field(default=None, max_length=1024)
    checkpoint_id: str | None = Field(default=None, max_length=256)
    checkpoint_map: dict[str, Any] | None = None


class StateUpdate(LgBody):
    """``POST /threads/{id}/state``."""

    values: dict[str, Any] | list[Any] | None = None
    as_node: str | None = Field(default=None, max_length=256)
    checkpoint: CheckpointConfig | None = None
    checkpoint_id: str | None = Field(default=None, max_length=256)


class StateAtCheckpoint(LgBody):
    """``POST /threads/{id}/state/checkpoint``."""

    checkpoint: CheckpointConfig
    subgraphs: bool = False


class HistorySearch(LgBody):
    """``POST /threads/{id}/history``."""

    limit: int = Field(default=10, ge=1, le=MAX_HISTORY)
    before: dict[str, Any] | str | None = None
    metadata: dict[str, Any] | None = None
    checkpoint: CheckpointConfig | None = None


def _before_id(before: dict[str, Any] | str | None) -> str | None:
    """The checkpoint id of ``before`` in any of its forms."""
    if before is None or isinstance(before, str):
        return before or None
    conf = before.get("configurable")
    found = (conf if isinstance(conf, dict) else before).get("checkpoint_id")
    if found is not None and not isinstance(found, str):
        raise InvalidInput("before.checkpoint_id must be a string")
    return found or None


async def _snapshot_body(
    session: GraphSession,
    checkpoint_id: str | None = None,
    *,
    checkpoint_ns: str = "",
    subgraphs: bool = False,
) -> Response:
    snapshot = await session.state_snapshot(
        checkpoint_id, checkpoint_ns=checkpoint_ns, subgraphs=subgraphs
    )
    return JSONResponse(shapes.thread_state(snapshot))


def _has_graph(session: GraphSession, has_state: bool) -> bool:
    """LangGraph's rule: a thread has a graph once a run (or ``metadata.graph_id``) gave it
    one; ours also counts a session that already has state."""
    info = session.info
    return "graph_id" in info.metadata or info.run_count > 0 or has_state


@router.get("/threads/{thread_id}/state", summary="A thread's state (LangGraph)")
async def get_state(
    thread_id: ThreadIdPath,
    request: Request,
    principal: Caller,
    subgraphs: bool = False,
) -> Response:
    """The head as a ThreadState (empty values and ``checkpoint: null`` before any write)."""
    session = await authorized_thread(request, principal, thread_id)
    return await _snapshot_body(session, subgraphs=subgraphs)


@router.post("/threads/{thread_id}/state", summary="Update a thread's state (LangGraph)")
async def update_state(
    thread_id: ThreadIdPath, body: StateUpdate, request: Request, principal: Caller
) -> Response:
    """Write ``values`` as if ``as_node`` returned them (from ``checkpoint``/``checkpoint_id``
    when given: a fork); 400 when the thread has no graph yet."""
    manager: GraphSessionManager = manager_of(request)
    session, principal = await thread_grant(request, principal, thread_id, "update")
    current = await session.state_snapshot()
    if not _has_graph(session, current.created_at is not None):
        raise ApiError(
            400,
            "bad_request",
            f"Thread '{thread_id}' has no assigned graph ID. This usually occurs when no runs "
            "have been made on this particular thread. This operation requires a graph ID. "
            "Please ensure a run has been made for the thread or manually update the thread "
            "metadata (by setting the 'graph_id' field) before running this operation.",
        )
    wanted = served_graph(manager, session.info.metadata.get("graph_id"))
    if wanted is not None and wanted != session.info.graph_id:
        session.info = await manager.rebind(thread_id, graph_id=wanted, owner=principal.scope)
    if body.values is not None and not isinstance(body.values, dict):
        raise InvalidInput("values must be an object of state values (or null)")
    checkpoint_id = body.checkpoint_id or (
        body.checkpoint.checkpoint_id if body.checkpoint else None
    )
    written = await session.update_state(
        body.values, as_node=body.as_node, checkpoint_id=checkpoint_id
    )
    checkpoint = {
        "thread_id": thread_id,
        "checkpoint_ns": "",
        "checkpoint_id": written.checkpoint_id,
    }
    return JSONResponse(
        {
            "checkpoint": checkpoint,
            "configurable": dict(checkpoint),
            "checkpoint_id": written.checkpoint_id,
        }
    )


@router.post(
    "/threads/{thread_id}/state/checkpoint", summary="A thread's state at a checkpoint (LangGraph)"
)
async def post_state_at_checkpoint(
    thread_id: ThreadIdPath, body: StateAtCheckpoint, request: Request, principal: Caller
) -> Response:
    """The ThreadState at ``checkpoint`` (what the SDK's ``get_state(checkpoint=...)`` asks)."""
    session = await authorized_thread(request, principal, thread_id)
    return await _snapshot_body(
        session,
        body.checkpoint.checkpoint_id,
        checkpoint_ns=body.checkpoint.checkpoint_ns or "",
        subgraphs=body.subgraphs,
    )


@router.get(
    "/threads/{thread_id}/state/{checkpoint_id}",
    summary="A thread's state at a checkpoint (LangGraph)",
)
async def get_state_at_checkpoint(
    thread_id: ThreadIdPath,
    checkpoint_id: CheckpointIdPath,
    request: Request,
    principal: Caller,
    subgraphs: bool = False,
) -> Response:
    """The ThreadState at ``checkpoint_id``."""
    session = await authorized_thread(request, principal, thread_id)
    return await _snapshot_body(session, checkpoint_id, subgraphs=subgraphs)


async def _history(
    request: Request, principal: Caller, thread_id: str, body: HistorySearch
) -> Response:
    session = await authorized_thread(request, principal, thread_id)
    checkpoint = body.checkpoint
    snapshots = await session.state_history(
        limit=body.limit,
        before=_before_id(body.before),
        metadata=body.metadata or None,
        checkpoint_id=checkpoint.checkpoint_id if checkpoint else None,
        checkpoint_ns=(checkpoint.checkpoint_ns or "") if checkpoint else "",
    )
    return JSONResponse([shapes.thread_state(s) for s in snapshots])


@router.get("/threads/{thread_id}/history", summary="A thread's history (LangGraph)")
async def get_history(
    thread_id: ThreadIdPath,
    request: Request,
    principal: Caller,
    limit: Annotated[int, Query(ge=1, le=MAX_HISTORY)] = 10,
    before: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
) -> Response:
    """ThreadStates, newest first: at most ``limit``, older than checkpoint ``before``."""
    return await _history(request, principal, thread_id, HistorySearch(limit=limit, before=before))


@router.post("/threads/{thread_id}/history", summary="Search a thread's history (LangGraph)")
async def post_history(
    thread_id: ThreadIdPath, body: HistorySearch, request: Request, principal: Caller
) -> Response:
    """ThreadStates, newest first: ``limit``, ``before`` (either form), ``metadata`` (the
    checkpoints whose metadata contains it), ``checkpoint`` (a namespace and/or a start)."""
    return await _history(request, principal, thread_id, body)


__all__ = ["router"]
