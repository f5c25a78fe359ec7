"""What the route modules share: the manager, settings and metrics, the caller's sessions (the
:data:`OwnedSession` dependency), run limits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Path, Request

from graph_sessions.core.manager import GraphSessionManager
from graph_sessions.core.session import GraphSession
from graph_sessions.errors import GraphSessionError
from graph_sessions.models import SessionInfo
from graph_sessions.server.auth import Principal, current_principal
from graph_sessions.server.errors import ApiError, error_body
from graph_sessions.server.metrics import ServerMetrics
from graph_sessions.settings import ServerSettings

T = TypeVar("T")
_HIDDEN = {"lease_owner", "lease_expires_at", "lease_epoch"}

SessionIdPath = Annotated[
    str, Path(min_length=1, max_length=256, description="the session id (LangGraph thread_id)")
]
Caller = Annotated[Principal, Depends(current_principal)]


def manager_of(request: Request) -> GraphSessionManager:
    """The app's manager."""
    manager: GraphSessionManager = request.app.state.manager
    return manager


def settings_of(request: Request) -> ServerSettings:
    """The app's settings."""
    settings: ServerSettings = request.app.state.settings
    return settings


def metrics_of(request: Request) -> ServerMetrics:
    """The app's metrics."""
    metrics: ServerMetrics = request.app.state.metrics
    return metrics


async def load_session(
    manager: GraphSessionManager, session_id: str, principal: Principal
) -> GraphSession:
    """The caller's live session (404 when absent, expired or another owner's)."""
    info = await manager.info(session_id, owner=principal.scope)
    return manager.session(info)


async def session_for_run(
    manager: GraphSessionManager,
    session_id: str,
    principal: Principal,
    graph_id: str | None,
) -> GraphSession:
    """The caller's session, created on first use (owned by the caller)."""
    if principal.scope is None:  # admins (and anonymous) see every session
        session = await manager.get(session_id)
        if session is not None:
            if graph_id is not None and session.info.graph_id != graph_id:
                return await manager.get_or_create(session_id, graph_id=graph_id)  # raises
            return session
    return await manager.get_or_create(session_id, owner=principal.owner, graph_id=graph_id)


async def owned_session(
    session_id: SessionIdPath, request: Request, principal: Caller
) -> GraphSession:
    """Dependency: the caller's live session named by the path (404 when absent, expired or
    another owner's, whatever else the request holds)."""
    return await load_session(manager_of(request), session_id, principal)


OwnedSession = Annotated[GraphSession, Depends(owned_session)]


def info_dict(info: SessionInfo) -> dict[str, Any]:
    """A session row as JSON-ready data (internal fields left out)."""
    return info.model_dump(exclude=_HIDDEN)


async def run_with_limits(
    request: Request,
    kind: str,
    call: Awaitable[T],
    timeout: float | None,
    session_id: str | None = None,
) -> T:
    """Await a run under the server's run_timeout (504 ``run_timeout`` past it: the run is
    cancelled and its end recorded), recording its metrics."""
    metrics = metrics_of(request)
    start = time.perf_counter()
    metrics.active_runs.inc()
    outcome = "error"
    try:
        if timeout is not None:
            value = await asyncio.wait_for(call, timeout)
        else:
            value = await call
        outcome = getattr(value, "status", None) or "complete"
        return value
    except GraphSessionError as exc:
        outcome = exc.code
        raise
    except TimeoutError:
        outcome = "run_timeout"
        raise ApiError(
            504,
            "run_timeout",
            f"the run exceeded the server's run_timeout ({timeout} s) and was cancelled",
            session_id=session_id,
        ) from None
    finally:
        metrics.active_runs.dec()
        metrics.observe_run(kind, outcome, time.perf_counter() - start)


__all__ = [
    "Caller",
    "OwnedSession",
    "SessionIdPath",
    "error_body",
    "info_dict",
    "load_session",
    "manager_of",
    "metrics_of",
    "owned_session",
    "run_with_limits",
    "session_for_run",
    "settings_of",
]
