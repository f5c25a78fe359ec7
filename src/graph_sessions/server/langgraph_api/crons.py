"""``/runs/crons``: scheduled runs, created on a thread or stateless, searched, counted,
read, patched and deleted as LangGraph's Agent Server answers them. A cron is stored in
the backend (``Backend.create_cron`` …) with its owner; another owner's cron is 404 and
absent from searches, a cron on another owner's thread is 404. An auth file's
``@auth.on.crons.<create|read|update|delete|search>`` handlers run as on LangGraph's
server (``lg_auth.authorize``): metadata they add is stored, a filter they return scopes
what the caller sees, on top of the owner rule. The scheduler that fires
them is ``cron_scheduler.py``.

Supersets of the reference: any session id is a thread id, a graph id is accepted for
``assistant_id`` in searches and counts, and a missing ``schedule`` is a 422 (the
reference answers 500)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request, Response
from pydantic import Field, ValidationError

from graph_sessions.clock import utcnow
from graph_sessions.models import CronInfo
from graph_sessions.server.auth import Principal
from graph_sessions.server.deps import Caller, manager_of
from graph_sessions.server.errors import ApiError
from graph_sessions.server.jsonable import JSONResponse
from graph_sessions.server.langgraph_api import shapes
from graph_sessions.server.langgraph_api.bodies import LgBody
from graph_sessions.server.langgraph_api.cron_schedule import check_timezone, next_fire
from graph_sessions.server.langgraph_api.cron_scheduler import run_body
from graph_sessions.server.langgraph_api.error_docs import detail_errors
from graph_sessions.server.langgraph_api.ids import (
    graph_of_assistant,
    is_uuid,
    new_id,
    system_assistant_id,
)
from graph_sessions.server.langgraph_api.lg_auth import Filter, authorize, matches_filter
from graph_sessions.server.langgraph_api.run_launch import assistant_resolver
from graph_sessions.server.langgraph_api.run_payloads import StreamMode
from graph_sessions.server.langgraph_api.run_shapes import iso
from graph_sessions.server.langgraph_api.thread_access import owned_thread
from graph_sessions.vocabulary import Durability, MultitaskStrategy, SortOrder

router = APIRouter(tags=["langgraph: crons"], responses=detail_errors())

CronIdPath = Annotated[str, Path(min_length=1, max_length=256, description="the cron id")]
ThreadIdPath = Annotated[str, Path(min_length=1, max_length=256, description="the thread id")]

#: the fields of a cron's JSON (``select`` picks among them)
CronField = Literal[
    "cron_id",
    "assistant_id",
    "thread_id",
    "on_run_completed",
    "end_time",
    "schedule",
    "timezone",
    "created_at",
    "updated_at",
    "user_id",
    "payload",
    "next_run_date",
    "metadata",
    "enabled",
]
CronSortField = Literal[
    "cron_id", "assistant_id", "thread_id", "next_run_date", "end_time", "created_at", "updated_at"
]


class CronRunFields(LgBody):
    """What a cron's runs are started with (a run-create body without the per-call
    options), shared by create and patch."""

    input: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    webhook: str | None = Field(default=None, min_length=1, max_length=65536)
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    stream_mode: StreamMode | list[StreamMode] | None = None
    stream_subgraphs: bool | None = None
    stream_resumable: bool | None = None
    durability: Durability | None = None
    checkpoint_during: bool | None = None
    timezone: str | None = Field(default=None, max_length=256)
    end_time: str | None = Field(default=None, max_length=64)
    enabled: bool | None = None


class CronCreate(CronRunFields):
    """``POST /runs/crons`` (stateless: a new thread each fire)."""

    assistant_id: str = Field(min_length=1, max_length=256)
    schedule: str = Field(min_length=1, max_length=256)
    on_run_completed: Literal["delete", "keep"] | None = None


class ThreadCronCreate(CronRunFields):
    """``POST /threads/{thread_id}/runs/crons`` (every fire runs on the thread)."""

    assistant_id: str = Field(min_length=1, max_length=256)
    schedule: str = Field(min_length=1, max_length=256)
    multitask_strategy: MultitaskStrategy | None = None


class CronPatch(CronRunFields):
    """``PATCH /runs/crons/{cron_id}``: ``end_time: null`` clears the end time, an absent
    key leaves it; ``metadata`` is merged into the cron's."""

    schedule: str | None = Field(default=None, min_length=1, max_length=256)
    on_run_completed: Literal["delete", "keep"] | None = None


