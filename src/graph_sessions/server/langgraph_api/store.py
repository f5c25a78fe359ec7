"""``/store/...``: LangGraph's store API over the backend's LangGraph store (``BaseStore``),
the same store the served graphs read and write.

Routes, bodies and statuses as LangGraph's server answers them: ``PUT /store/items`` 204,
``GET /store/items?namespace=a.b&key=k`` 200 with the item or ``null``, ``DELETE
/store/items`` (JSON body) 204, ``POST /store/items/search`` ``{"items": [...]}``, ``POST
/store/namespaces`` ``{"namespaces": [...]}``.

Who sees what: an admin (and every caller when authentication is off) sees the whole
store, as on LangGraph's server. A ``user`` owns the namespaces whose **first label is its
owner id** (LangGraph's documented convention, ``namespace[0] == user.identity``, which lets
a graph write ``(user_id, "memories")`` for the user to read): any other namespace answers
403, and a search or listing without a prefix is narrowed to ``(owner,)``. When a LangGraph
auth file (``auth.path``) has a handler for the store, that handler decides instead, with
LangGraph's semantics (it may rewrite ``value["namespace"]``; a returned filter dict narrows
searches).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import Query, Request
from langgraph.store.base import NOT_PROVIDED, BaseStore, InvalidNamespaceError
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from graph_sessions.core.manager import GraphSessionManager
from graph_sessions.server.auth import Principal
from graph_sessions.server.deps import Caller, manager_of
from graph_sessions.server.errors import ApiError
from graph_sessions.server.jsonable import JSONResponse
from graph_sessions.server.langgraph_api.lg_auth import authorize, handles
from graph_sessions.server.routing import GuardedRouter
from graph_sessions.settings import StoreTTLSettings

router = GuardedRouter(tags=["langgraph: store"])

Namespace = tuple[str, ...]
#: Largest limit, offset or depth accepted (SQLite integers; beyond: 422, never a 500).
_MAX_INT = 2**31 - 1


class DetailError(BaseModel):
    """An error on LangGraph's routes, as LangGraph's server shapes it."""

    detail: str


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these error statuses, shaped ``{"detail": ...}``."""
    why = {
        400: "Malformed JSON",
        401: "Missing or invalid credentials",
        403: "The namespace is not the caller's, or an auth handler refused",
        413: "Request body over the configured limit",
        422: "The body or a namespace label is invalid, or the store refuses the filter",
        503: "Storage unavailable",
    }
    return {s: {"model": DetailError, "description": why.get(s, "error")} for s in statuses}


_COMMON = (400, 401, 403, 413, 422, 503)


class StoreItem(BaseModel):
    """A store item."""

    namespace: list[str]
    key: str
    value: dict[str, Any]
    created_at: str
    updated_at: str


class SearchItem(StoreItem):
    """A store item found by a search (``score`` only with a semantic index)."""

    score: float | None = None


class SearchItemsResponse(BaseModel):
    """The items a search found."""

    items: list[SearchItem]


class ListNamespacesResponse(BaseModel):
    """The namespaces found."""

    namespaces: list[list[str]]


class StorePutRequest(BaseModel):
    """Store or update an item."""

    model_config = ConfigDict(extra="ignore")

    namespace: list[str] = Field(description="the namespace path, a list of labels")
    key: str = Field(description="the item's key within its namespace")
    value: dict[str, Any] = Field(description="the item's data")
    index: Literal[False] | list[str] | None = Field(
        default=None, description="fields to index for semantic search (needs store.index)"
    )
    ttl: float | None = Field(
        default=None,
        gt=0,
        le=1e9,
        description="minutes to live; absent: store.ttl.default_ttl",
    )


class StoreDeleteRequest(BaseModel):
    """Delete an item."""

    model_config = ConfigDict(extra="ignore")

    namespace: list[str] = Field(default_factory=list)
    key: str


class StoreSearchRequest(BaseModel):
    """List or search the items under a namespace prefix."""

    model_config = ConfigDict(extra="ignore")

    namespace_prefix: list[str] | None = None
    filter: dict[str, Any] | None = None
    limit: int = Field(default=10, ge=0, le=_MAX_INT)
    offset: int = Field(default=0, ge=0, le=_MAX_INT)
    query: str | None = None
    refresh_ttl: bool | None = None


class StoreListNamespacesRequest(BaseModel):
    """List namespaces, optionally by prefix, suffix and depth."""

    model_config = ConfigDict(extra="ignore")

    prefix: list[str] | None = None
    suffix: list[str] | None = None
    max_depth: int | None = Field(default=None, ge=1, le=_MAX_INT)
    limit: int = Field(default=100, ge=0, le=_MAX_INT)
    offset: int = Field(default=0, ge=0, le=_MAX_INT)


