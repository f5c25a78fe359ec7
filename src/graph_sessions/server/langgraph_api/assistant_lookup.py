"""Assistants as LangGraph's server shapes them, and finding the one an id names.

One **system assistant** per served graph, with LangGraph's id (``uuid5`` of the graph id
under LangGraph's namespace) and body, so the ids clients hold are the same on both servers;
it exists for as long as the graph is served (version 1, never stored). **Custom
assistants** are stored by the core (``manager.assistants``), versioned, and belong to their
creator: another owner's reads as missing. A graph id names its system assistant wherever an
assistant id is accepted (a superset: the reference takes it only in run bodies and
``/graph``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request

from graph_sessions.core.manager import GraphSessionManager
from graph_sessions.models import AssistantInfo
from graph_sessions.server.auth import Principal
from graph_sessions.server.deps import manager_of
from graph_sessions.server.errors import ApiError
from graph_sessions.server.langgraph_api.ids import graph_of_assistant, is_uuid, system_assistant_id
from graph_sessions.server.langgraph_api.lg_authz import grant, id_value


def registered_at(request: Request) -> datetime:
    """When the system assistants were registered: the first time they were asked for."""
    state = request.app.state
    started: datetime | None = getattr(state, "lg_assistants_registered_at", None)
    if started is None:
        started = manager_of(request).now()
        state.lg_assistants_registered_at = started
    return started


def system_assistant(manager: GraphSessionManager, graph_id: str, at: datetime) -> dict[str, Any]:
    """The system assistant of ``graph_id`` as LangGraph's server shapes it."""
    name = getattr(manager.graph_for(graph_id), "name", None)
    return {
        "assistant_id": system_assistant_id(graph_id),
        "graph_id": graph_id,
        "config": {},
        "context": {},
        "metadata": {"created_by": "system"},
        "name": name if name and name != "LangGraph" else graph_id,
        "created_at": at,
        "updated_at": at,
        "version": 1,
        "description": None,
    }


def custom_assistant(info: AssistantInfo) -> dict[str, Any]:
    """A stored assistant as LangGraph's server shapes it."""
    return {
        "assistant_id": info.assistant_id,
        "graph_id": info.graph_id,
        "config": info.config,
        "context": info.context,
        "metadata": info.metadata,
        "name": info.name,
        "created_at": info.created_at,
        "updated_at": info.updated_at,
        "version": info.version,
        "description": info.description,
    }


def version_of(info: AssistantInfo) -> dict[str, Any]:
    """One stored version as LangGraph lists it (``created_at``: when it was made)."""
    return {
        "assistant_id": info.assistant_id,
        "version": info.version,
        "graph_id": info.graph_id,
        "config": info.config,
        "context": info.context,
        "metadata": info.metadata,
        "created_at": info.updated_at,
        "name": info.name,
        "description": info.description,
    }


def system_graph(manager: GraphSessionManager, assistant_id: str) -> str | None:
    """The graph whose system assistant ``assistant_id`` names (a graph id names its own)."""
    return graph_of_assistant(assistant_id, manager.graph_ids)


async def resolve_assistant(
    request: Request, assistant_id: str, principal: Principal, *, for_run: bool = False
) -> dict[str, Any] | None:
    """The assistant ``assistant_id`` names for this caller (a system assistant, a graph id,
    or one of the caller's custom assistants) as LangGraph's JSON; ``None`` when none. An
    auth file's ``assistants.read`` handler decides which the caller reaches (its filter on
    the metadata; for a run, system assistants skip it, as on LangGraph's server)."""
    manager = manager_of(request)
    graph_id = system_graph(manager, assistant_id)
    if graph_id is not None and for_run:
        return system_assistant(manager, graph_id, registered_at(request))
    named = system_assistant_id(graph_id) if graph_id is not None else assistant_id
    got = await grant(request, principal, "assistants", "read", {"assistant_id": id_value(named)})
    found: dict[str, Any] | None
    if graph_id is not None:
        found = system_assistant(manager, graph_id, registered_at(request))
    else:
        info = await manager.assistants.get(assistant_id, owner=got.principal.scope)
        found = custom_assistant(info) if info is not None else None
    return found if found is not None and got.allows(found["metadata"]) else None


def bad_or_missing(assistant_id: str, missing: str = "Not Found") -> ApiError:
    """LangGraph's 422 for a malformed assistant id, else its 404 (``missing``)."""
    if not is_uuid(assistant_id):
        return ApiError(422, "validation_error", "Invalid assistant ID: must be a UUID")
    return ApiError(404, "not_found", missing)


async def assistant_or_error(
    request: Request, assistant_id: str, principal: Principal
) -> dict[str, Any]:
    """:func:`resolve_assistant`, or LangGraph's 422/404."""
    found = await resolve_assistant(request, assistant_id, principal)
    if found is None:
        raise bad_or_missing(assistant_id)
    return found


async def visible_assistants(request: Request, principal: Principal) -> list[dict[str, Any]]:
    """Every assistant the caller may see: the system ones, then the custom ones."""
    manager = manager_of(request)
    at = registered_at(request)
    out = [system_assistant(manager, g, at) for g in manager.graph_ids]
    out.extend(custom_assistant(a) for a in await manager.assistants.list(owner=principal.scope))
    return out


__all__ = [
    "assistant_or_error",
    "bad_or_missing",
    "custom_assistant",
    "registered_at",
    "resolve_assistant",
    "system_assistant",
    "system_graph",
    "version_of",
    "visible_assistants",
]
