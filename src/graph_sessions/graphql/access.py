"""The caller's sessions, as the REST routes find them (``server/deps.py``): another
owner's session does not exist."""

from __future__ import annotations

from typing import Any

from strawberry.types import Info

from graph_sessions.core.session import GraphSession
from graph_sessions.graphql.context import GraphQLContext
from graph_sessions.server.deps import load_session


def ctx(info: Info[Any, Any]) -> GraphQLContext:
    """The operation's context."""
    context: GraphQLContext = info.context
    return context


async def owned(info: Info[Any, Any], session_id: str) -> GraphSession:
    """The caller's live session (``NOT_FOUND`` when absent, expired or another owner's)."""
    c = ctx(info)
    return await load_session(c.manager, session_id, c.principal)