def _check_namespace(namespace: Any, *, empty_ok: bool = False) -> Namespace:
    """The namespace as a tuple, or a 422 with LangGraph's message."""
    if not isinstance(namespace, list | tuple):
        raise ApiError(422, "validation_error", "Namespace must be a list of labels")
    for label in namespace:
        if not isinstance(label, str) or not label or "." in label:
            raise ApiError(
                422,
                "validation_error",
                f"Namespace label {label!r} must be a non-empty string without periods",
            )
    if not namespace and not empty_ok:
        raise ApiError(422, "validation_error", "Namespace cannot be empty")
    return tuple(namespace)


def _owner_rule_applies(request: Request, principal: Principal) -> bool:
    """A ``user`` caller is held to its own namespaces unless an auth file's store handler
    decides for it."""
    return principal.scope is not None and not handles(request, "store")


def _own(request: Request, principal: Principal, namespace: Namespace) -> None:
    """403 when a ``user`` names a namespace that is not its own."""
    if _owner_rule_applies(request, principal) and (
        not namespace or namespace[0] != principal.owner
    ):
        raise ApiError(
            403,
            "forbidden",
            f"store namespaces of user {principal.owner!r} start with {principal.owner!r}",
        )


def _own_prefix(request: Request, principal: Principal, prefix: Namespace | None) -> Namespace:
    """A read prefix for this caller: a ``user``'s empty prefix becomes ``(owner,)``."""
    prefix = prefix or ()
    if _owner_rule_applies(request, principal) and not prefix:
        return (str(principal.owner),)
    if prefix:
        _own(request, principal, prefix)
    return prefix


def _store(request: Request) -> BaseStore:
    store: BaseStore = manager_of(request).backend.store
    return store


def _merge_filters(
    asked: dict[str, Any] | None, forced: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, bool]:
    """``asked`` narrowed by ``forced`` (an auth handler's filter): the merged filter, and
    False when they name the same key differently (conservative: nothing is returned rather
    than anything outside the handler's filter)."""
    if not forced:
        return asked, True
    merged = dict(asked or {})
    for key, value in forced.items():
        if key in merged and merged[key] != value:
            return merged, False
        merged[key] = value
    return merged, True


async def _call(coro: Any) -> Any:
    """Await a store call; what the store refuses in the request is a 422, not a 500."""
    try:
        return await coro
    except InvalidNamespaceError as exc:
        raise ApiError(422, "validation_error", str(exc)) from None
    except NotImplementedError as exc:
        raise ApiError(422, "validation_error", f"not supported by this store: {exc}") from None
    except ValueError as exc:
        raise ApiError(422, "validation_error", str(exc)) from None
    except (TypeError, OverflowError) as exc:  # e.g. an integer JSON cannot hold in 64 bits
        raise ApiError(422, "validation_error", f"the value cannot be stored: {exc}") from None


@router.put(
    "/store/items",
    status_code=204,
    summary="Put a store item (LangGraph)",
    responses=_errors(*_COMMON),
)
async def put_item(body: StorePutRequest, request: Request, principal: Caller) -> Response:
    """Store or replace an item (``ttl`` in minutes)."""
    namespace = _check_namespace(body.namespace)
    value: dict[str, Any] = {
        "namespace": namespace,
        "key": body.key,
        "value": body.value,
        "index": body.index,
        "ttl": body.ttl,
    }
    await authorize(request, "store", "put", value)
    namespace = _check_namespace(value["namespace"])
    _own(request, principal, namespace)
    store = _store(request)
    ttl = value["ttl"]
    if ttl is not None and not store.supports_ttl:
        raise ApiError(422, "validation_error", "this server's store does not support ttl")
    await _call(
        store.aput(
            namespace,
            value["key"],
            value["value"],
            index=value["index"],
            ttl=NOT_PROVIDED if ttl is None else ttl,
        )
    )
    return Response(status_code=204)


@router.get(
    "/store/items",
    summary="Get a store item (LangGraph)",
    responses={
        200: {"model": StoreItem | None, "description": "The item, or null"},
        **_errors(401, 403, 422, 503),
    },
)
async def get_item(
    request: Request,
    principal: Caller,
    key: str = Query(min_length=1),
    namespace: str = Query(default="", description="the namespace's labels joined by '.'"),
    refresh_ttl: bool | None = None,
) -> Response:
    """The item, or ``null`` when there is none."""
    ns = _check_namespace(namespace.split(".") if namespace else [])
    value: dict[str, Any] = {"namespace": ns, "key": key, "refresh_ttl": refresh_ttl}
    await authorize(request, "store", "get", value)
    ns = _check_namespace(value["namespace"])
    _own(request, principal, ns)
    item = await _call(_store(request).aget(ns, value["key"], refresh_ttl=value["refresh_ttl"]))
    return JSONResponse(None if item is None else item.dict())


