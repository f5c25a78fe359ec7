"""The HTTP server: REST + SSE over FastAPI and uvicorn.

* :func:`create_app` builds the FastAPI app for a manager (embed it in your own server);
* :func:`serve` runs it on uvicorn with JSON logs and graceful shutdown
  (``graph-sessions serve`` and ``python -m graph_sessions.server`` call it);
* :class:`ServerSettings` holds the bind address, authentication, limits and timeouts.
"""

from __future__ import annotations

from graph_sessions.server.app import create_app
from graph_sessions.server.runner import serve
from graph_sessions.settings import ApiKey, ServerSettings, parse_api_keys

__all__ = ["ApiKey", "ServerSettings", "create_app", "parse_api_keys", "serve"]
