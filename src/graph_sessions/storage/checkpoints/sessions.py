"""Adapter for ``graph_sessions.checkpoint``'s savers: their storage engine does the work,
joining the caller's SQLite transaction."""

from __future__ import annotations

import sqlite3

from graph_sessions.checkpoint.base import SaverBase


class SessionsSaverAdmin:
    """:class:`~graph_sessions.storage.checkpoints.base.CheckpointAdmin` of our SQLite
    savers (sync or async): the public methods of their ``StorageEngine``."""

    def __init__(self, saver: SaverBase) -> None:
        self.engine = saver.engine

    def latest_id(self, tx: sqlite3.Connection, thread_id: str) -> str | None:
        """See ``CheckpointAdmin.latest_id``."""
        return self.engine.latest_checkpoint_id(tx, thread_id)

    def writes_mark(self, tx: sqlite3.Connection, thread_id: str, checkpoint_id: str | None) -> int:
        """See ``CheckpointAdmin.writes_mark`` (a sequence number, any thread)."""
        return self.engine.writes_mark()

    def delete_thread(self, tx: sqlite3.Connection, thread_id: str) -> int:
        """See ``CheckpointAdmin.delete_thread``."""
        return self.engine.delete_thread(tx, thread_id, join=True)

    def delete_after(
        self,
        tx: sqlite3.Connection,
        thread_id: str,
        checkpoint_id: str | None,
        *,
        writes_mark: int | None,
    ) -> None:
        """See ``CheckpointAdmin.delete_after``."""
        self.engine.delete_after(tx, thread_id, checkpoint_id, writes_mark=writes_mark, join=True)

    def keep_newest(self, tx: sqlite3.Connection, thread_id: str, keep: int) -> int:
        """See ``CheckpointAdmin.keep_newest``."""
        return self.engine.keep_newest(tx, thread_id, keep, join=True)

    def copy_thread(self, tx: sqlite3.Connection, source: str, target: str) -> None:
        """See ``CheckpointAdmin.copy_thread``."""
        self.engine.copy_thread(tx, source, target, join=True)