class CronSearch(LgBody):
    """``POST /runs/crons/search``."""

    assistant_id: str | None = Field(default=None, max_length=256)
    thread_id: str | None = Field(default=None, max_length=256)
    enabled: bool | None = None
    metadata: dict[str, Any] | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
    sort_by: CronSortField = "created_at"
    sort_order: SortOrder = "desc"
    select: list[CronField] | None = Field(default=None, max_length=20)


class CronCount(LgBody):
    """``POST /runs/crons/count``."""

    assistant_id: str | None = Field(default=None, max_length=256)
    thread_id: str | None = Field(default=None, max_length=256)
    metadata: dict[str, Any] | None = None


# ------------------------------------------------------------------------------ helpers
def cron_json(cron: CronInfo) -> dict[str, Any]:
    """A cron as LangGraph's server shows it (``user_id`` the owner, ``""`` without one)."""
    return {
        "cron_id": cron.cron_id,
        "assistant_id": cron.assistant_id,
        "thread_id": cron.thread_id,
        "user_id": cron.owner or "",
        "end_time": iso(cron.end_time) if cron.end_time else None,
        "schedule": cron.schedule,
        "timezone": cron.timezone,
        "payload": cron.payload,
        "next_run_date": iso(cron.next_run_date),
        "metadata": cron.metadata,
        "on_run_completed": cron.on_run_completed,
        "enabled": cron.enabled,
        "created_at": iso(cron.created_at),
        "updated_at": iso(cron.updated_at),
    }


def _end_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        found = datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(422, "validation_error", f"Invalid end_time: '{text}'") from None
    return found if found.tzinfo is not None else found.replace(tzinfo=UTC)


def _visible(cron: CronInfo | None, principal: Principal, filters: Filter | None = None) -> bool:
    """Whether the caller may see ``cron``: its owner (or an admin), and passing the auth
    file's filter for the action (``lg_auth.authorize``)."""
    return (
        cron is not None
        and (principal.scope is None or cron.owner == principal.scope)
        and matches_filter(cron.metadata, filters)
    )


async def _owned_cron(
    request: Request, principal: Principal, cron_id: str, action: str, missing: str
) -> CronInfo:
    """The caller's cron for ``action`` (the auth file's ``@auth.on.crons.<action>`` runs
    first); 404 ``missing`` when absent, another owner's or filtered out."""
    _cron_id(cron_id)
    filters = await authorize(request, "crons", action, {"cron_id": cron_id})
    cron = await manager_of(request).backend.get_cron(cron_id)
    if cron is None or not _visible(cron, principal, filters):
        raise ApiError(404, "not_found", missing)
    return cron


async def _assistant_uuid(request: Request, principal: Principal, assistant_id: str) -> str:
    """The assistant's UUID (a system assistant's for a graph id); 404 when unknown."""
    manager = manager_of(request)
    graph_id = graph_of_assistant(assistant_id, manager.graph_ids)
    if graph_id is not None:
        return system_assistant_id(graph_id)
    found = await assistant_resolver(request, principal)(assistant_id)
    if found is None or found.graph_id not in manager.graph_ids:
        raise ApiError(404, "not_found", f"Assistant '{assistant_id}' not found")
    return found.assistant_id


def _search_assistant(request: Request, assistant_id: str | None) -> str | None:
    """A search's ``assistant_id`` filter: a UUID, or a graph id (our superset)."""
    if assistant_id is None:
        return None
    graph_id = graph_of_assistant(assistant_id, manager_of(request).graph_ids)
    if graph_id is not None:
        return system_assistant_id(graph_id)
    if not is_uuid(assistant_id):
        raise ApiError(422, "validation_error", "Invalid assistant ID: must be a UUID")
    return assistant_id


