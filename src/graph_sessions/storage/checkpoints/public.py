"""Fallback adapter for any other LangGraph saver: only its public (sync) API."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver


def _config(thread_id: str, checkpoint_id: str | None = None) -> RunnableConfig:
    conf: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ""}
    if checkpoint_id is not None:
        conf["checkpoint_id"] = checkpoint_id
    return {"configurable": conf}


class PublicApiAdmin:
    """:class:`~graph_sessions.storage.checkpoints.base.CheckpointAdmin` through
    ``BaseCheckpointSaver``'s public methods (``tx`` is unused). Removing single
    checkpoints or writes has no public method: :meth:`delete_after` and
    :meth:`keep_newest` raise ``NotImplementedError`` when they would have to; a backend
    on such a saver registers its own adapter instead."""

    def __init__(self, saver: BaseCheckpointSaver[Any]) -> None:
        self.saver = saver

    def _root_ids(self, thread_id: str) -> list[str]:
        return [
            t.config["configurable"]["checkpoint_id"]
            for t in self.saver.list(_config(thread_id))
            if t.config["configurable"].get("checkpoint_ns", "") == ""
        ]

    def latest_id(self, tx: object, thread_id: str) -> str | None:
        """See ``CheckpointAdmin.latest_id``."""
        found = self.saver.get_tuple(_config(thread_id))
        return None if found is None else str(found.config["configurable"]["checkpoint_id"])

    def writes_mark(self, tx: object, thread_id: str, checkpoint_id: str | None) -> int:
        """See ``CheckpointAdmin.writes_mark``: how many writes ``checkpoint_id`` has."""
        if checkpoint_id is None:
            return 0
        found = self.saver.get_tuple(_config(thread_id, checkpoint_id))
        return len(found.pending_writes or []) if found is not None else 0

    def delete_thread(self, tx: object, thread_id: str) -> int:
        """See ``CheckpointAdmin.delete_thread`` (counts the checkpoints, not the writes)."""
        n = sum(1 for _ in self.saver.list({"configurable": {"thread_id": thread_id}}))
        self.saver.delete_thread(thread_id)
        return n

    def delete_after(
        self, tx: object, thread_id: str, checkpoint_id: str | None, *, writes_mark: int | None
    ) -> None:
        """See ``CheckpointAdmin.delete_after``: possible when it deletes the whole thread
        or nothing."""
        if checkpoint_id is None:
            self.saver.delete_thread(thread_id)
            return
        newer = [c for c in self._root_ids(thread_id) if c > checkpoint_id]
        extra = writes_mark is not None and self.writes_mark(tx, thread_id, checkpoint_id) > (
            writes_mark
        )
        if newer or extra:
            raise NotImplementedError(
                f"{type(self.saver).__name__} has no public way to delete single checkpoints "
                "or writes: register a CheckpointAdmin for it"
            )

    def keep_newest(self, tx: object, thread_id: str, keep: int) -> int:
        """See ``CheckpointAdmin.keep_newest``: possible when nothing is to be removed."""
        if len(self._root_ids(thread_id)) <= max(keep, 1):
            return 0
        raise NotImplementedError(
            f"{type(self.saver).__name__} has no public way to delete single checkpoints: "
            "register a CheckpointAdmin for it"
        )

    def copy_thread(self, tx: object, source: str, target: str) -> None:
        """See ``CheckpointAdmin.copy_thread``: the saver's own ``copy_thread``."""
        self.saver.copy_thread(source, target)
