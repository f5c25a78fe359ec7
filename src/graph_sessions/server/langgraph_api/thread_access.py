"""The caller's threads: the one lookup every thread route uses (another owner's thread, an
expired or missing one, all answer LangGraph's 404), and a thread's JSON with its head."""

from __future__ import annotations

from typing import Any

from langgraph.types import StateSnapshot

from graph_sessions.core.manager import GraphSessionManager
from graph_sessions.core.session import GraphSession
from graph_sessions.errors import InvalidInput, SessionExpired, SessionNotFound
from graph_sessions.server.auth import Principal
from graph_sessions.server.deps import load_session
from graph_sessions.server.errors import ApiError
from graph_sessions.server.langgraph_api import shapes
from graph_sessions.server.langgraph_api.ids import graph_of_assistant


def thread_not_found(thread_id: str) -> ApiError:
    """LangGraph's 404 for a thread."""
    return ApiError(404, "not_found", f"Thread with ID {thread_id} not found")


async def owned_thread(
    manager: GraphSessionManager, thread_id: str, principal: Principal
) -> GraphSession:
    """The caller's live thread (LangGraph's 404 when absent, expired or another owner's)."""
    try:
        return await load_session(manager, thread_id, principal)
    except (SessionNotFound, SessionExpired, InvalidInput):
        raise thread_not_found(thread_id) from None


def served_graph(manager: GraphSessionManager, name: Any) -> str | None:
    """The served graph ``name`` stands for (a graph id or a system assistant id), else
    ``None``."""
    if not isinstance(name, str):
        return None
    return graph_of_assistant(name, manager.graph_ids)


async def head(manager: GraphSessionManager, session: GraphSession) -> StateSnapshot | None:
    """The thread's head snapshot; ``None`` when this server does not serve its graph."""
    if session.info.graph_id not in manager.graph_ids:
        return None
    return await session.state_snapshot()


async def thread_body(
    manager: GraphSessionManager, session: GraphSession, *, with_values: bool = True
) -> dict[str, Any]:
    """The thread's LangGraph JSON, its values and interrupts read from its head."""
    snapshot = await head(manager, session) if with_values else None
    return shapes.thread(
        session.info,
        snapshot,
        busy=manager.is_busy(session.session_id),
        with_values=with_values,
    )


__all__ = ["head", "owned_thread", "served_graph", "thread_body", "thread_not_found"]
