"""``/assistants``: one system assistant per served graph, with LangGraph's id (``uuid5``
of the graph id under LangGraph's namespace) and body, so the ids clients hold are the
same on both servers. A graph id is accepted wherever an assistant id is (a superset: the
reference takes it only in run bodies and ``/graph``).

Custom assistants (``POST /assistants``, ``PATCH``, ``DELETE``) are not supported yet: they
answer 400 with a ``detail`` saying so, except ``POST /assistants`` with ``if_exists:
do_nothing`` naming a system assistant, which answers it unchanged as the reference does.
System assistants are version 1 and cannot be changed or deleted."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from graph_sessions.core.manager import GraphSessionManager
from graph_sessions.server.deps import Caller, manager_of
from graph_sessions.server.errors import ApiError
from graph_sessions.server.jsonable import JSONResponse
from graph_sessions.server.langgraph_api import graph_schemas
from graph_sessions.server.langgraph_api.ids import graph_of_assistant, is_uuid, system_assistant_id
from graph_sessions.server.langgraph_api.shapes import pagination_headers, select

router = APIRouter(tags=["langgraph: assistants"])

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
NOT_SUPPORTED = (
    "custom assistants are not supported yet: use the system assistant of a graph (its id is "
    "the uuid5 LangGraph gives it, or the graph id itself)"
)


class AssistantCount(BaseModel):
    """``POST /assistants/count``."""

    model_config = ConfigDict(extra="ignore")

    metadata: dict[str, Any] | None = None
    graph_id: str | None = Field(default=None, max_length=256)
    name: str | None = Field(default=None, max_length=256)


class AssistantSearch(AssistantCount):
    """``POST /assistants/search``."""

    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10**9)
    sort_by: Literal["assistant_id", "created_at", "updated_at", "name", "graph_id"] | None = None
    sort_order: Literal["asc", "desc"] | None = None
    select: list[AssistantField] | None = Field(default=None, max_length=20)


class VersionSearch(BaseModel):
    """``POST /assistants/{id}/versions``."""

    model_config = ConfigDict(extra="ignore")

    metadata: dict[str, Any] | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10**9)


class SetLatest(BaseModel):
    """``POST /assistants/{id}/latest``."""

    version: int = Field(ge=1, le=2**31)


class AssistantCreate(BaseModel):
    """``POST /assistants`` (only answered for system assistants)."""

    model_config = ConfigDict(extra="ignore")

    graph_id: str = Field(min_length=1, max_length=256)
    assistant_id: str | None = Field(default=None, max_length=256)
    if_exists: Literal["raise", "do_nothing"] = "raise"


def _started(request: Request) -> datetime:
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


def _graph_of(manager: GraphSessionManager, assistant_id: str) -> str:
    """The served graph of ``assistant_id`` (LangGraph's 422 for a malformed id, 404 for an
    unknown one)."""
    graph_id = graph_of_assistant(assistant_id, manager.graph_ids)
    if graph_id is not None:
        return graph_id
    if not is_uuid(assistant_id):
        raise ApiError(422, "validation_error", "Invalid assistant ID: must be a UUID")
    raise ApiError(404, "not_found", "Not Found")


def _contains(have: dict[str, Any], want: dict[str, Any]) -> bool:
    return all(k in have and have[k] == v for k, v in want.items())


def _matching(request: Request, body: AssistantCount) -> list[dict[str, Any]]:
    manager = manager_of(request)
    at = _started(request)
    out = []
    for graph_id in manager.graph_ids:
        item = system_assistant(manager, graph_id, at)
        if body.graph_id is not None and item["graph_id"] != body.graph_id:
            continue
        if body.name is not None and body.name.lower() not in item["name"].lower():
            continue
        if body.metadata and not _contains(item["metadata"], body.metadata):
            continue
        out.append(item)
    return out


@router.post("/assistants", summary="Create an assistant (LangGraph)")
async def create_assistant(body: AssistantCreate, request: Request, principal: Caller) -> Response:
    """Not supported yet (400), except asking for a system assistant with ``if_exists:
    do_nothing``."""
    manager = manager_of(request)
    if body.graph_id not in manager.graph_ids:
        raise ApiError(
            404,
            "not_found",
            f"Graph '{body.graph_id}' not found. Expected one of: {sorted(manager.graph_ids)}",
        )
    if body.assistant_id is not None and body.if_exists == "do_nothing":
        graph_id = graph_of_assistant(body.assistant_id, manager.graph_ids)
        if graph_id is not None:
            return JSONResponse(system_assistant(manager, graph_id, _started(request)))
    raise ApiError(400, "bad_request", NOT_SUPPORTED)


@router.post("/assistants/search", summary="Search assistants (LangGraph)")
async def search_assistants(body: AssistantSearch, request: Request, principal: Caller) -> Response:
    """Assistants matching ``graph_id``, ``metadata`` (contained) and ``name`` (a
    case-insensitive substring), paged with LangGraph's pagination headers."""
    items = _matching(request, body)
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
    return JSONResponse(len(_matching(request, body)))