@router.delete(
    "/store/items",
    status_code=204,
    summary="Delete a store item (LangGraph)",
    responses=_errors(*_COMMON),
)
async def delete_item(body: StoreDeleteRequest, request: Request, principal: Caller) -> Response:
    """Delete an item (a missing one too: 204)."""
    namespace = _check_namespace(body.namespace)
    value: dict[str, Any] = {"namespace": namespace, "key": body.key}
    await authorize(request, "store", "delete", value)
    namespace = _check_namespace(value["namespace"])
    _own(request, principal, namespace)
    await _call(_store(request).adelete(namespace, value["key"]))
    return Response(status_code=204)


@router.post(
    "/store/items/search",
    summary="Search store items (LangGraph)",
    responses={200: {"model": SearchItemsResponse}, **_errors(*_COMMON)},
)
async def search_items(body: StoreSearchRequest, request: Request, principal: Caller) -> Response:
    """Items under ``namespace_prefix`` matching ``filter``, newest first (``query`` ranks
    by similarity only when the store has an index)."""
    prefix = _check_namespace(body.namespace_prefix or [], empty_ok=True)
    value: dict[str, Any] = {
        "namespace": prefix,
        "filter": body.filter,
        "limit": body.limit,
        "offset": body.offset,
        "query": body.query,
        "refresh_ttl": body.refresh_ttl,
    }
    forced = await authorize(request, "store", "search", value)
    prefix = _own_prefix(
        request, principal, _check_namespace(value["namespace"] or [], empty_ok=True)
    )
    filter_, possible = _merge_filters(value["filter"], forced)
    if not possible:
        return JSONResponse({"items": []})
    items = await _call(
        _store(request).asearch(
            prefix,
            filter=filter_,
            limit=value["limit"],
            offset=value["offset"],
            query=value["query"],
            refresh_ttl=value["refresh_ttl"],
        )
    )
    return JSONResponse({"items": [item.dict() for item in items]})


@router.post(
    "/store/namespaces",
    summary="List store namespaces (LangGraph)",
    responses={200: {"model": ListNamespacesResponse}, **_errors(*_COMMON)},
)
async def list_namespaces(
    body: StoreListNamespacesRequest, request: Request, principal: Caller
) -> Response:
    """The namespaces under ``prefix`` / ending with ``suffix``, cut at ``max_depth``."""
    prefix = _check_namespace(body.prefix, empty_ok=True) if body.prefix else None
    suffix = _check_namespace(body.suffix, empty_ok=True) if body.suffix else None
    value: dict[str, Any] = {
        "namespace": prefix,
        "suffix": suffix,
        "max_depth": body.max_depth,
        "limit": body.limit,
        "offset": body.offset,
    }
    await authorize(request, "store", "list_namespaces", value)
    prefix = _check_namespace(value["namespace"], empty_ok=True) if value["namespace"] else None
    suffix = _check_namespace(value["suffix"], empty_ok=True) if value["suffix"] else None
    owned = _own_prefix(request, principal, prefix)
    found = await _call(
        _store(request).alist_namespaces(
            prefix=owned or None,
            suffix=suffix,
            max_depth=value["max_depth"],
            limit=value["limit"],
            offset=value["offset"],
        )
    )
    return JSONResponse({"namespaces": [list(ns) for ns in found]})


@asynccontextmanager
async def store_ttl_sweeper(
    manager: GraphSessionManager, ttl: StoreTTLSettings
) -> AsyncIterator[None]:
    """While the server runs: the store's TTL configuration is ``store.ttl`` and its expired
    items are deleted every ``sweep_interval_minutes`` (on stores that support TTLs)."""
    store: Any = manager.backend.store if manager.is_open else None
    sweeping = bool(store is not None and store.supports_ttl and hasattr(store, "sweep_ttl"))
    if sweeping:
        store.ttl_config = {
            "refresh_on_read": ttl.refresh_on_read,
            "sweep_interval_minutes": ttl.sweep_interval_minutes,
            **({"default_ttl": ttl.default_ttl} if ttl.default_ttl is not None else {}),
        }
        await store.start_ttl_sweeper(sweep_interval_minutes=ttl.sweep_interval_minutes)
    try:
        yield
    finally:
        if sweeping:
            await store.stop_ttl_sweeper(timeout=5)
