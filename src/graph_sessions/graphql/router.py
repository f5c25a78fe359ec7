"""The ``/graphql`` route (HTTP POST/GET, GraphiQL, WebSocket with ``graphql-transport-ws``)
and :func:`mount_graphql`, the one call ``create_app`` makes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import Response
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UnsetType

from graph_sessions.graphql.context import GraphQLContext, authenticate, context_getter
from graph_sessions.graphql.errors import AuthError
from graph_sessions.graphql.schema import build_schema
from graph_sessions.jsonable import dumps
from graph_sessions.server.jsonable import JSONResponse
from graph_sessions.settings import ServerSettings

PATH = "/graphql"
#: operations one WebSocket may run at once (more are refused)
MAX_SUBSCRIPTIONS = 20
#: a WebSocket that has not sent connection_init by then is closed (4408)
INIT_TIMEOUT = timedelta(seconds=10)


class SessionsGraphQLRouter(GraphQLRouter[GraphQLContext, None]):
    """Strawberry's FastAPI router, encoding with the project's JSON (LangChain messages,
    datetimes, models) and authenticating WebSockets in ``connection_init``."""

    def encode_json(self, data: object) -> str:
        """JSON text of a response or a WebSocket message."""
        return dumps(data).decode()

    async def on_ws_connect(self, context: GraphQLContext) -> UnsetType | dict[str, object] | None:
        """Authenticate the ``connection_init`` payload (else the handshake's headers);
        close with 4403 when the credentials are wrong or missing."""
        params = context.connection_params
        values = params if isinstance(params, dict) and params else None
        try:
            principal = await authenticate(context.connection, values)
        except AuthError:
            raise ConnectionRejectionError({"code": "UNAUTHENTICATED"}) from None
        context.set_principal(principal)
        return {"owner": principal.owner, "role": principal.role}


async def _unauthenticated(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AuthError)
    code = "UNAUTHENTICATED" if exc.status == 401 else "FORBIDDEN"
    body: dict[str, Any] = {"errors": [{"message": exc.message, "extensions": {"code": code}}]}
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse(body, status_code=exc.status, headers=headers)


def mount_graphql(app: FastAPI, settings: ServerSettings) -> None:
    """Serve GraphQL at ``/graphql`` on ``app`` (GraphiQL on GET when
    ``settings.graphql_ide``; introspection per ``settings.graphql_introspection``)."""
    schema = build_schema(introspection=settings.graphql_introspection)
    router = SessionsGraphQLRouter(
        schema,
        path=PATH,
        graphql_ide="graphiql" if settings.graphql_ide else None,
        context_getter=context_getter,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        max_subscriptions_per_connection=MAX_SUBSCRIPTIONS,
        connection_init_wait_timeout=INIT_TIMEOUT,
        include_in_schema=False,
    )
    app.include_router(router)
    app.add_exception_handler(AuthError, _unauthenticated)
