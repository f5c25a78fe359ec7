"""Runs on a thread, as LangGraph's server serves them: create (background), wait,
stream, list, get, delete, cancel, join, join stream."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Header, Query, Request
from starlette.responses import Response

from graph_sessions.models import RunStatus
from graph_sessions.server.auth import Principal
from graph_sessions.server.deps import Caller
from graph_sessions.server.errors import ApiError
from graph_sessions.server.jsonable import JSONResponse
from graph_sessions.server.langgraph_api.durable_runs import (
    forget_stored_pending,
    stored_pending_json,
)
from graph_sessions.server.langgraph_api.remote_runs import (
    StillActive,
    remote_frames,
    remote_result,
)
from graph_sessions.server.langgraph_api.run_book import BookedRun
from graph_sessions.server.langgraph_api.run_docs import RUN_ERRORS, detail_responses, sse_responses
from graph_sessions.server.langgraph_api.run_launch import (
    background_response,
    book_of,
    launch,
    launch_and_stream,
    launch_and_wait,
    owned_thread,
    stream_response,
    wait_response,
)
from graph_sessions.server.langgraph_api.run_payloads import RunCreate
from graph_sessions.server.langgraph_api.run_shapes import is_rolled_back, row_json
from graph_sessions.server.langgraph_api.sse import sse_response
from graph_sessions.server.routing import GuardedRouter
from graph_sessions.vocabulary import CancelAction

router = GuardedRouter(tags=["langgraph: runs"])

NO_CANCEL = (
    "No matching runs to cancel. Please verify the thread ID and run IDs are correct, and "
    "the runs haven't been deleted or completed."
)
#: the LangGraph statuses of a run not ended yet
ACTIVE = ("pending", "running")
#: how many of a thread's run rows a listing reads at most
ROWS_READ = 1000


@router.post(
    "/threads/{thread_id}/runs",
    summary="Create a background run (LangGraph)",
    responses=detail_responses(*RUN_ERRORS),
)
async def create_run(
    thread_id: str, body: RunCreate, request: Request, principal: Caller
) -> Response:
    """Start a run and answer its Run JSON at once (``pending``)."""
    rec = await launch(request, principal, thread_id, body)
    return background_response(rec, book_of(request))


@router.post(
    "/threads/{thread_id}/runs/wait",
    summary="Run and wait for the result (LangGraph)",
    responses=detail_responses(*RUN_ERRORS),
)
async def wait_run(
    thread_id: str, body: RunCreate, request: Request, principal: Caller
) -> Response:
    """Start a run and answer its final values (with ``__interrupt__`` when it stopped at
    an interrupt, ``{"__error__": ...}`` when the graph raised: still 200)."""
    return await launch_and_wait(request, principal, thread_id, body)


@router.post(
    "/threads/{thread_id}/runs/stream",
    summary="Run and stream its events (LangGraph)",
    responses=sse_responses(),
)
async def stream_run(
    thread_id: str, body: RunCreate, request: Request, principal: Caller
) -> Response:
    """Start a run and stream its events (SSE): ``metadata`` first, then one event per
    chunk of the requested modes, ``error`` if the graph raised."""
    return await launch_and_stream(request, principal, thread_id, body)


async def _runs_of(request: Request, thread_id: str, principal: Principal) -> list[dict[str, Any]]:
    """The thread's runs (held here and recorded), newest first, deleted ones left out."""
    session = await owned_thread(request, thread_id, principal)
    book = book_of(request)
    known = {r.run_id for r in book.of_thread(thread_id)}
    held = {r.run_id: r for r in book.of_thread(thread_id) if not book.is_deleted(r.run_id)}
    out = []
    for rec in held.values():
        item = rec.to_json()
        item["status"] = book.status_of(rec)
        out.append(item)
    for row in await session.runs(limit=ROWS_READ):
        if row.run_id in known or book.is_deleted(row.run_id) or is_rolled_back(row):
            continue
        out.append(row_json(row, session.info))
        known.add(row.run_id)
    out.extend(await stored_pending_json(book, thread_id, known))
    out.sort(key=lambda r: r["created_at"], reverse=True)
    return out


