"""What every run route shares: the app's :class:`RunBook`, starting a run from a
run-create body, and the three ways of answering for it (background Run JSON, wait body,
SSE stream), with LangGraph's ``Location``/``Content-Location`` headers."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import Request
from starlette.applications import Starlette
from starlette.responses import Response, StreamingResponse

from graph_sessions.core.session import GraphSession
from graph_sessions.errors import ManagerClosed, SessionBusy
from graph_sessions.server.auth import Principal
from graph_sessions.server.deps import manager_of, settings_of
from graph_sessions.server.errors import ApiError
from graph_sessions.server.jsonable import JSONResponse
from graph_sessions.server.langgraph_api.assistant_lookup import resolve_assistant
from graph_sessions.server.langgraph_api.lg_auth import auth_configurable
from graph_sessions.server.langgraph_api.lg_authz import authorize_run, authorized_thread
from graph_sessions.server.langgraph_api.run_book import BookedRun, RunBook
from graph_sessions.server.langgraph_api.run_payloads import (
    BUSY,
    AssistantRef,
    AssistantResolver,
    RunCreate,
    resolve_run,
)
from graph_sessions.server.langgraph_api.sse import sse_response
from graph_sessions.server.langgraph_api.webhooks import validate_webhook
from graph_sessions.storage.records import PendingRun

#: seconds between the newlines a ``wait`` body is padded with while the run goes on
WAIT_PADDING_SECONDS = 5.0


def book_of(request: Request) -> RunBook:
    """The app's run book (made on first use)."""
    return book_of_app(request.app)


def book_of_app(app: Starlette) -> RunBook:
    """``app``'s run book (made on first use)."""
    state = app.state
    book: RunBook | None = getattr(state, "lg_runs", None)
    if book is None:
        book = state.lg_runs = RunBook(state.manager, state.settings, state.metrics)
    return book


def app_request(app: Starlette) -> Request:
    """A request-shaped handle on ``app`` for runs the server starts by itself (recovered
    pending runs, cron fires): the helpers that find the app's manager, settings and
    assistants take a request, and read only its ``app``."""
    return Request({"type": "http", "app": app, "method": "POST", "path": "/", "headers": []})


async def owned_thread(
    request: Request, thread_id: str, principal: Principal, action: str = "read"
) -> GraphSession:
    """The caller's live thread, as the auth file's ``threads.<action>`` handler lets the
    caller reach it (``lg_authz``); 404 ``Thread with ID <id> not found`` otherwise."""
    return await authorized_thread(request, principal, thread_id, action)


async def launch(
    request: Request,
    principal: Principal,
    thread_id: str | None,
    body: RunCreate,
    kind: str = "background",
    *,
    recovered: PendingRun | None = None,
) -> BookedRun:
    """Resolve the body, book the run and start it in the core. A run that cannot start
    answers its 4xx here (409 under ``reject`` on a busy thread, 422 for a webhook URL the
    policy refuses), before any event.

    A background run is kept in storage as a pending run before it starts (durable, see
    :meth:`RunBook.persist`). ``recovered``: that stored run, launched again by a server
    that started after its own stopped (same id, creation time and thread)."""
    validate_webhook(body.webhook, settings_of(request).webhooks)
    book = book_of(request)
    principal, body = await authorize_run(request, principal, thread_id, body)
    caller = auth_configurable(request)
    if caller:  # an auth-file user: the graph reads the caller as on LangGraph's server
        config = dict(body.config or {})
        config["configurable"] = {**(config.get("configurable") or {}), **caller}
        body = body.model_copy(update={"config": config})
    resolver = assistant_resolver(request, principal)
    resolved = await resolve_run(
        manager_of(request),
        principal,
        thread_id,
        body,
        resolver,
        marks_at_begin=kind != "background",
    )
    if recovered is not None:
        resolved.run_id = recovered.run_id
        resolved.temporary = bool(recovered.payload.get("temporary"))
    rec = book.book(resolved, principal.owner)
    rec.kind = kind
    try:
        if recovered is not None:
            rec.created_at = recovered.created_at
            rec.durable = True
        elif kind == "background":
            await book.persist(rec, resolved)
        await book.start(rec, resolved)
    except BaseException as exc:
        book.discard(rec)
        if recovered is None:  # a recovered run's row is its recoverer's to judge
            await book.unpersist(rec)
        if resolved.temporary and not isinstance(exc, ManagerClosed):  # else it waits
            with contextlib.suppress(Exception):
                await manager_of(request).delete(resolved.thread_id)
        if isinstance(exc, SessionBusy):
            raise ApiError(409, "conflict", BUSY) from None
        raise
    return rec


