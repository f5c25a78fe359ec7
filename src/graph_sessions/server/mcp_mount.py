"""The MCP server on the HTTP app: streamable HTTP at ``/mcp``, behind the same
authentication as the REST routes (``X-Api-Key`` / ``Authorization: Bearer`` checked on
every HTTP request to ``/mcp``; the tools act as that owner, who sees only their sessions).

Mounted by ``create_app`` when the ``mcp`` extra is installed; its session manager runs in
the app's lifespan (after the manager opened). See docs/mcp.md.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from fastapi.security import HTTPAuthorizationCredentials
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from graph_sessions.core.manager import GraphSessionManager
from graph_sessions.mcp.caller import Caller
from graph_sessions.mcp.limits import UNLIMITED, RunLimits
from graph_sessions.server.auth import Principal, current_principal
from graph_sessions.server.errors import ApiError, error_body
from graph_sessions.server.jsonable import JSONResponse
from graph_sessions.server.middleware import replayed_body

#: where the MCP endpoint answers
MCP_PATH = "/mcp"
#: the ASGI scope key holding the authenticated caller of an ``/mcp`` request
PRINCIPAL_KEY = "graph_sessions.principal"


class McpEndpoint:
    """The ASGI endpoint of ``/mcp``: authenticate, then hand the request to the SDK's
    streamable HTTP session manager (running once :meth:`running` is entered)."""

    def __init__(self, manager: GraphSessionManager, limits: RunLimits = UNLIMITED) -> None:
        self.manager = manager
        self.limits = limits  # the server's run_timeout and metrics, as REST's runs have
        self.route: Route | None = None  # named in the access log and the metrics
        self._sessions: Any = None  # StreamableHTTPSessionManager while running

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Build the MCP server of the (open) manager and run its session manager."""
        from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

        from graph_sessions.mcp.server import build_mcp_server

        server = build_mcp_server(self.manager, caller_of=caller_of_request, limits=self.limits)
        sessions = StreamableHTTPSessionManager(app=server)
        async with sessions.run():
            self._sessions = sessions
            try:
                yield
            finally:
                self._sessions = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one HTTP request to ``/mcp``."""
        if self.route is not None:
            scope["route"] = self.route
        # The body is read once here: an auth file's handler may read it while
        # authenticating, and the SDK reads it again (from ``replay``).
        body = await Request(scope, receive).body() if scope.get("method") == "POST" else b""
        request = Request(scope, replayed_body(body, receive))
        try:
            if self._sessions is None:
                raise ApiError(503, "unavailable", "the MCP endpoint is not running")
            scope[PRINCIPAL_KEY] = await _authenticate(request)
        except ApiError as exc:
            status, payload = error_body(exc)
            await JSONResponse(payload, status_code=status, headers=exc.headers)(
                scope, receive, send
            )
            return
        # a fresh replay: the auth handler may have consumed the first one
        await self._sessions.handle_request(scope, replayed_body(body, receive), send)


async def _authenticate(request: Request) -> Principal:
    api_key = request.headers.get("x-api-key") or None
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    bearer = (
        HTTPAuthorizationCredentials(scheme=scheme, credentials=token.strip())
        if scheme.lower() == "bearer" and token.strip()
        else None
    )
    return await current_principal(request, api_key, bearer)


def caller_of_request(ctx: Any) -> Caller:
    """The MCP caller of a tool call or resource read: the principal that the endpoint
    authenticated on the HTTP request carrying it."""
    request = getattr(ctx, "request", None)
    principal = request.scope.get(PRINCIPAL_KEY) if request is not None else None
    if not isinstance(principal, Principal):
        raise PermissionError("an MCP request without an authenticated caller")
    return Caller(owner=principal.owner, scope=principal.scope)


def mount_mcp(app: FastAPI, manager: GraphSessionManager) -> McpEndpoint | None:
    """Add the ``/mcp`` route to ``app``; ``None`` (nothing mounted) without the ``mcp``
    extra. Enter the returned endpoint's :meth:`~McpEndpoint.running` in the lifespan.

    The tools' runs honour ``app.state.settings.run_timeout`` and are counted in
    ``app.state.metrics`` (set by ``create_app`` before it mounts this), as REST's are."""
    try:
        import mcp  # noqa: F401
    except ImportError:
        return None
    settings = getattr(app.state, "settings", None)
    limits = RunLimits(
        timeout=settings.run_timeout if settings is not None else None,
        meter=getattr(app.state, "metrics", None),
    )
    endpoint = McpEndpoint(manager, limits)
    endpoint.route = Route(MCP_PATH, endpoint=endpoint, methods=["GET", "POST", "DELETE"])
    app.router.routes.append(endpoint.route)
    return endpoint
