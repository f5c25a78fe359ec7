"""Storage backends: one database per deployment holds the registry, checkpoints, runs,
events, messages and the LangGraph store. :func:`open_backend` picks one from a URL."""

from graph_sessions.storage.backend import Backend, SessionQuery
from graph_sessions.storage.urls import backend_from_url

__all__ = ["Backend", "SessionQuery", "backend_from_url"]
