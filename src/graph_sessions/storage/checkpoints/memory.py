"""Adapter for LangGraph's ``InMemorySaver``: the one place that reads and edits its
``storage``/``writes``/``blobs`` dicts. Each method runs without awaiting, so it is atomic
on the event loop (the in-process backend's transaction)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping

from langgraph.checkpoint.memory import InMemorySaver

from graph_sessions.checkpoint.delta import delta_support


class InMemoryAdmin:
    """:class:`~graph_sessions.storage.checkpoints.base.CheckpointAdmin` of an
    ``InMemorySaver`` (``tx`` is unused)."""

    def __init__(self, saver: InMemorySaver) -> None:
        self.saver = saver

    def _root(self, thread_id: str) -> Mapping[str, object]:
        # .get, not []: the saver's dicts are defaultdicts, a lookup must not create entries
        return self.saver.storage.get(thread_id, {}).get("", {})

    def latest_id(self, tx: object, thread_id: str) -> str | None:
        """See ``CheckpointAdmin.latest_id``."""
        root = self._root(thread_id)
        return max(root) if root else None

    def writes_mark(self, tx: object, thread_id: str, checkpoint_id: str | None) -> int:
        """See ``CheckpointAdmin.writes_mark``: how many writes ``checkpoint_id`` has (they
        are kept in insertion order)."""
        return len(self.saver.writes.get((thread_id, "", checkpoint_id or ""), {}))

    def delete_thread(self, tx: object, thread_id: str) -> int:
        """See ``CheckpointAdmin.delete_thread``."""
        n = sum(len(c) for c in self.saver.storage.get(thread_id, {}).values())
        n += sum(1 for key in self.saver.writes if key[0] == thread_id)
        self.saver.delete_thread(thread_id)
        return n

    def _drop(self, thread_id: str, keep: Callable[[str], bool]) -> int:
        removed = 0
        for ns, checkpoints in self.saver.storage.get(thread_id, {}).items():
            for cid in [c for c in checkpoints if not keep(c)]:
                del checkpoints[cid]
                removed += ns == ""
        for key in [k for k in self.saver.writes if k[0] == thread_id and not keep(k[2])]:
            del self.saver.writes[key]
        return removed

    def delete_after(
        self, tx: object, thread_id: str, checkpoint_id: str | None, *, writes_mark: int | None
    ) -> None:
        """See ``CheckpointAdmin.delete_after``."""
        if checkpoint_id is None:
            self.saver.delete_thread(thread_id)
            return
        self._drop(thread_id, lambda cid: cid <= checkpoint_id)
        if writes_mark is not None:
            # Writes are kept in insertion order: the ones past the mark are newer.
            writes = self.saver.writes.get((thread_id, "", checkpoint_id), {})
            for key in list(writes)[writes_mark:]:
                del writes[key]

    def keep_newest(self, tx: object, thread_id: str, keep: int) -> int:
        """See ``CheckpointAdmin.keep_newest``."""
        root = sorted(self._root(thread_id), reverse=True)
        if len(root) <= keep:
            return 0
        oldest_kept = root[max(keep, 1) - 1]
        # older checkpoints the kept ones' DeltaChannel values are rebuilt from stay
        support = delta_support(self.saver, thread_id, root[: max(keep, 1)])
        return self._drop(thread_id, lambda cid: cid >= oldest_kept or cid in support)

    def copy_thread(self, tx: object, source: str, target: str) -> None:
        """See ``CheckpointAdmin.copy_thread``."""
        saver = self.saver
        for ns, checkpoints in saver.storage.get(source, {}).items():
            saver.storage[target][ns].update(copy.deepcopy(checkpoints))
        for key in [k for k in saver.writes if k[0] == source]:
            saver.writes[(target, *key[1:])] = copy.deepcopy(saver.writes[key])
        for blob in [k for k in saver.blobs if k[0] == source]:
            saver.blobs[(target, *blob[1:])] = saver.blobs[blob]
