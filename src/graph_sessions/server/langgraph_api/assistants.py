"""``/assistants`` as LangGraph's Agent Server answers them: create (``if_exists``), get,
patch (a new version), delete, search, count, versions, latest, graph (``xray``), schemas,
subgraphs. What the ids name is in :mod:`assistant_lookup`: a system assistant per served
graph (LangGraph's id and body; it cannot be changed or deleted here: 400) and the caller's
custom assistants, stored and versioned by the core.

LangGraph's rules kept: ``config.configurable`` and ``context`` mirror each other (sending
both is 400); ``PATCH`` merges ``metadata`` and replaces the rest; ``if_exists:
do_nothing`` answers the existing assistant unchanged."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path, Query, Request, Response
from pydantic import Field

from graph_sessions.core.manager import GraphSessionManager
from graph_sessions.server.auth import Principal
from graph_sessions.server.deps import Caller, manager_of
from graph_sessions.server.errors import ApiError
from graph_sessions.server.jsonable import JSONResponse
from graph_sessions.server.langgraph_api import graph_schemas
from graph_sessions.server.langgraph_api.assistant_lookup import (
    assistant_or_error,
    bad_or_missing,
    custom_assistant,
    system_graph,
    version_of,
    visible_assistants,
)
from graph_sessions.server.langgraph_api.bodies import LgBody
from graph_sessions.server.langgraph_api.error_docs import detail_errors
from graph_sessions.server.langgraph_api.lg_authz import grant, id_value, stored_metadata
from graph_sessions.server.langgraph_api.shapes import pagination_headers, select
from graph_sessions.server.routing import GuardedRouter
from graph_sessions.vocabulary import SortOrder

router = GuardedRouter(tags=["langgraph: assistants"], responses=detail_errors())

AssistantIdPath = Annotated[
    str, Path(min_length=1, max_length=256, description="an assistant id, or a graph id")
]
AssistantField = Literal[
    "assistant_id",
    "graph_id",
    "name",
    "description",
    "config",
    "context",
    "created_at",
    "updated_at",
    "metadata",
    "version",
]
BOTH = (
    "Cannot specify both configurable and context. Prefer setting context alone. Context was "
    "introduced in LangGraph 0.6.0 and is the long term planned replacement for configurable."
)
SYSTEM_FIXED = "system assistants cannot be changed or deleted; create an assistant of the graph"


class AssistantCount(LgBody):
    """``POST /assistants/count``."""

    metadata: dict[str, Any] | None = None
    graph_id: str | None = Field(default=None, max_length=256)
    name: str | None = Field(default=None, max_length=1024)


class AssistantSearch(AssistantCount):
    """``POST /assistants/search``."""

    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10**9)
    sort_by: Literal["assistant_id", "created_at", "updated_at", "name", "graph_id"] | None = None
    sort_order: SortOrder | None = None
    select: list[AssistantField] | None = Field(default=None, max_length=20)


class VersionSearch(LgBody):
    """``POST /assistants/{id}/versions``."""

    metadata: dict[str, Any] | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10**9)


class SetLatest(LgBody):
    """``POST /assistants/{id}/latest``."""

    version: int = Field(ge=1, le=2**31)


class AssistantPatch(LgBody):
    """``PATCH /assistants/{id}``."""

    graph_id: str | None = Field(default=None, min_length=1, max_length=256)
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    name: str | None = Field(default=None, max_length=1024)
    description: str | None = Field(default=None, max_length=10_000)


class AssistantCreate(AssistantPatch):
    """``POST /assistants``."""

    graph_id: str = Field(min_length=1, max_length=256)
    assistant_id: str | None = Field(default=None, min_length=1, max_length=256)
    if_exists: Literal["raise", "do_nothing"] = "raise"


def _check_graph(manager: GraphSessionManager, graph_id: str | None) -> None:
    if graph_id is not None and graph_id not in manager.graph_ids:
        raise ApiError(
            404,
            "not_found",
            f"Graph '{graph_id}' not found. Expected one of: {sorted(manager.graph_ids)}",
        )


def _config_context(
    config: dict[str, Any] | None, context: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """LangGraph's rule: ``config.configurable`` and ``context`` mirror each other."""
    configurable = (config or {}).get("configurable")
    if configurable and context:
        raise ApiError(400, "bad_request", BOTH)
    if configurable is not None and not isinstance(configurable, dict):
        raise ApiError(422, "validation_error", "config.configurable must be an object")
    if context is not None and not configurable:
        return {**(config or {}), "configurable": dict(context)}, context
    if configurable is not None:
        return config, dict(configurable)
    return config, context


