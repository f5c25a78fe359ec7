"""The context of every GraphQL operation: the caller (authenticated as on REST, by
``server/auth.py``), the manager, settings and metrics of the app.

HTTP requests authenticate from their headers before anything runs (401 otherwise). A
WebSocket authenticates in its ``connection_init`` payload (``{"Authorization": "Bearer
…"}``, ``{"apiKey": …}`` or ``{"X-Api-Key": …}``), else from the headers of its handshake;
wrong or missing credentials close it with 4403 before any subscription starts."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, cast

from starlette.requests import HTTPConnection, Request
from strawberry.fastapi import BaseContext

from graph_sessions.core.manager import GraphSessionManager
from graph_sessions.graphql.errors import AuthError
from graph_sessions.server.auth import Authenticator, Principal, RequestAuthenticator
from graph_sessions.server.errors import ApiError
from graph_sessions.server.metrics import ServerMetrics
from graph_sessions.settings import ServerSettings


class GraphQLContext(BaseContext):
    """What resolvers see as ``info.context``."""

    def __init__(self, connection: HTTPConnection, principal: Principal | None) -> None:
        super().__init__()
        state = connection.app.state
        self.connection = connection
        self.manager: GraphSessionManager = state.manager
        self.settings: ServerSettings = state.settings
        self.metrics: ServerMetrics = state.metrics
        self.stopping: asyncio.Event = state.stopping
        self._principal = principal

    @property
    def request_like(self) -> Request:
        """The connection, where a helper of the REST routes wants a request (it reads only
        ``.app``, which a WebSocket has too)."""
        return cast(Request, self.connection)

    @property
    def principal(self) -> Principal:
        """The authenticated caller (``AuthError`` before a WebSocket's connection_init)."""
        if self._principal is None:
            raise AuthError("authentication required")
        return self._principal

    def set_principal(self, principal: Principal) -> None:
        """Record the caller a WebSocket authenticated as."""
        self._principal = principal


def _credentials(values: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(api key, bearer token) from headers or a connection_init payload (any key case)."""
    lowered = {str(k).lower(): v for k, v in values.items()}
    api_key = lowered.get("x-api-key") or lowered.get("apikey") or lowered.get("api_key")
    bearer: str | None = None
    auth = lowered.get("authorization")
    if isinstance(auth, str):
        scheme, _, token = auth.partition(" ")
        bearer = token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return (api_key if isinstance(api_key, str) else None), bearer


async def authenticate(
    connection: HTTPConnection, values: Mapping[str, Any] | None = None
) -> Principal:
    """The caller of ``connection`` (from ``values`` when given, else its headers), as
    :func:`graph_sessions.server.auth.current_principal` decides it; ``AuthError`` when
    credentials are required and wrong."""
    auth: Authenticator = connection.app.state.authenticator
    api_key, bearer = _credentials(values if values is not None else connection.headers)
    file_auth: RequestAuthenticator | None = getattr(connection.app.state, "lg_auth", None)
    try:
        if file_auth is not None and auth.enabled:
            found = auth.by_api_key(api_key, bearer)
            if found is not None:
                return found
            if not isinstance(connection, Request):
                raise AuthError("this server authenticates WebSockets by API key only")
            return await file_auth.authenticate(connection)
        return auth.authenticate(api_key, bearer)
    except ApiError as exc:
        raise AuthError(exc.message, exc.status) from None


async def context_getter(connection: HTTPConnection) -> GraphQLContext:
    """FastAPI dependency of the GraphQL routes: the operation's context. An HTTP request is
    authenticated now (but GraphiQL's page, a GET without a query, which runs nothing); a
    WebSocket in its connection_init."""
    if connection.scope["type"] == "websocket":
        return GraphQLContext(connection, None)
    if connection.scope.get("method") == "GET" and "query" not in connection.query_params:
        return GraphQLContext(connection, None)  # GraphiQL's page: it runs nothing
    return GraphQLContext(connection, await authenticate(connection))