async def _matching(
    request: Request,
    principal: Principal,
    assistant_id: str | None,
    thread_id: str | None,
    metadata: dict[str, Any] | None,
    enabled: bool | None = None,
    page: tuple[int, int] | None = None,
) -> list[CronInfo]:
    wanted = _search_assistant(request, assistant_id)
    value: dict[str, Any] = {"assistant_id": wanted, "thread_id": thread_id}
    if page is not None:
        value["limit"], value["offset"] = page
    filters = await authorize(request, "crons", "search", value)
    rows = await manager_of(request).backend.list_crons(owner=principal.scope, thread_id=thread_id)
    return [
        c
        for c in rows
        if (wanted is None or c.assistant_id == wanted)
        and (enabled is None or c.enabled == enabled)
        and all(c.metadata.get(k) == v for k, v in (metadata or {}).items())
        and matches_filter(c.metadata, filters)
    ]


async def _create(
    request: Request,
    principal: Principal,
    body: CronCreate | ThreadCronCreate,
    thread_id: str | None,
) -> Response:
    cron_id = new_id()
    payload = body.model_dump(mode="json", exclude_unset=True)
    value: dict[str, Any] = {
        "payload": payload,
        "schedule": body.schedule,
        "cron_id": cron_id,
        "thread_id": thread_id,
        "user_id": principal.owner,
        "end_time": body.end_time,
        "metadata": dict(body.metadata or {}),
    }
    await authorize(request, "crons", "create", value)  # may add metadata
    metadata = value.get("metadata")
    timezone = check_timezone(body.timezone)
    now = utcnow()
    next_run = next_fire(body.schedule, now, timezone)  # 422 on a bad schedule
    end_time = _end_time(body.end_time)
    assistant_id = await _assistant_uuid(request, principal, body.assistant_id)
    manager = manager_of(request)
    if thread_id is not None:
        try:
            await owned_thread(manager, thread_id, principal)
        except ApiError:
            raise ApiError(
                404,
                "not_found",
                f"Thread with ID '{thread_id}' not found. Please verify the ID is correct "
                "and the thread hasn't been deleted or expired.",
            ) from None
    payload["assistant_id"] = assistant_id
    config = dict(payload.get("config") or {})
    config["configurable"] = {**(config.get("configurable") or {}), "cron_id": cron_id}
    payload["config"] = config
    on_completed = None
    if isinstance(body, CronCreate):
        on_completed = body.on_run_completed or "delete"
    cron = CronInfo(
        cron_id=cron_id,
        assistant_id=assistant_id,
        thread_id=thread_id,
        owner=principal.owner,
        schedule=body.schedule,
        timezone=timezone,
        end_time=end_time,
        payload=payload,
        metadata=metadata if isinstance(metadata, dict) else {},
        on_run_completed=on_completed,
        enabled=True if body.enabled is None else body.enabled,
        next_run_date=next_run,
        created_at=now,
        updated_at=now,
    )
    try:
        run_body(cron)  # what each fire will launch must be a valid run-create body
    except ValidationError as exc:
        raise ApiError(422, "validation_error", str(exc)) from None
    await manager.backend.create_cron(cron)
    return JSONResponse(cron_json(cron))


def _cron_id(cron_id: str) -> str:
    if not is_uuid(cron_id):
        raise ApiError(422, "validation_error", "Invalid cron ID: must be a UUID")
    return cron_id


# ------------------------------------------------------------------------------- routes
@router.post("/threads/{thread_id}/runs/crons", summary="Create a cron on a thread (LangGraph)")
async def create_thread_cron(
    thread_id: ThreadIdPath, body: ThreadCronCreate, request: Request, principal: Caller
) -> Response:
    """A cron whose every fire starts a run on the thread (``multitask_strategy`` as a
    run's, default ``enqueue``). Bad schedule or timezone 422; unknown assistant or
    another owner's thread 404."""
    return await _create(request, principal, body, thread_id)


@router.post("/runs/crons", summary="Create a stateless cron (LangGraph)")
async def create_cron(body: CronCreate, request: Request, principal: Caller) -> Response:
    """A cron whose every fire starts a run on a new thread, deleted after the run
    (``on_run_completed: delete``, the default) or kept (``keep``)."""
    return await _create(request, principal, body, None)