def _contains(have: Any, want: Any) -> bool:
    if isinstance(want, dict):
        return isinstance(have, dict) and all(
            k in have and _contains(have[k], v) for k, v in want.items()
        )
    return bool(have == want)


async def _matching(
    request: Request, principal: Caller, body: AssistantCount
) -> list[dict[str, Any]]:
    value = {
        "graph_id": body.graph_id,
        "metadata": dict(body.metadata or {}),
        "limit": body.limit if isinstance(body, AssistantSearch) else 0,
        "offset": body.offset if isinstance(body, AssistantSearch) else 0,
    }
    got = await grant(request, principal, "assistants", "search", value)
    out = []
    for item in await visible_assistants(request, got.principal):
        if not got.allows(item["metadata"]):
            continue
        if body.graph_id is not None and item["graph_id"] != body.graph_id:
            continue
        if body.name is not None and body.name.lower() not in str(item["name"]).lower():
            continue
        if body.metadata and not _contains(item["metadata"], body.metadata):
            continue
        out.append(item)
    return out


async def _granted(
    request: Request, principal: Principal, assistant_id: str, action: str, value: dict[str, Any]
) -> Principal:
    """The auth file's ``assistants.<action>`` answer for a stored assistant: the principal
    to act as (404 when its filter does not match the assistant)."""
    got = await grant(request, principal, "assistants", action, value)
    if got.filter is not None:
        info = await manager_of(request).assistants.get(assistant_id, owner=got.principal.scope)
        if info is None or not got.allows(info.metadata):
            raise bad_or_missing(assistant_id, f"Assistant with ID {assistant_id} not found")
    return got.principal


@router.post("/assistants", summary="Create an assistant (LangGraph)")
async def create_assistant(body: AssistantCreate, request: Request, principal: Caller) -> Response:
    """A new assistant of a served graph (version 1, ``name`` "Untitled" by default); an
    id already taken is 409, or answered unchanged with ``if_exists: do_nothing``."""
    manager = manager_of(request)
    _check_graph(manager, body.graph_id)
    config, context = _config_context(body.config, body.context)
    metadata = dict(body.metadata or {})
    value = {
        "assistant_id": id_value(body.assistant_id),
        "graph_id": body.graph_id,
        "config": config,
        "context": context,
        "metadata": metadata,
        "name": body.name,
    }
    principal = (await grant(request, principal, "assistants", "create", value)).principal
    taken = f"Assistant {body.assistant_id} already exists"
    if body.assistant_id is not None and system_graph(manager, body.assistant_id) is not None:
        if body.if_exists == "do_nothing":
            return JSONResponse(await assistant_or_error(request, body.assistant_id, principal))
        raise ApiError(409, "conflict", taken)
    made = await manager.assistants.create(
        body.graph_id,
        assistant_id=body.assistant_id,
        owner=principal.owner,
        name=body.name,
        description=body.description,
        config=config,
        context=context,
        metadata=stored_metadata(value, metadata),
    )
    if made is not None:
        return JSONResponse(custom_assistant(made))
    if body.if_exists == "do_nothing" and body.assistant_id is not None:
        found = await manager.assistants.get(body.assistant_id, owner=principal.scope)
        if found is not None:
            return JSONResponse(custom_assistant(found))
    raise ApiError(409, "conflict", taken)


