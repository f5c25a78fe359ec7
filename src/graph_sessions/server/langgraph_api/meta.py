"""``/ok`` and ``/info`` as LangGraph's server answers them."""

from __future__ import annotations

from starlette.responses import Response

from graph_sessions import __version__
from graph_sessions.server.jsonable import JSONResponse
from graph_sessions.server.routing import GuardedRouter

router = GuardedRouter(tags=["langgraph: meta"])


@router.get("/ok", summary="Liveness (LangGraph)")
async def ok() -> Response:
    """``{"ok": true}`` while the process serves requests."""
    return JSONResponse({"ok": True, "services": {}})


@router.get("/info", summary="Server information (LangGraph)")
async def info() -> Response:
    """The server's version and the feature flags LangGraph's clients look at."""
    return JSONResponse(
        {
            "version": __version__,
            "server": "graph-sessions",
            "flags": {"assistants": True, "crons": False, "langsmith": False},
        }
    )
