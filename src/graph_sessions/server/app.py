"""``create_app(manager, settings)``: the FastAPI application (embed it, or run it with
:func:`graph_sessions.server.runner.serve`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI

from graph_sessions.core.manager import GraphSessionManager
from graph_sessions.server.auth import Authenticator
from graph_sessions.server.errors import install_error_handlers
from graph_sessions.server.langgraph_api import background_work as lg_background_work
from graph_sessions.server.langgraph_api import router as langgraph_router
from graph_sessions.server.langgraph_api.cors import add_cors
from graph_sessions.server.langgraph_api.lg_auth import load_lg_auth
from graph_sessions.server.mcp_mount import McpEndpoint, mount_mcp
from graph_sessions.server.metrics import ServerMetrics
from graph_sessions.server.middleware import AccessLogMiddleware, BodyLimitMiddleware
from graph_sessions.server.routes import ops, runs, sessions
from graph_sessions.server.ui_mount import mount_ui
from graph_sessions.settings import ServerSettings

log = logging.getLogger("graph_sessions.server")

_DESCRIPTION = """Durable, multi-user sessions of LangGraph graphs over REST and SSE.

Every error answers with one JSON shape: `{"error": code, "message": text, "session_id": id}`.
Authenticate with `X-Api-Key: <key>` or `Authorization: Bearer <key or JWT>` when the server
has keys or a JWT verifier configured. A user sees only its own sessions (another owner's
answers 404); an admin sees all. See docs/http-api.md.
"""


def create_app(
    manager: GraphSessionManager,
    settings: ServerSettings | None = None,
    *,
    manage_manager: bool | None = None,
) -> FastAPI:
    """The HTTP application serving ``manager``.

    The app's lifespan opens the manager if it is not open yet and then closes it on
    shutdown (letting running runs finish up to ``settings.shutdown_timeout``); pass
    ``manage_manager=False`` to leave opening and closing to the caller.
    """
    settings = settings or ServerSettings()
    authenticator = Authenticator(settings)
    lg_auth = load_lg_auth(settings.auth_path) if settings.auth_path else None
    metrics = ServerMetrics(refresh_seconds=settings.metrics_cache_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.stopping = asyncio.Event()
        owns = manage_manager if manage_manager is not None else not manager.is_open
        if owns:
            await manager.open()
        watcher = asyncio.create_task(
            watch_other_writers(manager, settings.events_poll_interval),
            name="graph-sessions-events-watcher",
        )
        try:
            async with lg_background_work(app), _mcp_running(mcp_endpoint):
                yield
        finally:
            watcher.cancel()
            app.state.stopping.set()
            if owns:
                deadline = getattr(app.state, "shutdown_deadline", None)
                if deadline is not None:  # the server already spent part of the budget
                    loop = asyncio.get_running_loop()
                    manager.shutdown_timeout = max(0.0, deadline - loop.time())
                else:
                    manager.shutdown_timeout = settings.shutdown_timeout
                await manager.close()

    app = FastAPI(
        title="graph-sessions",
        version=_version(),
        description=_DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "sessions", "description": "Sessions: CRUD, search, state, history, logs"},
            {"name": "runs", "description": "Running the graph: invoke, stream, resume"},
            {"name": "ops", "description": "Health, readiness, metrics, stats, sweep"},
        ],
    )
    app.state.manager = manager
    app.state.settings = settings
    app.state.authenticator = authenticator
    app.state.lg_auth = lg_auth
    app.state.metrics = metrics
    app.state.stopping = asyncio.Event()
    install_error_handlers(app)
    app.include_router(runs.router)  # the hot routes first (routers are walked in order)
    app.include_router(sessions.router)
    app.include_router(ops.router)
    app.include_router(langgraph_router)
    _mount_graphql(app, settings)
    if settings.ui:
        mount_ui(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(AccessLogMiddleware, metrics=metrics, enabled=settings.access_log)
    add_cors(app, settings.cors)  # outermost: preflights and errors get CORS headers too
    mcp_endpoint = mount_mcp(app, manager)  # /mcp: MCP over streamable HTTP (mcp extra)
    _document_graph_ids(app, manager.graph_ids)
    return app


def _mcp_running(endpoint: McpEndpoint | None) -> AbstractAsyncContextManager[None]:
    """The MCP endpoint's session manager, for the lifespan (nothing without the extra)."""
    return endpoint.running() if endpoint is not None else contextlib.nullcontext()


async def watch_other_writers(manager: GraphSessionManager, interval: float) -> None:
    """Look every ``interval`` seconds whether another process wrote to the storage (one
    cheap query, however many tails), and wake every live event tail if so. This process's own writes wake the tails of their session directly."""
    signals = manager.backend.event_signals
    last: Any = None
    known = False  # ``last`` was read (``None`` too: an empty log is a value to change from)
    while True:
        if not manager.is_open:
            known = False
        else:
            try:
                token = await manager.backend.change_token()
            except Exception:  # storage trouble: the tails will see it when they read
                token = last
            if known and token != last and signals.watching:
                signals.notify_all()
            last, known = token, True
        await asyncio.sleep(interval)


def _mount_graphql(app: FastAPI, settings: ServerSettings) -> None:
    """GraphQL at ``/graphql`` (``graph_sessions.graphql``), when Strawberry is installed."""
    import importlib.util

    if importlib.util.find_spec("strawberry") is None:  # the ``graphql`` extra is not installed
        return
    from graph_sessions.graphql import mount_graphql

    mount_graphql(app, settings)


def _document_graph_ids(app: FastAPI, graph_ids: list[str]) -> None:
    """Make the OpenAPI document list the graph ids this server serves (an enum on the
    ``graph_id`` of the bodies that create sessions)."""
    if not graph_ids:
        return
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        models = schema.get("components", {}).get("schemas", {})
        for name in ("CreateSessionRequest", "InvokeRequest", "StreamRequest"):
            prop = models.get(name, {}).get("properties", {}).get("graph_id", {})
            for alt in prop.get("anyOf", []):
                if alt.get("type") == "string":
                    alt["enum"] = list(graph_ids)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("graph-sessions")
    except Exception:
        return "0"


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document (a dict)."""
    return app.openapi()
