"""Stateless runs, as LangGraph's server serves them: ``/runs`` (background),
``/runs/wait``, ``/runs/stream``, ``/runs/batch``, ``/runs/cancel``. Each runs on a new
temporary thread of the caller, deleted when the run ends unless ``on_completion`` is
``keep``."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Body, Header, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from graph_sessions.server.deps import Caller
from graph_sessions.server.errors import ApiError
from graph_sessions.server.jsonable import JSONResponse
from graph_sessions.server.langgraph_api.run_book import BookedRun
from graph_sessions.server.langgraph_api.run_docs import RUN_ERRORS, detail_responses, sse_responses
from graph_sessions.server.langgraph_api.run_launch import (
    background_response,
    book_of,
    launch,
    launch_and_stream,
    launch_and_wait,
    stream_response,
)
from graph_sessions.server.langgraph_api.run_payloads import RunCreate
from graph_sessions.server.routing import GuardedRouter
from graph_sessions.vocabulary import CancelAction

router = GuardedRouter(tags=["langgraph: stateless runs"])

#: at most this many runs in one ``/runs/batch``
MAX_BATCH = 100


@router.post(
    "/runs",
    summary="Create a stateless background run (LangGraph)",
    responses=detail_responses(*RUN_ERRORS),
)
async def create_stateless(body: RunCreate, request: Request, principal: Caller) -> Response:
    """Start a run on a new temporary thread; answer its Run JSON (``pending``)."""
    rec = await launch(request, principal, None, body)
    return background_response(rec, book_of(request), stateless=True)


@router.post(
    "/runs/wait",
    summary="Stateless run, wait for the result (LangGraph)",
    responses=detail_responses(*RUN_ERRORS),
)
async def wait_stateless(body: RunCreate, request: Request, principal: Caller) -> Response:
    """Run on a new temporary thread and answer the final values."""
    return await launch_and_wait(request, principal, None, body)


@router.post(
    "/runs/stream",
    summary="Stateless run, stream its events (LangGraph)",
    responses=sse_responses(),
)
async def stream_stateless(body: RunCreate, request: Request, principal: Caller) -> Response:
    """Run on a new temporary thread and stream its events (SSE)."""
    return await launch_and_stream(request, principal, None, body)


def _mine(rec: BookedRun | None, principal: Caller) -> bool:
    return rec is not None and (principal.scope is None or rec.owner == principal.owner)


@router.get(
    "/runs/{run_id}/stream",
    summary="Join a stateless run's stream (LangGraph)",
    responses=sse_responses(),
)
async def join_stateless_stream(
    run_id: str,
    request: Request,
    principal: Caller,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> Response:
    """Where a stateless stream's ``Location`` points: its events after ``Last-Event-ID``."""
    book = book_of(request)
    rec = book.get(run_id)
    if rec is None or not _mine(rec, principal) or book.is_deleted(run_id):
        raise ApiError(404, "not_found", "Not Found")
    return stream_response(
        book,
        rec,
        rec.index_after(last_event_id),
        location=f"/runs/{run_id}/stream",
        content_location=f"/runs/{run_id}",
    )


@router.post(
    "/runs/batch",
    summary="Create stateless background runs (LangGraph)",
    responses=detail_responses(*RUN_ERRORS),
)
async def create_batch(
    request: Request,
    principal: Caller,
    body: Annotated[list[RunCreate], Body(max_length=MAX_BATCH)],
) -> Response:
    """Start each run of the list on its own temporary thread; answer their Run JSON."""
    book = book_of(request)
    out = []
    for item in body:
        rec = await launch(request, principal, None, item)
        run = rec.to_json()
        run["status"] = book.status_of(rec)
        out.append(run)
    return JSONResponse(out)


class CancelMany(BaseModel):
    """``/runs/cancel``: the runs of one thread by id, or every run with a status."""

    model_config = ConfigDict(extra="ignore")

    thread_id: str | None = None
    run_ids: list[str] | None = Field(default=None, max_length=1000)
    status: Literal["pending", "running", "all"] | None = None


@router.post(
    "/runs/cancel",
    status_code=204,
    summary="Cancel runs (LangGraph)",
    responses=detail_responses(*RUN_ERRORS),
)
async def cancel_many(
    body: CancelMany,
    request: Request,
    principal: Caller,
    action: CancelAction = "interrupt",
) -> Response:
    """Cancel the caller's pending/running runs named by ``thread_id`` + ``run_ids`` or
    by ``status``; 404 ``No runs found to cancel.`` when none matches."""
    if body.status is None and not body.run_ids:
        raise ApiError(422, "validation_error", "give thread_id and run_ids, or status")
    book = book_of(request)
    chosen = []
    for rec in book.all():
        if rec.done.is_set() or not _mine(rec, principal) or book.is_deleted(rec.run_id):
            continue
        if body.run_ids is not None:
            if rec.run_id not in body.run_ids:
                continue
            if body.thread_id is not None and rec.thread_id != body.thread_id:
                continue
        elif body.status != "all" and book.status_of(rec) != body.status:
            continue
        chosen.append(rec)
    if not chosen:
        raise ApiError(404, "not_found", "No runs found to cancel.")
    for rec in chosen:
        await book.cancel(rec, action, wait=False)
    return Response(status_code=204)


__all__ = ["router"]