@router.get(
    "/threads/{thread_id}/runs",
    summary="List a thread's runs (LangGraph)",
    responses=detail_responses(*RUN_ERRORS),
)
async def list_runs(
    thread_id: str,
    request: Request,
    principal: Caller,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
    offset: Annotated[int, Query(ge=0)] = 0,
    status: Literal["pending", "running", "success", "error", "timeout", "interrupted"]
    | None = None,
    select: Annotated[list[str] | None, Query()] = None,
) -> Response:
    """The thread's runs, newest first."""
    runs = await _runs_of(request, thread_id, principal)
    if status is not None:
        runs = [r for r in runs if r["status"] == status]
    page = runs[offset : offset + limit]
    if select:
        page = [{k: v for k, v in r.items() if k in select} for r in page]
    return JSONResponse(page)


async def _find(
    request: Request, thread_id: str, run_id: str, principal: Principal
) -> dict[str, Any]:
    for run in await _runs_of(request, thread_id, principal):
        if run["run_id"] == run_id:
            return run
    raise ApiError(404, "not_found", "Not Found")


def _held(request: Request, thread_id: str, run_id: str) -> BookedRun | None:
    book = book_of(request)
    rec = book.get(run_id)
    if rec is None or rec.thread_id != thread_id or book.is_deleted(run_id):
        return None
    return rec


@router.get(
    "/threads/{thread_id}/runs/{run_id}",
    summary="Get a run (LangGraph)",
    responses=detail_responses(*RUN_ERRORS),
)
async def get_run(thread_id: str, run_id: str, request: Request, principal: Caller) -> Response:
    """One run of the thread; 404 ``Not Found`` for an unknown or deleted run."""
    return JSONResponse(await _find(request, thread_id, run_id, principal))


@router.delete(
    "/threads/{thread_id}/runs/{run_id}",
    status_code=204,
    summary="Delete a run",
    responses=detail_responses(*RUN_ERRORS),
)
async def delete_run(thread_id: str, run_id: str, request: Request, principal: Caller) -> Response:
    """Delete a run (a pending or running one is cancelled first)."""
    await owned_thread(request, thread_id, principal, "delete")  # the auth file's say
    await _find(request, thread_id, run_id, principal)
    book = book_of(request)
    rec = _held(request, thread_id, run_id)
    if rec is not None and not rec.done.is_set():
        await book.cancel(rec, "interrupt", wait=True)
    elif rec is None:
        await forget_stored_pending(book, thread_id, run_id)
    book.tombstones.add(run_id)
    return Response(status_code=204)


@router.post(
    "/threads/{thread_id}/runs/{run_id}/cancel",
    summary="Cancel a run (LangGraph)",
    responses={
        202: {"description": "Cancellation requested (wait=false)"},
        **detail_responses(*RUN_ERRORS),
    },
)
async def cancel_run(
    thread_id: str,
    run_id: str,
    request: Request,
    principal: Caller,
    wait: bool = False,
    action: CancelAction = "interrupt",
) -> Response:
    """Cancel a pending or running run: ``interrupt`` keeps its finished steps, ``rollback``
    restores the state from before it and deletes the run. 404 when it already ended."""
    await owned_thread(request, thread_id, principal, "update")
    book = book_of(request)
    rec = _held(request, thread_id, run_id)
    if rec is None:
        # pending in storage, held by no server here: it never begins now; or executing on
        # another replica: asked to stop there (through the storage, core/cancel_watch.py)
        if not await forget_stored_pending(
            book, thread_id, run_id
        ) and not await book.manager.cancel_run(
            thread_id, run_id, rollback=action == "rollback", wait=wait
        ):
            raise ApiError(404, "not_found", NO_CANCEL)
    elif rec.done.is_set():
        raise ApiError(404, "not_found", NO_CANCEL)
    else:
        await book.cancel(rec, action, wait=wait)
    if not wait:
        return Response(status_code=202)
    url = f"/threads/{thread_id}/runs/{run_id}"
    return JSONResponse({}, headers={"Location": url + "/join", "Content-Location": url})