def assistant_resolver(request: Request, principal: Principal) -> AssistantResolver:
    """Looks an assistant id up among the caller's assistants made over ``/assistants``."""

    async def resolve(assistant_id: str) -> AssistantRef | None:
        found = await resolve_assistant(request, assistant_id, principal, for_run=True)
        if found is None:
            return None
        return AssistantRef(
            graph_id=found["graph_id"],
            assistant_id=found["assistant_id"],
            config=found.get("config") or {},
            context=found.get("context") or {},
            metadata=found.get("metadata") or {},
        )

    return resolve


def cancels_on_disconnect(request: Request, body: RunCreate) -> bool:
    """Whether the run is cancelled when its client goes away (the body's
    ``on_disconnect``, else the server's setting)."""
    return (body.on_disconnect or settings_of(request).on_disconnect) == "cancel"


def run_url(rec: BookedRun, stateless: bool = False) -> str:
    """The Run's URL (``Content-Location``)."""
    if stateless:
        return f"/runs/{rec.run_id}"
    return f"/threads/{rec.thread_id}/runs/{rec.run_id}"


def background_response(rec: BookedRun, book: RunBook, stateless: bool = False) -> Response:
    """The Run JSON of a run started in the background (``Content-Location`` only)."""
    body = rec.to_json()
    body["status"] = book.status_of(rec)
    return JSONResponse(body, headers={"Content-Location": run_url(rec, stateless)})


async def _wait_body(
    book: RunBook, rec: BookedRun, cancel_on_disconnect: bool, padded: bool
) -> AsyncIterator[bytes]:
    if padded:  # the first padding interval was spent before the response started
        yield b"\n"
    try:
        while not await rec.ended_within(WAIT_PADDING_SECONDS):
            yield b"\n"
    finally:
        if cancel_on_disconnect and not rec.done.is_set():
            await book.cancel(rec, "interrupt", wait=False)
    yield rec.result_bytes()


async def wait_response(
    book: RunBook, rec: BookedRun, location: str, cancel_on_disconnect: bool = False
) -> Response:
    """The run's result once it ends (padded with a newline every 5 s meanwhile, as
    LangGraph's). A run that ends within the first 5 s is answered as plain JSON (what
    the client reads is the same: nothing before the result), sparing a streamed body;
    a run cancelled by its client's leaving streams from the start, to notice it."""
    padded = False
    if not rec.done.is_set() and not cancel_on_disconnect:
        padded = not await rec.ended_within(WAIT_PADDING_SECONDS)
    if rec.done.is_set():
        return Response(
            rec.result_bytes(),
            media_type="application/json",
            headers={"Location": location, "Content-Location": run_url(rec)},
        )
    return StreamingResponse(
        _wait_body(book, rec, cancel_on_disconnect, padded),
        media_type="application/json",
        headers={"Location": location, "Content-Location": run_url(rec)},
    )


async def launch_and_wait(
    request: Request, principal: Principal, thread_id: str | None, body: RunCreate
) -> Response:
    """``/runs/wait`` on a thread (``thread_id``) or stateless (``None``): start the run,
    answer its result (``Location`` the run's join URL)."""
    rec = await launch(request, principal, thread_id, body, "wait")
    return await wait_response(
        book_of(request),
        rec,
        f"/threads/{rec.thread_id}/runs/{rec.run_id}/join",
        cancels_on_disconnect(request, body),
    )


async def launch_and_stream(
    request: Request, principal: Principal, thread_id: str | None, body: RunCreate
) -> Response:
    """``/runs/stream`` on a thread (``thread_id``) or stateless (``None``): start the run,
    stream its events from the first (``Location`` the join-stream URL)."""
    rec = await launch(request, principal, thread_id, body, "stream")
    url = f"/threads/{rec.thread_id}/runs/{rec.run_id}" if thread_id else f"/runs/{rec.run_id}"
    return stream_response(
        book_of(request),
        rec,
        0,
        location=url + "/stream",
        content_location=url,
        cancel_on_disconnect=cancels_on_disconnect(request, body),
    )


def stream_response(
    book: RunBook,
    rec: BookedRun,
    start: int,
    *,
    location: str,
    content_location: str,
    cancel_on_disconnect: bool = False,
) -> Response:
    """An SSE response following the run from event ``start``."""

    async def events() -> AsyncIterator[bytes]:
        try:
            async for item in rec.follow(start):
                yield item
        finally:
            if cancel_on_disconnect and not rec.done.is_set():
                await book.cancel(rec, "interrupt", wait=False)

    return sse_response(
        events(), headers={"Location": location, "Content-Location": content_location}
    )


__all__ = [
    "app_request",
    "cancels_on_disconnect",
    "book_of",
    "book_of_app",
    "background_response",
    "launch",
    "owned_thread",
    "run_url",
    "stream_response",
    "wait_response",
]
