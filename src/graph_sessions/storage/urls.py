"""Pick a backend from a URL: ``sqlite:///path.db`` (default), ``memory://``."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from graph_sessions.errors import BackendError
from graph_sessions.storage.backend import Backend

DEFAULT_BACKEND_URL = "sqlite:///sessions.db"


def backend_from_url(url: str | Path | Backend | None) -> Backend:
    """Build (not open) the backend a URL names.

    ``sqlite:///relative.db``, ``sqlite:////abs/path.db``, ``sqlite:///:memory:``, a bare
    file path (``sessions.db``), or ``memory://``. Query options for SQLite:
    ``?synchronous=FULL``, ``?checkpointer=langgraph`` (LangGraph's saver instead of ours).
    """
    if isinstance(url, Backend):
        return url
    if url is None:
        url = DEFAULT_BACKEND_URL
    text = str(url).strip()
    if not text:
        raise BackendError(
            "the backend URL is empty; use e.g. 'sqlite:///sessions.db' or 'memory://'"
        )
    if text in ("memory", "memory://", "memory:"):
        from graph_sessions.storage.memory import MemoryBackend

        return MemoryBackend()
    if "://" not in text:
        from graph_sessions.storage.sqlite import SqliteBackend

        return SqliteBackend(text)
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme in ("sqlite", "sqlite3"):
        from graph_sessions.storage.sqlite import SqliteBackend

        path = parts.netloc + parts.path
        if path.startswith("/"):
            path = path[1:]
        if not path:
            raise BackendError(f"{text!r} names no file; use e.g. 'sqlite:///sessions.db'")
        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        unknown = set(options) - {"synchronous", "checkpointer"}
        if unknown:
            raise BackendError(
                f"unknown SQLite option(s) {sorted(unknown)} in {text!r}; "
                "known: synchronous, checkpointer"
            )
        return SqliteBackend(
            path,
            synchronous=options.get("synchronous", "NORMAL"),
            checkpointer=options.get("checkpointer", "auto"),
        )
    if scheme in ("postgres", "postgresql", "redis", "rediss"):
        raise BackendError(
            f"the {scheme} backend is not available yet; use 'sqlite:///…' or 'memory://'"
        )
    raise BackendError(
        f"unknown backend scheme {scheme!r} in {text!r}; use 'sqlite:///path.db' or 'memory://'"
    )