@router.post("/assistants/search", summary="Search assistants (LangGraph)")
async def search_assistants(body: AssistantSearch, request: Request, principal: Caller) -> Response:
    """Assistants matching ``graph_id``, ``metadata`` (contained) and ``name`` (a
    case-insensitive substring), newest first unless sorted, paged with LangGraph's
    pagination headers."""
    items = await _matching(request, principal, body)
    field = body.sort_by or "created_at"
    descending = body.sort_order != "asc"
    if field in ("name", "graph_id"):
        items.sort(key=lambda a: str(a[field] or "").lower(), reverse=descending)
    else:
        items.sort(key=lambda a: a[field], reverse=descending)
    end = body.offset + body.limit
    page = items[body.offset : end]
    headers = pagination_headers(body.offset, body.limit, len(page), len(items) > end)
    fields: list[str] | None = list(body.select) if body.select else None
    return JSONResponse([select(a, fields) for a in page], headers=headers)


@router.post("/assistants/count", summary="Count assistants (LangGraph)")
async def count_assistants(body: AssistantCount, request: Request, principal: Caller) -> Response:
    """How many assistants match: a bare integer."""
    return JSONResponse(len(await _matching(request, principal, body)))


@router.get("/assistants/{assistant_id}", summary="Get an assistant (LangGraph)")
async def get_assistant(
    assistant_id: AssistantIdPath, request: Request, principal: Caller
) -> Response:
    """The assistant at its current version (a graph id names its system assistant)."""
    return JSONResponse(await assistant_or_error(request, assistant_id, principal))


@router.patch("/assistants/{assistant_id}", summary="Update an assistant (LangGraph)")
async def patch_assistant(
    assistant_id: AssistantIdPath, body: AssistantPatch, request: Request, principal: Caller
) -> Response:
    """A new version (made current): ``metadata`` merged, the other fields given replaced."""
    manager = manager_of(request)
    if system_graph(manager, assistant_id) is not None:
        raise ApiError(400, "bad_request", SYSTEM_FIXED)
    _check_graph(manager, body.graph_id)
    config, context = _config_context(body.config, body.context)
    value = {
        "assistant_id": id_value(assistant_id),
        "graph_id": body.graph_id,
        "config": config,
        "context": context,
        "metadata": body.metadata,
        "name": body.name,
    }
    principal = await _granted(request, principal, assistant_id, "update", value)
    updated = await manager.assistants.update(
        assistant_id,
        owner=principal.scope,
        graph_id=body.graph_id,
        name=body.name,
        description=body.description,
        config=config,
        context=context,
        metadata=value.get("metadata", body.metadata),
    )
    if updated is None:
        raise bad_or_missing(assistant_id, f"Assistant with ID {assistant_id} not found")
    return JSONResponse(custom_assistant(updated))


@router.delete(
    "/assistants/{assistant_id}", status_code=204, summary="Delete an assistant (LangGraph)"
)
async def delete_assistant(
    assistant_id: AssistantIdPath, request: Request, principal: Caller
) -> Response:
    """Delete the assistant and every version of it (system assistants stay: 400)."""
    manager = manager_of(request)
    if system_graph(manager, assistant_id) is not None:
        raise ApiError(400, "bad_request", SYSTEM_FIXED)
    value = {"assistant_id": id_value(assistant_id)}
    principal = await _granted(request, principal, assistant_id, "delete", value)
    if not await manager.assistants.delete(assistant_id, owner=principal.scope):
        raise bad_or_missing(assistant_id, f"Assistant with ID {assistant_id} not found")
    return Response(status_code=204)


@router.post("/assistants/{assistant_id}/versions", summary="An assistant's versions (LangGraph)")
async def list_versions(
    assistant_id: AssistantIdPath, body: VersionSearch, request: Request, principal: Caller
) -> Response:
    """The versions whose metadata contains ``metadata``, newest first (a system assistant
    has one: version 1)."""
    manager = manager_of(request)
    current = await assistant_or_error(request, assistant_id, principal)
    if system_graph(manager, assistant_id) is not None:
        versions = [{k: v for k, v in current.items() if k != "updated_at"}]
    else:
        stored = await manager.assistants.versions(assistant_id, owner=principal.scope)
        versions = [version_of(v) for v in stored]
    if body.metadata:
        versions = [v for v in versions if _contains(v["metadata"], body.metadata)]
    return JSONResponse(versions[body.offset : body.offset + body.limit])


