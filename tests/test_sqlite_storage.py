"""SQLite storage details: WAL checkpoints happen off the commit path."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from graphs import chat_graph

import graph_sessions.storage.sqlite as sqlite_backend
from graph_sessions import GraphSessionManager


async def test_wal_is_checkpointed_in_the_background(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_backend, "_WAL_CHECK_SECONDS", 0.02)
    monkeypatch.setattr(sqlite_backend, "_WAL_CHECKPOINT_BYTES", 32 * 1024)
    db = tmp_path / "wal.db"
    async with GraphSessionManager(
        graph=chat_graph(), backend=f"sqlite:///{db}", sweep_interval=None
    ) as m:
        pages = await m.backend._call(
            lambda c: c.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        )  # type: ignore[attr-defined]
        assert (
            pages == sqlite_backend._INLINE_CHECKPOINT_PAGES
        )  # SQLite's in-commit checkpoint is only a backstop
        size_before = db.stat().st_size
        for i in range(60):
            await (await m.create(f"s{i}", metadata={"pad": "x" * 2000})).invoke(
                {"user_input": "y" * 2000}
            )
        # With SQLite's own limit far away, only the background thread can have copied the
        # WAL's pages into the database file while the manager is still open.
        deadline = time.monotonic() + 10
        while db.stat().st_size <= size_before and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert db.stat().st_size > size_before
        assert await m.count() == 60