@router.get("/assistants/{assistant_id}", summary="Get an assistant (LangGraph)")
async def get_assistant(
    assistant_id: AssistantIdPath, request: Request, principal: Caller
) -> Response:
    """The assistant (a graph id names its graph's system assistant)."""
    manager = manager_of(request)
    return JSONResponse(
        system_assistant(manager, _graph_of(manager, assistant_id), _started(request))
    )


@router.patch("/assistants/{assistant_id}", summary="Update an assistant (LangGraph)")
async def patch_assistant(
    assistant_id: AssistantIdPath, request: Request, principal: Caller
) -> Response:
    """Not supported yet: system assistants cannot be changed (400)."""
    _graph_of(manager_of(request), assistant_id)
    raise ApiError(400, "bad_request", NOT_SUPPORTED + "; system assistants cannot be changed")


@router.delete("/assistants/{assistant_id}", summary="Delete an assistant (LangGraph)")
async def delete_assistant(
    assistant_id: AssistantIdPath, request: Request, principal: Caller
) -> Response:
    """Not supported yet: system assistants cannot be deleted (400)."""
    manager = manager_of(request)
    if graph_of_assistant(assistant_id, manager.graph_ids) is None:
        if not is_uuid(assistant_id):
            raise ApiError(422, "validation_error", "Invalid assistant ID: must be a UUID")
        raise ApiError(404, "not_found", f"Assistant with ID {assistant_id} not found")
    raise ApiError(400, "bad_request", NOT_SUPPORTED + "; system assistants cannot be deleted")


@router.post("/assistants/{assistant_id}/versions", summary="An assistant's versions (LangGraph)")
async def list_versions(
    assistant_id: AssistantIdPath, body: VersionSearch, request: Request, principal: Caller
) -> Response:
    """The versions, newest first: a system assistant has one, version 1."""
    manager = manager_of(request)
    item = system_assistant(manager, _graph_of(manager, assistant_id), _started(request))
    version = {k: v for k, v in item.items() if k != "updated_at"}
    versions = [version] if not body.metadata or _contains(item["metadata"], body.metadata) else []
    return JSONResponse(versions[body.offset : body.offset + body.limit])


@router.post("/assistants/{assistant_id}/latest", summary="Set an assistant's version (LangGraph)")
async def set_latest(
    assistant_id: AssistantIdPath, body: SetLatest, request: Request, principal: Caller
) -> Response:
    """Make ``version`` the current one: a system assistant only has version 1."""
    manager = manager_of(request)
    item = system_assistant(manager, _graph_of(manager, assistant_id), _started(request))
    if body.version != 1:
        raise ApiError(
            404,
            "not_found",
            f"Version {body.version} not found for assistant {item['assistant_id']}",
        )
    return JSONResponse(item)


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
    manager = manager_of(request)
    graph = manager.graph_for(_graph_of(manager, assistant_id))
    try:
        return JSONResponse(await graph_schemas.drawable_graph(graph, _xray(xray)))
    except NotImplementedError:
        raise ApiError(
            422, "validation_error", "The graph does not support visualization"
        ) from None


@router.get("/assistants/{assistant_id}/schemas", summary="An assistant's schemas (LangGraph)")
async def get_schemas(
    assistant_id: AssistantIdPath, request: Request, principal: Caller
) -> Response:
    """``{graph_id, input_schema, output_schema, state_schema, config_schema, context_schema}``."""
    manager = manager_of(request)
    graph_id = _graph_of(manager, assistant_id)
    return JSONResponse(
        {"graph_id": graph_id, **graph_schemas.graph_schemas(manager.graph_for(graph_id))}
    )


async def _subgraphs(
    request: Request, assistant_id: str, namespace: str | None, recurse: bool
) -> Response:
    manager = manager_of(request)
    graph = manager.graph_for(_graph_of(manager, assistant_id))
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
    return await _subgraphs(request, assistant_id, None, recurse)


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
    return await _subgraphs(request, assistant_id, namespace, recurse)


__all__ = ["router", "system_assistant"]
