"""Operations: liveness, readiness, Prometheus metrics, stats, the sweep, the graphs served."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import Depends, Request, Response

from graph_sessions.models import SessionStatus
from graph_sessions.server.auth import (
    Principal,
    api_key_header,
    bearer_header,
    current_principal,
    require_admin,
)
from graph_sessions.server.deps import Caller, manager_of, metrics_of, settings_of
from graph_sessions.server.errors import ApiError, error_responses
from graph_sessions.server.jsonable import JSONResponse
from graph_sessions.server.routing import GuardedRouter
from graph_sessions.server.schemas import GraphOut, GraphsOut, HealthOut, StatsOut, SweepOut

router = GuardedRouter(tags=["ops"])
#: seconds /readyz waits for the storage before answering 503 (a probe must not hang while
#: the database is away)
READY_TIMEOUT = 2.0
Admin = Annotated[Principal, Depends(require_admin)]


@router.get("/healthz", response_model=HealthOut, summary="Liveness")
async def healthz() -> Response:
    """200 while the process serves requests (no storage access, no authentication)."""
    return JSONResponse({"status": "ok"})


@router.get(
    "/readyz",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "storage unreachable or shutting down"}},
    summary="Readiness",
)
async def readyz(request: Request) -> Response:
    """200 when the storage answers and takes writes; 503 (``detail`` says why) while
    starting, shutting down, or when it does not (unreachable, read-only file…)."""
    manager = manager_of(request)
    if request.app.state.stopping.is_set():
        return JSONResponse(
            {"status": "unavailable", "storage": False, "detail": "shutting down"},
            status_code=503,
        )
    try:
        problem = await asyncio.wait_for(manager.unready_reason(), READY_TIMEOUT)
    except TimeoutError:
        problem = f"storage does not answer within {READY_TIMEOUT:g} s"
    if problem is not None:
        return JSONResponse(
            {"status": "unavailable", "storage": False, "detail": problem}, status_code=503
        )
    return JSONResponse({"status": "ok", "storage": True})


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    summary="Prometheus metrics",
)
async def metrics(request: Request) -> Response:
    """Prometheus exposition: HTTP requests and durations, runs by kind and outcome, run
    durations, active runs, errors by code (counted as they happen), sessions by status
    (counted at most every ``metrics_cache_seconds``). Open unless ``metrics_auth`` is set,
    then any valid credential (401 otherwise)."""
    if settings_of(request).metrics_auth:
        # Read here, not as route dependencies: the OpenAPI document keeps /metrics open,
        # as it is by default.
        api_key = await api_key_header(request)
        bearer = await bearer_header(request)
        await current_principal(request, api_key, bearer)
    m = metrics_of(request)
    return Response(await m.render(manager_of(request)), media_type=m.content_type)


@router.get(
    "/graphs", response_model=GraphsOut, responses=error_responses(401), summary="Graphs served"
)
async def graphs(request: Request, principal: Caller) -> Response:
    """The graph ids sessions can be created for, the default first."""
    manager = manager_of(request)
    return JSONResponse({"graphs": manager.graph_ids, "default": manager.graph_id})


@router.get(
    "/graphs/{graph_id}",
    response_model=GraphOut,
    responses=error_responses(401, 404),
    summary="A graph's nodes and edges",
)
async def graph_shape(graph_id: str, request: Request, principal: Caller) -> Response:
    """The nodes and edges of a served graph (from its compiled ``get_graph()``), to draw
    it; ``conditional`` marks the edges a routing function picks. 404 for a graph id this
    server does not serve."""
    manager = manager_of(request)
    if graph_id not in manager.graph_ids:
        raise ApiError(
            404,
            "graph_not_found",
            f"no graph {graph_id!r} here (graphs: {', '.join(manager.graph_ids)})",
        )
    drawing = manager.graph_for(graph_id).get_graph()
    return JSONResponse(
        {
            "graph_id": graph_id,
            "nodes": [{"id": n.id, "name": n.name} for n in drawing.nodes.values()],
            "edges": [
                {"source": e.source, "target": e.target, "conditional": bool(e.conditional)}
                for e in drawing.edges
            ],
        }
    )


@router.get(
    "/stats", response_model=StatsOut, responses=error_responses(401), summary="Session totals"
)
async def stats(request: Request, principal: Caller) -> Response:
    """Totals by status over the sessions the caller can see: every session for admins
    (``scope: all``), the caller's own for users (``scope: owner``)."""
    manager = manager_of(request)
    if principal.scope is None:
        s = await manager.stats()
        out: dict[str, Any] = {"scope": "all", **s.model_dump()}
        return JSONResponse(out)
    owner = principal.scope
    by_status: dict[str, int] = {}
    for status in SessionStatus:
        if status == SessionStatus.EXPIRED:
            continue
        n = await manager.count(status, owner=owner)
        if n:
            by_status[status.value] = n
    total = sum(by_status.values())
    with_expired = await manager.count(owner=owner, include_expired=True)
    return JSONResponse(
        {
            "scope": "owner",
            "total": total,
            "by_status": by_status,
            "expired": max(0, with_expired - total),
        }
    )


@router.post(
    "/admin/sweep",
    response_model=SweepOut,
    responses=error_responses(401, 403),
    summary="Expire sessions now (admin)",
)
async def sweep(request: Request, principal: Admin) -> Response:
    """Run the TTL sweeper once now: every session whose TTL has passed is deleted or
    archived (as ``on_expire`` says). Admins only."""
    report = await manager_of(request).sweep()
    return JSONResponse(
        {
            "deleted": report.deleted,
            "archived": report.archived,
            "skipped_running": report.skipped_running,
            "batches": report.batches,
            "expired": report.expired,
        }
    )
