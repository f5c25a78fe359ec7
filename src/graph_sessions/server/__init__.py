"""The HTTP server: REST + SSE over FastAPI and uvicorn.

* :func:`create_app` builds the FastAPI app for a manager (embed it in your own server);
* :func:`serve` runs it on uvicorn with JSON logs and graceful shutdown
  (``graph-sessions serve`` and ``python -m graph_sessions.server`` call it);
* :class:`ServerSettings` holds the bind address, authentication, limits and timeouts.

The names are imported on first use, so that reading the settings (the configuration file
does) does not import FastAPI, uvicorn and the core.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from graph_sessions.server.app import create_app
    from graph_sessions.server.runner import serve
    from graph_sessions.server.settings import ApiKey, ServerSettings, parse_api_keys

_HOMES = {
    "create_app": "graph_sessions.server.app",
    "serve": "graph_sessions.server.runner",
    "ApiKey": "graph_sessions.server.settings",
    "ServerSettings": "graph_sessions.server.settings",
    "parse_api_keys": "graph_sessions.server.settings",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


__all__ = ["ApiKey", "ServerSettings", "create_app", "parse_api_keys", "serve"]
