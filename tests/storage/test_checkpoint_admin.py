"""``CheckpointAdmin`` adapters: the right one per saver kind, and what only they do
(``copy_thread``, the public-API fallback's limits)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver as LangGraphSqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver as LangGraphAsyncSqliteSaver
from support.contract import cfg, graph, turns

from graph_sessions.checkpoint import AsyncSqliteSaver, SqliteSaver
from graph_sessions.storage import Backend
from graph_sessions.storage.checkpoints import (
    InMemoryAdmin,
    LangGraphSqliteAdmin,
    PublicApiAdmin,
    SessionsSaverAdmin,
    admin_for,
    register_admin,
)
from graph_sessions.storage.sqlite import SqliteBackend
from graph_sessions.storage.sqlite.fencing import immediate_tx


async def in_tx(backend: Backend, fn: Callable[[Any], Any]) -> Any:
    """``fn(tx)`` inside one of the backend's transactions."""
    backend = getattr(backend, "inner", backend)  # storage/encrypted.py's wrapper
    if isinstance(backend, SqliteBackend):
        return await backend.connection.call(lambda c: immediate_tx(c, fn))
    return fn(None)


async def test_each_saver_kind_gets_its_adapter(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "a.db", check_same_thread=False)
    async with aiosqlite.connect(tmp_path / "b.db") as aconn:
        kinds = {
            SqliteSaver(conn): SessionsSaverAdmin,
            AsyncSqliteSaver(aconn): SessionsSaverAdmin,
            LangGraphSqliteSaver(conn): LangGraphSqliteAdmin,
            LangGraphAsyncSqliteSaver(aconn): LangGraphSqliteAdmin,
            InMemorySaver(): InMemoryAdmin,
        }
        for saver, adapter in kinds.items():
            assert type(admin_for(saver)) is adapter, type(saver)
    conn.close()

    class OtherSaver(InMemorySaver):
        pass

    assert type(admin_for(OtherSaver())) is InMemoryAdmin  # subclasses inherit the adapter
    register_admin(OtherSaver, PublicApiAdmin)
    assert type(admin_for(OtherSaver())) is PublicApiAdmin


async def test_copy_thread_copies_the_whole_history(backend: Backend) -> None:
    await turns(backend, "a", 3)
    admin = backend.admin  # type: ignore[attr-defined]
    await in_tx(backend, lambda tx: admin.copy_thread(tx, "a", "b"))
    g = graph(backend)
    assert (await g.aget_state(cfg("b"))).values == (await g.aget_state(cfg("a"))).values
    history = [s.values async for s in g.aget_state_history(cfg("a"))]
    assert [s.values async for s in g.aget_state_history(cfg("b"))] == history
    assert await backend.latest_checkpoint_id("b") == await backend.latest_checkpoint_id("a")
    await turns(backend, "b", 1)  # the copy lives on by itself
    assert (await g.aget_state(cfg("a"))).values["turns"] == ["u", "t"] * 3
    deleted = await in_tx(backend, lambda tx: admin.delete_thread(tx, "a"))
    assert deleted > 0 and await backend.latest_checkpoint_id("a") is None
    assert (await g.aget_state(cfg("b"))).values["turns"] == ["u", "t"] * 4


def test_the_public_api_fallback_does_what_the_api_allows() -> None:
    saver = InMemorySaver()
    admin = PublicApiAdmin(saver)
    builder_graph = graph(type("B", (), {"checkpointer": saver})())  # type: ignore[arg-type]
    for _ in range(2):
        builder_graph.invoke({"turns": ["u"]}, cfg("s"))
    latest = admin.latest_id(None, "s")
    assert latest is not None and latest == max(saver.storage["s"][""])
    admin.delete_after(None, "s", latest, writes_mark=None)  # nothing newer: fine
    assert admin.keep_newest(None, "s", 100) == 0
    with pytest.raises(NotImplementedError):
        admin.delete_after(None, "s", min(saver.storage["s"][""]), writes_mark=None)
    with pytest.raises(NotImplementedError):
        admin.keep_newest(None, "s", 1)
    assert admin.delete_thread(None, "s") > 0
    assert admin.latest_id(None, "s") is None
    assert admin.writes_mark(None, "s", None) == 0
