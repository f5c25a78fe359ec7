"""The SQLite backend's LangGraph store: item TTLs work (LangGraph's AsyncSqliteStore
implements them but refuses ``ttl`` through its MRO), reads refresh them, the sweep deletes
expired items."""

from __future__ import annotations

from pathlib import Path

from graph_sessions.storage.sqlite.backend import SqliteBackend
from graph_sessions.storage.sqlite.store import SessionsSqliteStore


async def _expires_at(backend: SqliteBackend, ns: str, key: str) -> str | None:
    row = await backend.connection.call(
        lambda c: c.execute(
            "SELECT expires_at FROM store WHERE prefix = ? AND key = ?", (ns, key)
        ).fetchone()
    )
    return None if row is None else row[0]


async def test_ttl_put_refresh_and_sweep(tmp_path: Path) -> None:
    backend = SqliteBackend(str(tmp_path / "store.db"))
    await backend.open()
    try:
        store = backend.store
        assert isinstance(store, SessionsSqliteStore) and store.supports_ttl
        await store.aput(("a", "b"), "keep", {"v": 1})
        await store.aput(("a", "b"), "brief", {"v": 2}, ttl=10)
        assert await _expires_at(backend, "a.b", "keep") is None
        first = await _expires_at(backend, "a.b", "brief")
        assert first is not None

        # Move the expiry into the past, then a refreshing read pushes it forward again.
        await backend.connection.call(
            lambda c: c.execute(
                "UPDATE store SET expires_at = '2000-01-01 00:00:00' WHERE key = 'brief'"
            )
        )
        item = await store.aget(("a", "b"), "brief", refresh_ttl=True)
        assert item is not None and item.value == {"v": 2}
        refreshed = await _expires_at(backend, "a.b", "brief")
        assert refreshed is not None and refreshed > "2001"

        # Expired: the sweep deletes it and leaves the item without a TTL.
        await backend.connection.call(
            lambda c: c.execute(
                "UPDATE store SET expires_at = '2000-01-01 00:00:00' WHERE key = 'brief'"
            )
        )
        assert await store.aget(("a", "b"), "brief", refresh_ttl=False) is not None
        assert await store.sweep_ttl() == 1
        assert await store.aget(("a", "b"), "brief") is None
        assert await store.aget(("a", "b"), "keep") is not None
    finally:
        await backend.close()


async def test_close_stops_a_running_sweeper(tmp_path: Path) -> None:
    backend = SqliteBackend(str(tmp_path / "store.db"))
    await backend.open()
    store = backend.store
    assert isinstance(store, SessionsSqliteStore)
    task = await store.start_ttl_sweeper(sweep_interval_minutes=1)
    await backend.close()
    assert task.done()
