"""The checkpoint administration a backend needs, whatever saver holds its checkpoints."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar, runtime_checkable

Tx = TypeVar("Tx", contravariant=True)


class CheckpointAdmin(Protocol[Tx]):
    """Operations on a thread's checkpoints beyond LangGraph's saver API, each run inside
    the backend's own transaction ``tx`` (a ``sqlite3.Connection`` for the SQLite savers,
    ``None`` for in-process ones), so that e.g. starting a run can record the latest
    checkpoint in the same transaction that marks the session running.

    A backend picks its adapter once (:func:`graph_sessions.storage.checkpoints.admin_for`)
    and never looks at the saver's class or tables itself."""

    def latest_id(self, tx: Tx, thread_id: str) -> str | None:
        """Id of the thread's newest root-namespace checkpoint, or ``None``."""
        ...

    def writes_mark(self, tx: Tx, thread_id: str, checkpoint_id: str | None) -> int:
        """A mark of the pending writes stored so far (on ``checkpoint_id``, the latest),
        such that :meth:`delete_after` can drop the writes stored after it."""
        ...

    def delete_thread(self, tx: Tx, thread_id: str) -> int:
        """Delete every checkpoint and write of the thread; how many rows went (0: none)."""
        ...

    def delete_after(
        self, tx: Tx, thread_id: str, checkpoint_id: str | None, *, writes_mark: int | None
    ) -> None:
        """Drop the checkpoints (and writes) newer than ``checkpoint_id`` (all when
        ``None``) and, with ``writes_mark``, the writes stored after that mark."""
        ...

    def keep_newest(self, tx: Tx, thread_id: str, keep: int) -> int:
        """Keep the newest ``keep`` root checkpoints (at least one), the subgraph ones
        written alongside, and the older ones their ``DeltaChannel`` values are rebuilt
        from; returns how many root checkpoints were removed."""
        ...

    def copy_thread(self, tx: Tx, source: str, target: str) -> None:
        """Copy every checkpoint and write of ``source`` to ``target``."""
        ...


@runtime_checkable
class AsyncCheckpointAdmin(Protocol):
    """The same operations for an asyncio backend (Postgres): each runs on ``cur``, a
    cursor in the backend's transaction. :meth:`arun_start` is ``latest_id`` and
    ``writes_mark`` together, as a run's start records both."""

    async def alatest_id(self, cur: Any, thread_id: str) -> str | None:
        """See :meth:`CheckpointAdmin.latest_id`."""
        ...

    async def arun_start(self, cur: Any, thread_id: str) -> tuple[str | None, int]:
        """The latest checkpoint id and a writes mark on it."""
        ...

    async def adelete_thread(self, cur: Any, thread_id: str) -> int:
        """See :meth:`CheckpointAdmin.delete_thread`."""
        ...

    async def adelete_after(
        self, cur: Any, thread_id: str, checkpoint_id: str | None, *, writes_mark: int | None
    ) -> None:
        """See :meth:`CheckpointAdmin.delete_after`."""
        ...

    async def akeep_newest(self, cur: Any, thread_id: str, keep: int) -> int:
        """See :meth:`CheckpointAdmin.keep_newest`."""
        ...

    async def acopy_thread(self, cur: Any, source: str, target: str) -> None:
        """See :meth:`CheckpointAdmin.copy_thread`."""
        ...
