"""What both savers share: options, version numbering, the storage engine."""

from __future__ import annotations

import random
from typing import TypedDict

from langgraph.checkpoint.base import BaseCheckpointSaver, SerializerProtocol

from graph_sessions.checkpoint.engine import StorageEngine
from graph_sessions.checkpoint.schema import check_synchronous
from graph_sessions.crypto import KeyRing, parse_keys


def next_channel_version(current: str | int | None) -> str:
    """The version after ``current``: ``"<n:012>.<32 random bits:08x>"`` (see
    ``SaverBase.get_next_version``)."""
    if current is None:
        current_v = 0
    elif isinstance(current, int):
        current_v = current
    else:
        current_v = int(current.split(".")[0])
    return f"{current_v + 1:012}.{random.getrandbits(32):08x}"


class EngineOptions(TypedDict, total=False):
    """The storage engine's options, as keyword arguments of every saver (``SaverBase``)."""

    snapshot_every: int
    cache_threads: int
    cache_bytes: int
    share_values: bool
    encryption_key: str | bytes | KeyRing | None


class SaverBase(BaseCheckpointSaver[str]):
    """Common constructor options of ``SqliteSaver`` and ``AsyncSqliteSaver``.

    Args:
        serde: serializer for checkpoints, values and writes (LangGraph's
            ``JsonPlusSerializer`` by default).
        synchronous: ``PRAGMA synchronous`` set by ``setup()``: ``"NORMAL"`` (default; in
            WAL mode a commit survives a process crash, a power loss may drop the last
            commits) or ``"FULL"`` (survives power loss, one more fsync per commit);
            ``None`` leaves the connection as it is.
        snapshot_every: a growing list is stored whole at least every this many versions;
            in between, a version is rebuilt from a few dozen (tail) rows at most.
        cache_threads / cache_bytes: bound the memory used to compute list deltas.
        share_values: hand out the list elements it keeps (LangChain messages…) instead of
            fresh copies on every read, and skip re-checking elements that are the very
            objects it handed out or stored. Long threads read and write in near-constant
            time, under one contract: **nothing mutates a state value in place** (nodes
            return new values, as LangGraph's reducers assume; ``add_messages`` does).
            A value mutated in place may be stored as it was before the mutation and is
            visible to other readers of the same thread in this process. Off by default.
        encryption_key: encrypt what is stored (AES-256-GCM): each checkpoint body, each
            stored value or list tail and each write, bound to its row; ids, versions and
            checkpoint metadata stay readable. A key ring setting (``graph_sessions.crypto``:
            ``"id:base64"``, several newest first, or a key file); rows written without
            encryption stay readable. ``None``: plaintext.
    """

    is_setup: bool

    def __init__(
        self,
        *,
        serde: SerializerProtocol | None = None,
        synchronous: str | None = "NORMAL",
        snapshot_every: int = 1024,
        cache_threads: int = 512,
        cache_bytes: int = 64 << 20,
        share_values: bool = False,
        encryption_key: str | bytes | KeyRing | None = None,
    ) -> None:
        super().__init__(serde=serde)
        self.synchronous = check_synchronous(synchronous)
        self.engine = StorageEngine(
            snapshot_every=snapshot_every,
            cache_threads=cache_threads,
            cache_bytes=cache_bytes,
            share_values=share_values,
        )
        self.engine.serde = self.serde
        self.engine.cipher = parse_keys(encryption_key)
        self.is_setup = False

    def get_next_version(self, current: str | None, channel: None) -> str:
        """The next channel version: ``"<n:012>.<32 random bits:08x>"``.

        Zero-padded so that versions compare as strings; the random part keeps two forks
        of a thread that reach the same number from sharing a stored value. Shorter than
        LangGraph's ``"<n:032>.<random:016>"`` (it is stored many times per checkpoint),
        and it still compares above any of LangGraph's versions below 10**12.
        """
        return next_channel_version(current)
