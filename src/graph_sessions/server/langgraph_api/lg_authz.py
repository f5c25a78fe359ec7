"""``@auth.on`` handlers of a LangGraph auth file on the thread, run and assistant routes:
one call per route, LangGraph's mapping of routes to (resource, action).

* threads: create → ``threads.create``; get, state, history, join a stream, runs listed,
  read or joined → ``threads.read``; patch and state updates → ``threads.update``; delete
  (and a run's delete) → ``threads.delete``; search and count → ``threads.search``; copy →
  ``threads.read`` then ``threads.create``; prune → ``threads.delete``; every run created
  on a thread or stateless → ``threads.create_run`` (a run's cancel → ``threads.update``).
* assistants: create, read (get, versions, graph, schemas, subgraphs), update (patch,
  latest), delete, search (search, count).

When the auth file has a handler for the (resource, action) a route asks for, **that
handler decides**, as on LangGraph's server: the caller reaches any owner's thread or
assistant the handler lets through (its filter dict, applied to the metadata: a thread or
assistant that does not match answers 404, searches and counts leave it out). Without such
a handler our own rule holds: the caller reaches only what its identity owns. Either way
what the caller creates is owned by its identity, with the metadata the handler added.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from graph_sessions.core.session import GraphSession
from graph_sessions.errors import InvalidInput
from graph_sessions.server.auth import Principal
from graph_sessions.server.deps import manager_of
from graph_sessions.server.errors import ApiError
from graph_sessions.server.langgraph_api.ids import is_uuid
from graph_sessions.server.langgraph_api.lg_auth import (
    AuthUser,
    Filter,
    lg_auth_of,
    matches_filter,
)
from graph_sessions.server.langgraph_api.run_payloads import NOT_FOUND, RunCreate
from graph_sessions.server.langgraph_api.thread_access import owned_thread, thread_not_found


class Granted(Principal):
    """The caller acting under an auth file handler's answer: the handler's filter, not
    the owner, scopes what it reaches (``scope`` is ``None``); what it creates is still
    owned by its identity. Never an admin."""

    @property
    def scope(self) -> str | None:
        """No owner scope: the handler decided."""
        return None


@dataclass(frozen=True)
class Grant:
    """What a handler answered: the principal to act as and the filter to apply."""

    principal: Principal
    filter: Filter | None = None

    def allows(self, metadata: Mapping[str, Any] | None) -> bool:
        """Whether a resource with this metadata passes the handler's filter."""
        return matches_filter(metadata, self.filter)


def id_value(resource_id: str | None) -> Any:
    """An id as LangGraph hands it to handlers: a ``UUID`` when it is one."""
    if resource_id is not None and is_uuid(resource_id):
        return uuid.UUID(resource_id)
    return resource_id


def has_handler(request: Request, resource: str, action: str) -> bool:
    """Whether the auth file has a handler that :func:`grant` would run for this caller and
    (``resource``, ``action``): without one, :func:`grant` answers the caller's own scope
    whatever the value, so a caller may skip building it."""
    lg = lg_auth_of(request)
    if lg is None or getattr(request.state, "lg_user", None) is None:
        return False
    return lg.handler_for(resource, action) is not None


async def grant(
    request: Request, principal: Principal, resource: str, action: str, value: dict[str, Any]
) -> Grant:
    """Run the auth file's handler for (``resource``, ``action``) on ``value`` (which it may
    change in place). Without an auth file, for a caller authenticated otherwise (an API
    key), or without a handler for this action: the caller's own owner scope. A refusal
    raises its 403 (or the handler's status)."""
    lg = lg_auth_of(request)
    user: AuthUser | None = getattr(request.state, "lg_user", None)
    if lg is None or user is None or lg.handler_for(resource, action) is None:
        return Grant(principal)
    found = await lg.authorize(user, resource, action, value)
    return Grant(Granted(principal.owner, principal.role, principal.via), found)


def stored_metadata(value: Mapping[str, Any], given: dict[str, Any] | None) -> dict[str, Any]:
    """The metadata to store after a handler saw ``value`` (it may have changed or replaced
    ``value["metadata"]``)."""
    metadata = value.get("metadata", given)
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise ApiError(500, "internal_error", "the auth handler set metadata to a non-object")
    return metadata


async def thread_grant(
    request: Request,
    principal: Principal,
    thread_id: str,
    action: str = "read",
    value: dict[str, Any] | None = None,
) -> tuple[GraphSession, Principal]:
    """The thread ``thread_id`` if the handler for ``threads.<action>`` lets the caller
    reach it (404 when its filter does not match, as for a missing thread), with the
    principal to act as on it."""
    got = await grant(
        request,
        principal,
        "threads",
        action,
        value if value is not None else {"thread_id": id_value(thread_id)},
    )
    session = await owned_thread(manager_of(request), thread_id, got.principal)
    if not got.allows(session.info.metadata):
        raise thread_not_found(thread_id)
    return session, got.principal


async def authorized_thread(
    request: Request,
    principal: Principal,
    thread_id: str,
    action: str = "read",
    value: dict[str, Any] | None = None,
) -> GraphSession:
    """:func:`thread_grant`'s thread alone."""
    session, _ = await thread_grant(request, principal, thread_id, action, value)
    return session


#: the run-create fields LangGraph hands a ``create_run`` handler as ``value["kwargs"]``
_RUN_KWARGS = (
    "input",
    "command",
    "config",
    "context",
    "stream_mode",
    "interrupt_before",
    "interrupt_after",
    "webhook",
    "feedback_keys",
    "checkpoint_id",
    "checkpoint",
    "stream_subgraphs",
    "stream_resumable",
    "on_disconnect",
    "durability",
)


async def authorize_run(
    request: Request, principal: Principal, thread_id: str | None, body: RunCreate
) -> tuple[Principal, RunCreate]:
    """Run the ``threads.create_run`` handler for a run about to start on ``thread_id``
    (``None``: stateless): the principal to start it as and the body with the metadata the
    handler added (stored on the run, and on the thread when the run creates it). An
    existing thread its filter does not match answers LangGraph's 404."""
    if not has_handler(request, "threads", "create_run"):
        return principal, body
    metadata = dict(body.metadata or {})
    value: dict[str, Any] = {
        "thread_id": id_value(thread_id),
        "assistant_id": id_value(body.assistant_id),
        "run_id": None,
        "status": "pending",
        "metadata": metadata,
        "prevent_insert_if_inflight": True,
        "multitask_strategy": body.multitask_strategy or "enqueue",
        "if_not_exists": body.if_not_exists or "reject",
        "after_seconds": body.after_seconds,
        "kwargs": body.model_dump(include=set(_RUN_KWARGS), mode="json"),
    }
    got = await grant(request, principal, "threads", "create_run", value)
    if got.principal is principal:  # no handler ran
        return principal, body
    stored = stored_metadata(value, metadata)
    if stored != (body.metadata or {}):
        body = body.model_copy(update={"metadata": stored})
    if thread_id is not None and got.filter is not None:
        try:
            existing = await manager_of(request).get(thread_id)
        except InvalidInput:
            existing = None
        if existing is not None and not got.allows(existing.info.metadata):
            raise ApiError(404, "not_found", NOT_FOUND)
    return got.principal, body


__all__ = [
    "Grant",
    "Granted",
    "authorize_run",
    "authorized_thread",
    "grant",
    "has_handler",
    "id_value",
    "stored_metadata",
    "thread_grant",
]