@router.post("/assistants/{assistant_id}/latest", summary="Set an assistant's version (LangGraph)")
async def set_latest(
    assistant_id: AssistantIdPath, body: SetLatest, request: Request, principal: Caller
) -> Response:
    """Make stored ``version`` the current one (a system assistant only has version 1)."""
    manager = manager_of(request)
    if system_graph(manager, assistant_id) is None:
        value = {"assistant_id": id_value(assistant_id), "version": body.version}
        principal = await _granted(request, principal, assistant_id, "update", value)
    current = await assistant_or_error(request, assistant_id, principal)
    missing = ApiError(
        404,
        "not_found",
        f"Version {body.version} not found for assistant {current['assistant_id']}",
    )
    if system_graph(manager, assistant_id) is not None:
        if body.version != 1:
            raise missing
        return JSONResponse(current)
    found = await manager.assistants.set_version(assistant_id, body.version, owner=principal.scope)
    if found is None:
        raise missing
    return JSONResponse(custom_assistant(found))


async def _graph_id(request: Request, assistant_id: str, principal: Caller) -> str:
    found = await assistant_or_error(request, assistant_id, principal)
    graph_id: str = found["graph_id"]
    _check_graph(manager_of(request), graph_id)
    return graph_id


def _xray(value: str | None) -> bool | int:
    if value is None or value in ("false", "False", ""):
        return False
    if value in ("true", "True"):
        return True
    try:
        depth = int(value)
    except ValueError:
        raise ApiError(422, "validation_error", "Invalid xray value") from None
    if depth <= 0:
        raise ApiError(422, "validation_error", "Invalid xray value")
    return depth


@router.get("/assistants/{assistant_id}/graph", summary="An assistant's graph (LangGraph)")
async def get_graph(
    assistant_id: AssistantIdPath,
    request: Request,
    principal: Caller,
    xray: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    """The drawable graph ``{nodes, edges}``; ``xray`` (true or a depth) expands subgraphs."""
    depth = _xray(xray)
    graph = manager_of(request).graph_for(await _graph_id(request, assistant_id, principal))
    try:
        return JSONResponse(await graph_schemas.drawable_graph(graph, depth))
    except NotImplementedError:
        raise ApiError(
            422, "validation_error", "The graph does not support visualization"
        ) from None


@router.get("/assistants/{assistant_id}/schemas", summary="An assistant's schemas (LangGraph)")
async def get_schemas(
    assistant_id: AssistantIdPath, request: Request, principal: Caller
) -> Response:
    """``{graph_id, input_schema, output_schema, state_schema, config_schema, context_schema}``."""
    graph_id = await _graph_id(request, assistant_id, principal)
    graph = manager_of(request).graph_for(graph_id)
    return JSONResponse({"graph_id": graph_id, **graph_schemas.graph_schemas(graph)})


async def _subgraphs(
    request: Request, principal: Caller, assistant_id: str, namespace: str | None, recurse: bool
) -> Response:
    graph = manager_of(request).graph_for(await _graph_id(request, assistant_id, principal))
    try:
        return JSONResponse(await graph_schemas.subgraph_schemas(graph, namespace, recurse))
    except NotImplementedError:
        raise ApiError(
            422, "validation_error", "The graph does not support visualization"
        ) from None


@router.get("/assistants/{assistant_id}/subgraphs", summary="An assistant's subgraphs (LangGraph)")
async def get_subgraphs(
    assistant_id: AssistantIdPath, request: Request, principal: Caller, recurse: bool = False
) -> Response:
    """The schemas of each subgraph, keyed by namespace (``recurse``: nested ones too)."""
    return await _subgraphs(request, principal, assistant_id, None, recurse)


@router.get(
    "/assistants/{assistant_id}/subgraphs/{namespace}",
    summary="One of an assistant's subgraphs (LangGraph)",
)
async def get_subgraph(
    assistant_id: AssistantIdPath,
    namespace: Annotated[str, Path(min_length=1, max_length=1024)],
    request: Request,
    principal: Caller,
    recurse: bool = False,
) -> Response:
    """The schemas of the subgraph at ``namespace`` (``{}`` when there is none)."""
    return await _subgraphs(request, principal, assistant_id, namespace, recurse)


__all__ = ["router"]
