"""CORS as LangGraph's server does it: cross-origin requests allowed from any origin by
default (browser clients such as Agent Chat UI run on another origin and send their key in
a header), ``x-pagination-total``, ``x-pagination-next`` and ``content-location`` exposed,
preflights answered. Configured by ``http.cors`` in ``langgraph.json`` or the ``cors``
server setting (:class:`~graph_sessions.settings.CorsSettings`)."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from graph_sessions.settings import CorsSettings


def add_cors(app: FastAPI, cors: CorsSettings) -> None:
    """Add Starlette's CORS middleware with these settings (nothing when disabled). Call it
    after the other middlewares so it is the outermost."""
    if not cors.enabled:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=cors.allow_origins,
        allow_origin_regex=cors.allow_origin_regex,
        allow_methods=cors.allow_methods,
        allow_headers=cors.allow_headers,
        allow_credentials=cors.credentials,
        allow_private_network=cors.allow_private_network,
        expose_headers=cors.expose_headers,
        max_age=cors.max_age,
    )
