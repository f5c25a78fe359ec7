"""The LangGraph Agent Server API (assistants, threads, runs…), mounted by ``create_app``
beside ``/sessions`` over the same core: a thread is a session, an assistant a graph, a run
our run. What LangGraph's own server answers is recorded in ``reference/langgraph-api/``;
errors on these routes are shaped ``{"detail": text}`` (``server/errors.py``)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import APIRouter, FastAPI

from graph_sessions.server.langgraph_api import (
    assistants,
    crons,
    meta,
    runs,
    stateless_runs,
    store,
    thread_state,
    thread_stream,
    threads,
)
from graph_sessions.server.langgraph_api.cron_scheduler import cron_scheduler
from graph_sessions.server.langgraph_api.durable_runs import durable_runs
from graph_sessions.server.langgraph_api.run_launch import book_of_app
from graph_sessions.server.langgraph_api.run_mirror import run_mirror
from graph_sessions.server.langgraph_api.store import store_ttl_sweeper
from graph_sessions.server.langgraph_api.webhooks import webhook_sender

router = APIRouter()
# the hot routes first: a request walks the routers in this order
router.include_router(runs.router)
router.include_router(meta.router)
router.include_router(threads.router)
router.include_router(thread_state.router)
router.include_router(thread_stream.router)
router.include_router(assistants.router)
router.include_router(stateless_runs.router)
router.include_router(store.router)
router.include_router(crons.router)


@contextlib.asynccontextmanager
async def background_work(app: FastAPI) -> AsyncIterator[None]:
    """What the LangGraph API runs beside the app while it serves, entered by the app's
    lifespan once the manager is open (and left before it closes): the store's TTL
    sweeper, the run-end webhook sender, the recovery of pending runs left by servers that
    stopped, the answers to follow requests of other replicas (``run_mirror``), the cron
    scheduler."""
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(
            store_ttl_sweeper(app.state.manager, app.state.settings.store_ttl)
        )
        await stack.enter_async_context(webhook_sender(app, book_of_app(app)))
        await stack.enter_async_context(durable_runs(app))
        await stack.enter_async_context(run_mirror(app, book_of_app(app)))
        await stack.enter_async_context(cron_scheduler(app))
        yield


__all__ = ["background_work", "router"]