@router.get(
    "/threads/{thread_id}/runs/{run_id}/join",
    summary="Wait for a run (LangGraph)",
    responses=detail_responses(*RUN_ERRORS),
)
async def join_run(thread_id: str, run_id: str, request: Request, principal: Caller) -> Response:
    """The run's result once it ends (as ``/runs/wait`` answers it)."""
    run = await _find(request, thread_id, run_id, principal)
    url = f"/threads/{thread_id}/runs/{run_id}"
    rec = _held(request, thread_id, run_id)
    if rec is not None:
        return await wait_response(book_of(request), rec, url + "/join")
    relay = book_of(request).manager.backend.run_stream_relay()
    if relay is not None and run["status"] in ACTIVE:  # executing on another replica
        end = await remote_result(relay, run_id, _still_active(request, thread_id, run_id))
        if end is not None and isinstance(end.get("result"), dict):
            return JSONResponse(
                end["result"], headers={"Location": url + "/join", "Content-Location": url}
            )
    session = await owned_thread(request, thread_id, principal)
    values = await session.get_state()
    if session.info.interrupts:
        values["__interrupt__"] = [
            {"value": i["value"], "id": i["id"]} for i in session.info.interrupts
        ]
    return JSONResponse(values, headers={"Location": url + "/join", "Content-Location": url})


@router.get(
    "/threads/{thread_id}/runs/{run_id}/stream",
    summary="Join a run's stream",
    responses=sse_responses(),
)
async def join_run_stream(
    thread_id: str,
    run_id: str,
    request: Request,
    principal: Caller,
    cancel_on_disconnect: bool = False,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> Response:
    """The run's events from now on; with ``Last-Event-ID`` on a resumable run, the events
    after that id (``-1``: all of them). A finished run's stream is empty unless resumable."""
    run = await _find(request, thread_id, run_id, principal)
    url = f"/threads/{thread_id}/runs/{run_id}"
    book = book_of(request)
    rec = _held(request, thread_id, run_id)
    relay = book.manager.backend.run_stream_relay()
    if rec is None and relay is not None and run["status"] in ACTIVE:
        # executing on another replica: its events come through the run-stream table
        frames = remote_frames(
            relay, run_id, last_event_id, _still_active(request, thread_id, run_id)
        )
        return sse_response(frames, headers={"Location": url + "/stream", "Content-Location": url})
    if rec is None:
        return stream_response(
            book, _ended(run_id, thread_id), 0, location=url + "/stream", content_location=url
        )
    return stream_response(
        book,
        rec,
        rec.index_after(last_event_id),
        location=url + "/stream",
        content_location=url,
        cancel_on_disconnect=cancel_on_disconnect,
    )


def _still_active(request: Request, thread_id: str, run_id: str) -> StillActive:
    """Whether the run is still pending or running, as storage says (a run of another
    replica's, followed from here)."""
    backend = book_of(request).manager.backend

    async def still_active() -> bool:
        try:
            for row in await backend.list_runs(thread_id, limit=ROWS_READ):
                if row.run_id == run_id:
                    return row.status == RunStatus.RUNNING
            pending = await backend.list_pending_runs(thread_id)
        except Exception:  # storage trouble: keep waiting (the rows may still come)
            return True
        return any(p.run_id == run_id for p in pending)

    return still_active


def _ended(run_id: str, thread_id: str) -> BookedRun:
    """An empty, finished run: what a join stream follows for a run no longer held."""
    rec = BookedRun(
        run_id=run_id,
        thread_id=thread_id,
        owner=None,
        assistant_id="",
        graph_id="",
        metadata={},
        kwargs={},
        multitask="enqueue",
        resumable=False,
        temporary=False,
        keep_thread=True,
    )
    rec.done.set()
    return rec


__all__ = ["router"]
