"""The LangGraph Agent Server API (assistants, threads, runs…), mounted by ``create_app``
beside ``/sessions`` over the same core: a thread is a session, an assistant a graph, a run
our run. What LangGraph's own server answers is recorded in ``reference/langgraph-api/``;
errors on these routes are shaped ``{"detail": text}`` (``server/errors.py``)."""

from __future__ import annotations

from fastapi import APIRouter

from graph_sessions.server.langgraph_api import (
    assistants,
    meta,
    runs,
    stateless_runs,
    store,
    thread_state,
    thread_stream,
    threads,
)

router = APIRouter()
router.include_router(meta.router)
router.include_router(threads.router)
router.include_router(thread_state.router)
router.include_router(thread_stream.router)
router.include_router(assistants.router)
router.include_router(runs.router)
router.include_router(stateless_runs.router)
router.include_router(store.router)

__all__ = ["router"]
