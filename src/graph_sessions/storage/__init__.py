"""Storage backends: one database per deployment holds the registry, checkpoints, runs,
events, messages and the LangGraph store. :func:`backend_from_url` picks one from a URL
(``sqlite:///sessions.db`` -> :class:`SqliteBackend`, ``memory://`` -> :class:`MemoryBackend`)."""

from graph_sessions.storage.backend import Backend, SessionQuery
from graph_sessions.storage.memory import MemoryBackend
from graph_sessions.storage.sqlite import SqliteBackend
from graph_sessions.storage.urls import backend_from_url

__all__ = ["Backend", "MemoryBackend", "SessionQuery", "SqliteBackend", "backend_from_url"]