@router.post("/runs/crons/search", summary="Search crons (LangGraph)")
async def search_crons(body: CronSearch, request: Request, principal: Caller) -> Response:
    """The caller's crons matching ``assistant_id``, ``thread_id``, ``enabled`` and
    ``metadata``, sorted and paged with LangGraph's ``X-Pagination-*`` headers."""
    rows = await _matching(
        request,
        principal,
        body.assistant_id,
        body.thread_id,
        body.metadata,
        body.enabled,
        (body.limit, body.offset),
    )
    items = [cron_json(c) for c in rows]
    key = body.sort_by
    present = [i for i in items if i.get(key) is not None]
    absent = [i for i in items if i.get(key) is None]
    present.sort(key=lambda i: (i[key], i["cron_id"]), reverse=body.sort_order == "desc")
    ordered = present + absent
    page = ordered[body.offset : body.offset + body.limit]
    more = len(ordered) > body.offset + body.limit
    out = [shapes.select(i, list(body.select)) for i in page] if body.select else page
    headers = shapes.pagination_headers(body.offset, body.limit, len(out), more)
    return JSONResponse(out, headers=headers)


@router.post("/runs/crons/count", summary="Count crons (LangGraph)")
async def count_crons(body: CronCount, request: Request, principal: Caller) -> Response:
    """How many of the caller's crons match: a bare integer."""
    rows = await _matching(request, principal, body.assistant_id, body.thread_id, body.metadata)
    return JSONResponse(len(rows))


@router.get("/runs/crons/{cron_id}", summary="Get a cron (LangGraph)")
async def get_cron(cron_id: CronIdPath, request: Request, principal: Caller) -> Response:
    """The cron; 404 ``Not Found`` when absent or another owner's."""
    cron = await _owned_cron(request, principal, cron_id, "read", "Not Found")
    return JSONResponse(cron_json(cron))


@router.patch("/runs/crons/{cron_id}", summary="Update a cron (LangGraph)")
async def patch_cron(
    cron_id: CronIdPath, body: CronPatch, request: Request, principal: Caller
) -> Response:
    """Change the schedule (the next fire time is recomputed from now), timezone,
    ``end_time`` (``null`` clears it), ``enabled``, ``on_run_completed``, ``metadata``
    (merged) and what its runs are started with (merged into ``payload``). An empty body
    is 400, as LangGraph's."""
    _cron_id(cron_id)
    fields = body.model_dump(mode="json", exclude_unset=True)
    if not fields:
        raise ApiError(400, "bad_request", "Request body cannot be empty")
    timezone = check_timezone(body.timezone)
    backend = manager_of(request).backend
    cron = await _owned_cron(request, principal, cron_id, "update", f"Cron '{cron_id}' not found")
    now = utcnow()
    changes: dict[str, Any] = {"updated_at": now}
    if timezone is not None:
        changes["timezone"] = timezone
    if body.schedule is not None or timezone is not None:
        schedule = body.schedule or cron.schedule
        changes["schedule"] = schedule
        changes["next_run_date"] = next_fire(schedule, now, timezone or cron.timezone)
    if "end_time" in fields:
        changes["end_time"] = _end_time(body.end_time)
    if body.enabled is not None:
        changes["enabled"] = body.enabled
    if body.on_run_completed is not None:
        changes["on_run_completed"] = body.on_run_completed
    if body.metadata is not None:
        changes["metadata"] = {**cron.metadata, **body.metadata}
    payload = {**cron.payload, **fields}
    payload["assistant_id"] = cron.payload.get("assistant_id", cron.assistant_id)
    config = dict(payload.get("config") or {})
    config["configurable"] = {**(config.get("configurable") or {}), "cron_id": cron_id}
    payload["config"] = config
    changes["payload"] = payload
    updated = cron.model_copy(update=changes)
    if not await backend.update_cron(updated):  # deleted meanwhile
        raise ApiError(404, "not_found", f"Cron '{cron_id}' not found")
    return JSONResponse(cron_json(updated))


@router.delete("/runs/crons/{cron_id}", status_code=204, summary="Delete a cron (LangGraph)")
async def delete_cron(cron_id: CronIdPath, request: Request, principal: Caller) -> Response:
    """Delete the cron (runs it already started go on); 404 ``Not Found`` when absent or
    another owner's."""
    await _owned_cron(request, principal, cron_id, "delete", "Not Found")
    if not await manager_of(request).backend.delete_cron(cron_id):  # deleted meanwhile
        raise ApiError(404, "not_found", "Not Found")
    return Response(status_code=204)


__all__ = ["CronCreate", "CronPatch", "CronSearch", "ThreadCronCreate", "cron_json", "router"]
