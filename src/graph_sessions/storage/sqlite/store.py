"""The SQLite backend's LangGraph store: LangGraph's ``AsyncSqliteStore`` with item TTLs on.

``AsyncSqliteStore`` implements expiry (``expires_at``/``ttl_minutes`` columns, refresh on
read, ``sweep_ttl``) but inherits ``supports_ttl = False`` from ``BaseStore`` through its
method resolution order, so ``BaseStore.aput`` refuses every ``ttl``. This subclass turns it
on, and reads refresh an item's TTL by default (LangGraph's ``TTLConfig`` default,
``refresh_on_read=True``; ``refresh_ttl=False`` on a read opts out). Expired items are
deleted by ``sweep_ttl`` (the server runs it every ``store.ttl.sweep_interval_minutes``).
"""

from __future__ import annotations

from typing import Any

import aiosqlite
from langgraph.store.sqlite.aio import AsyncSqliteStore

#: The TTL configuration a store starts with (no default TTL; reads refresh).
DEFAULT_STORE_TTL: dict[str, Any] = {"refresh_on_read": True}


class SessionsSqliteStore(AsyncSqliteStore):
    """``AsyncSqliteStore`` whose ``ttl`` works (see the module doc)."""

    supports_ttl = True

    def __init__(self, conn: aiosqlite.Connection, **kwargs: Any) -> None:
        kwargs.setdefault("ttl", dict(DEFAULT_STORE_TTL))
        super().__init__(conn, **kwargs)
