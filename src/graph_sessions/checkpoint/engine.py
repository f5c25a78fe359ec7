"""The storage engine behind both savers: every SQL statement and every byte format.

All methods are synchronous and take a ``sqlite3.Connection`` (or the adapter of a
Postgres connection that speaks its calls, ``pg_conn.py``); the savers decide on which
thread they run and under which lock. Each public method is one transaction (``BEGIN
IMMEDIATE`` for writes, a read transaction for reads, so a read sees one snapshot); with
``join=True`` a method runs inside the caller's open transaction instead (the SQLite
backend uses that to put a checkpoint cleanup into its own registry transaction).

Format (see ``schema.py`` for the tables):

* a checkpoint row holds the checkpoint without its channel values;
* a channel value is stored once per (thread, namespace, channel, version), only when
  its version is new in ``put`` (as LangGraph's Postgres saver does);
* a list value whose msgpack element bytes start with the element bytes of the version
  this process stored (or read) last for that channel is stored as a *delta*: the bytes of
  the elements appended since a base version, plus a reference to that base. Versions are
  numbered from the last full snapshot; position p's base is p minus the largest power of
  16 dividing p (a skip list), so rebuilding any version reads a few dozen rows at most
  and each element is stored about log16(``snapshot_every``) times; a full snapshot is
  written every ``snapshot_every`` positions. The check compares the serialized bytes,
  never trusts the reducer, so nodes that mutate lists in place cannot corrupt it: a
  value that does not extend is stored whole.
* rows of the blob table are never modified once written (``INSERT OR IGNORE``), so delta
  chains are acyclic; blobs no longer reachable from any checkpoint are deleted by
  ``_collect_garbage`` after pruning or deleting runs.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeGuard, cast

import ormsgpack
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
    PendingWrite,
    SerializerProtocol,
    get_checkpoint_id,
    get_checkpoint_metadata,
    writes_sort_key,
)
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.serde.types import _DeltaSnapshot
from langgraph.checkpoint.sqlite.utils import search_where

from graph_sessions.checkpoint.dbapi import Connection, Cursor
from graph_sessions.checkpoint.delta import walk_delta_support
from graph_sessions.checkpoint.elements import (
    Elements,
    applies,
    decode_list,
    encode_list,
    prefix_count,
)
from graph_sessions.checkpoint.msgpack_list import array_header, split_array
from graph_sessions.checkpoint.schema import (
    BLOBS,
    CHECKPOINTS,
    KIND_DELTA,
    KIND_EMPTY,
    KIND_FULL,
    WRITES,
)
from graph_sessions.crypto import (
    KeyRing,
    aad_of,
    is_sealed,
    is_sealed_json,
    open_bytes,
    open_json,
    seal,
    seal_json,
)

CHECKPOINT_COLUMNS = (
    "thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata"
)
_BLOB_COLUMNS = "b.thread_id, b.checkpoint_ns, b.channel, b.version, b.kind, b.type, b.base_version, b.count, b.data, b.depth"
# A checkpoint and its ancestors, nearest first, by parent links (LangGraph's own SQLite
# saver walks the same way). ``CROSS JOIN`` keeps the chain as the outer loop: one primary
# key lookup per step, whatever the planner's statistics.
#: what the ancestry cache keeps of a checkpoint body: (body bytes, channel versions,
#: whether the body stores channel values itself)
_Ancestor = tuple[bytes, dict[str, str], bool]


class _DeltaWalk:
    """The state of one DeltaChannel ancestor walk: each channel's chain of checkpoints
    (nearest first) and, once found, where its seed is."""

    def __init__(self, channels: Sequence[str]) -> None:
        self.channels = list(channels)
        self.active = set(channels)
        self.chain_by_ch: dict[str, list[str]] = {ch: [] for ch in channels}
        self.seed_key: dict[str, BlobKey] = {}
        self.seed_inline: dict[str, Any] = {}

    def visit(
        self,
        serde: SerializerProtocol,
        thread_id: str,
        ns: str,
        cid: str,
        hit: _Ancestor,
        stored: set[tuple[str, str]],
        body: Callable[[], tuple[str, bytes]],
    ) -> bool:
        """Take one ancestor into the walk; True once every channel has its seed. ``body``
        gives its stored body (opened), read only for a value stored in the body itself."""
        for ch in self.active:
            self.chain_by_ch[ch].append(cid)
        versions = hit[1]
        for ch in list(self.active):
            if ch in versions:
                if (ch, versions[ch]) in stored:
                    self.seed_key[ch] = (thread_id, ns, ch, versions[ch])
                    self.active.discard(ch)
            elif hit[2]:  # a value stored in the body itself (not versioned)
                inline = serde.loads_typed(_decompress(*body()))["channel_values"]
                if ch in inline:
                    self.seed_inline[ch] = inline[ch]
                    self.active.discard(ch)
        return not self.active


_ANCESTORS_SQL = (
    "WITH RECURSIVE chain(checkpoint_id, parent_checkpoint_id, type, checkpoint) AS ("
    f"SELECT checkpoint_id, parent_checkpoint_id, type, checkpoint FROM {CHECKPOINTS} "
    "WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ? UNION ALL "
    "SELECT c.checkpoint_id, c.parent_checkpoint_id, c.type, c.checkpoint "
    f"FROM chain a CROSS JOIN {CHECKPOINTS} c ON c.checkpoint_id = a.parent_checkpoint_id "
    "WHERE c.thread_id = ? AND c.checkpoint_ns = ?) "
    "SELECT checkpoint_id, type, checkpoint, parent_checkpoint_id FROM chain"
)
_DELTA_COUNTERS = '"counters_since_delta_snapshot"'
# Bounds on the checkpoints whose channel versions DeltaChannel reads remember.
_ANCESTRY_PER_THREAD = 4096
_ANCESTRY_TOTAL = 32768
_KEYS_PER_QUERY = 200  # 4 parameters each: far below SQLite's variable limit
_NOTHING: Any = object()
_IDS_PER_QUERY = 500

BlobKey = tuple[str, str, str, str]  # thread_id, checkpoint_ns, channel, version
BlobRow = tuple[
    int, str | None, str | None, int, bytes | None, int
]  # kind, type, base, count, data, depth
Row = tuple[str, str, str, str | None, str, bytes, bytes | None]


_ZD = "zd1:"
# A preset dictionary for the checkpoint bodies: the msgpack of a typical body. Most of a
# body is field names, channel names and version strings; with this dictionary even a
# 300-byte body compresses well. Never change these bytes: stored rows need them.
_ZDICT = (
    b"\x87\xa1v\x04\xa2ts\xd9 2026-11-23T10:59:03.869304+00:00\xaechannel_values\x80"
    b"\xb0channel_versions\x86\xa9__start__\xb5000000000123.0a1b2c3d\xa8messages"
    b"\xb5000000000123.0a1b2c3d\xafbranch:to:agent\xb5000000000123.0a1b2c3d"
    b"\xad__interrupt__\xb5000000000123.0a1b2c3d\xae__pregel_tasks"
    b"\xb5000000000123.0a1b2c3d\xa4turn\xb5000000000123.0a1b2c3d\xadversions_seen\x84"
    b"\xa9__input__\x80\xa9__start__\x81\xa9__start__\xb5000000000123.0a1b2c3d\xa5agent"
    b"\x81\xafbranch:to:agent\xb5000000000123.0a1b2c3d\xa5tools\x81\xafbranch:to:tools"
    b"\xb5000000000123.0a1b2c3d\xb0updated_channels\x93\xa8messages\xaabranch:to:"
    b"\xa9__pregel_\xadpending_sends\x90"
)
# Delta bases: position p's base is p minus the largest power of _FANOUT dividing p, so a
# delta holds 1, _FANOUT, _FANOUT**2, ... versions' worth of elements; rebuilding any
# version reads at most (_FANOUT - 1) rows per power of _FANOUT below snapshot_every,
# and each element is stored about log_FANOUT(snapshot_every) times.
_FANOUT = 16


def _is_delta_snapshot(data: bytes) -> bool:
    """Whether msgpack ``data`` is one ext value of LangGraph's ``_DeltaSnapshot`` code (7)."""
    if not data:
        return False
    first = data[0]
    if 0xD4 <= first <= 0xD8:  # fixext 1-16
        offset = 1
    elif 0xC7 <= first <= 0xC9:  # ext 8, 16, 32
        offset = 1 + (1, 2, 4)[first - 0xC7]
    else:
        return False
    return len(data) > offset and data[offset] == 7


def _compress(type_: str, data: bytes) -> tuple[str, bytes]:
    packer = zlib.compressobj(6, zlib.DEFLATED, -15, zdict=_ZDICT)
    packed = packer.compress(data) + packer.flush()
    return (_ZD + type_, packed) if len(packed) < len(data) else (type_, data)


def _decompress(type_: str, data: bytes) -> tuple[str, bytes]:
    if type_.startswith(_ZD):
        unpacker = zlib.decompressobj(-15, zdict=_ZDICT)
        return type_[len(_ZD) :], unpacker.decompress(data) + unpacker.flush()
    return type_, data


# Associated data binding a sealed column to its row (see ``StorageEngine.cipher``). The
# thread id is left out on purpose: ``copy_thread`` copies rows as they are.
def aad_checkpoint(ns: str, checkpoint_id: str) -> bytes:
    return f"c\0{ns}\0{checkpoint_id}".encode()


def aad_value(ns: str, channel: str, version: str) -> bytes:
    return f"v\0{ns}\0{channel}\0{version}".encode()


def aad_write(ns: str, checkpoint_id: str, task_id: str, idx: int, channel: str) -> bytes:
    return f"w\0{ns}\0{checkpoint_id}\0{task_id}\0{idx}\0{channel}".encode()


#: checkpoint metadata keys kept readable under encryption: LangGraph's own (the engine,
#: history filters and DeltaChannel retention read them) and the API's ids; the values of
#: every other key (the caller's config and metadata, copied by LangGraph) are sealed
PLAIN_METADATA = frozenset(
    ("source", "step", "parents", "run_id", "counters_since_delta_snapshot", "thread_id")
    + ("checkpoint_ns", "graph_id", "assistant_id")
)


def _seal_metadata(ring: KeyRing, md: dict[str, Any], ns: str, cid: str) -> dict[str, Any]:
    return {
        k: v if k in PLAIN_METADATA else seal_json(ring, v, aad_of("meta", ns, cid, k))
        for k, v in md.items()
    }


def _open_metadata(ring: KeyRing | None, md: dict[str, Any], ns: str, cid: str) -> Any:
    if not any(is_sealed_json(v) for v in md.values()):
        return md
    return {
        k: v if k in PLAIN_METADATA else open_json(ring, v, aad_of("meta", ns, cid, k))
        for k, v in md.items()
    }


#: The keys of a checkpoint body (its channel values stored apart) that say nothing a
#: graph was given: ids, a time, versions, channel and node names, all readable in other
#: columns (``gs_checkpoint_blobs.channel``, ``gs_checkpoint_writes.task_path``) anyway.
_STRUCTURAL_BODY = frozenset(
    ("v", "ts", "channel_values", "channel_versions", "versions_seen", "updated_channels")
    + ("pending_sends",)
)


def body_holds_values(body: dict[str, Any]) -> bool:
    """Whether a checkpoint body holds values of the graph (inline channel values, pending
    sends, or any key LangGraph may add): only those bodies are sealed. The others, the
    usual case, stay readable: sealing them would hide nothing and cost 39 bytes each."""
    return (
        bool(body.get("channel_values"))
        or bool(body.get("pending_sends"))
        or not body.keys() <= _STRUCTURAL_BODY
    )


def stored_body_holds_values(type_: str, blob: bytes) -> bool:
    """:func:`body_holds_values` of a body as stored (unsealed, maybe compressed). Only
    its top-level keys are read (values are not deserialized); a body this cannot read (a
    custom serializer's type, malformed bytes) counts as holding values: it gets sealed."""
    try:
        inner, data = _decompress(type_, bytes(blob))
        if inner != "msgpack":
            return True
        body = ormsgpack.unpackb(data, ext_hook=lambda _code, _data: None)
    except Exception:
        return True
    return not isinstance(body, dict) or body_holds_values(body)


def should_seal(data: bytes | None) -> TypeGuard[bytes]:
    """Whether a serialized value is sealed: not when it is empty (a ``null`` or ``empty``
    value: its type column already says so, as a ciphertext's length would)."""
    return bool(data)


def _open(ring: KeyRing | None, data: Any, aad: bytes) -> Any:
    """A stored column's plaintext (unsealed bytes and ``None`` as they are)."""
    if data is None or not is_sealed(data):
        return data
    return open_bytes(ring, data, aad)


@dataclass
class _Value:
    """The serialized value of one channel version of a thread, as stored or read last.

    Only bytes are kept, never the objects handed to the graph, so nothing a node does to
    its state can change what the cache returns; every read deserializes afresh.
    """

    version: str
    type: str
    data: bytes  # exactly what ``serde.dumps_typed`` returned (or rebuilt from deltas)
    count: int  # list length, or -1 if the value is not a msgpack array
    header: int  # length of the msgpack array header
    # For a list: (position since the last full snapshot, version, element-bytes length)
    # of this value and of each delta base down to the snapshot, newest first.
    chain: tuple[tuple[int, str, int], ...]
    # For a list encoded element by element (``elements.py``): fingerprints and offsets
    # of its elements, to reuse the bytes of unchanged ones on the next put.
    elements: Elements | None = None

    @property
    def nbytes(self) -> int:
        return len(self.data) + (self.elements.nbytes if self.elements is not None else 0)

    @property
    def body(self) -> bytes:
        """The element bytes of a list value (no array header)."""
        return self.data[self.header :]


def _value(
    version: str,
    type_: str,
    data: bytes,
    pos: int = 0,
    below: tuple[tuple[int, str, int], ...] = (),
) -> _Value:
    split = split_array(data) if type_ == "msgpack" else None
    if split is None:
        return _Value(version, type_, data, -1, 0, ())
    count, header = split
    return _Value(version, type_, data, count, header, ((pos, version, len(data) - header), *below))


@dataclass
class PreparedPut:
    """A checkpoint serialized by ``StorageEngine.prepare_put``, ready for ``store_put``."""

    config_thread_id: Any
    thread_id: str
    ns: str
    checkpoint_id: str
    parent_id: str | None
    run_id: str | None
    type: str
    blob: bytes
    meta: bytes
    versions: dict[str, str]
    new: list[str]
    unsure: list[str]
    # channel -> (type, bytes, is a list, its elements if encoded element by element)
    typed: dict[str, tuple[str, bytes, bool, Elements | None]]


@dataclass
class _ThreadCache:
    values: dict[tuple[str, str], _Value] = field(default_factory=dict)
    known: set[tuple[str, str, str]] = field(default_factory=set)  # blobs known to exist
    nbytes: int = 0


class StorageEngine:
    """SQL and byte format of the saver, shared by ``SqliteSaver`` and ``AsyncSqliteSaver``.

    Args:
        snapshot_every: a list channel is stored whole at least every this many versions;
            ``1`` turns deltas off.
        cache_threads: threads whose last list values are remembered to compute deltas.
        cache_bytes: bound on the bytes remembered for that, over all threads.
        share_values: hand out the kept list elements instead of copies (``elements.py``
            "shared mode"; the caller promises never to mutate a state value in place).
    """

    def __init__(
        self,
        *,
        snapshot_every: int = 1024,
        cache_threads: int = 512,
        cache_bytes: int = 64 << 20,
        share_values: bool = False,
    ) -> None:
        if snapshot_every < 1:
            raise ValueError("snapshot_every must be >= 1")
        self.snapshot_every = snapshot_every
        self.share_values = share_values
        self.cache_threads = cache_threads
        self.cache_bytes = cache_bytes
        self.serde: SerializerProtocol = JsonPlusSerializer()  # set by the saver
        #: encryption at rest (set by the saver): checkpoint bodies, each stored value or
        #: list tail, and each write are sealed one by one; ``None`` stores plaintext (and
        #: still reads sealed rows only with a key: ``EncryptionError`` names it)
        self.cipher: KeyRing | None = None
        self._cache: OrderedDict[str, _ThreadCache] = OrderedDict()
        self._cache_total = 0
        self._guard = threading.Lock()
        self._seq = 0
        # DeltaChannel reads (``delta_history``): per thread, the channel versions of the
        # checkpoints walked, keyed by checkpoint and checked against the stored body
        # bytes; and the snapshots of lists of models decoded once (``elements.py``),
        # checked against the stored value bytes. Neither can go stale: a row that changed
        # is decoded again.
        self._ancestry: OrderedDict[
            str, dict[tuple[str, str], tuple[bytes, dict[str, str], bool]]
        ] = OrderedDict()
        self._ancestry_total = 0
        self._seeds: OrderedDict[BlobKey, tuple[bytes, bytes, int, Elements]] = OrderedDict()
        self._seeds_bytes = 0
        # DeltaChannel reads: per thread, the versions of the delta channels that have a
        # stored value (``_stored_versions``)
        self._stored: OrderedDict[str, dict[tuple[str, str], set[str]]] = OrderedDict()
        # shared mode: write values decoded once, by their bytes
        self._writes_seen: OrderedDict[tuple[str, bytes], Any] = OrderedDict()
        self._writes_seen_bytes = 0
        #: builds ``list``'s WHERE clause (LangGraph's SQLite one; Postgres has its own)
        self.search_where: Callable[
            [RunnableConfig | None, dict[str, Any] | None, RunnableConfig | None],
            tuple[str, Sequence[Any]],
        ] = search_where

    # cache ---------------------------------------------------------------------------
    def forget(self, thread_id: str | None = None) -> None:
        """Drop what is remembered about one thread (``None``: all threads)."""
        with self._guard:
            if thread_id is None:
                self._cache.clear()
                self._cache_total = 0
                self._ancestry.clear()
                self._ancestry_total = 0
                self._stored.clear()
                return
            self._stored.pop(str(thread_id), None)
            gone = self._ancestry.pop(str(thread_id), None)
            if gone is not None:
                self._ancestry_total -= len(gone)
            entry = self._cache.pop(str(thread_id), None)
            if entry is not None:
                self._cache_total -= entry.nbytes

    def _thread_cache(self, thread_id: str) -> _ThreadCache | None:
        with self._guard:
            entry = self._cache.get(thread_id)
            if entry is not None:
                self._cache.move_to_end(thread_id)
            return entry

    def _remember(
        self,
        thread_id: str,
        values: dict[tuple[str, str], _Value | None],
        known: Sequence[tuple[str, str, str]],
    ) -> None:
        with self._guard:
            entry = self._cache.get(thread_id)
            if entry is None:
                entry = self._cache[thread_id] = _ThreadCache()
            else:
                self._cache.move_to_end(thread_id)
            for key, item in values.items():
                old = entry.values.pop(key, None)
                if old is not None:
                    entry.nbytes -= old.nbytes
                    self._cache_total -= old.nbytes
                if item is not None:
                    entry.values[key] = item
                    entry.nbytes += item.nbytes
                    self._cache_total += item.nbytes
            entry.known.update(known)
            if len(entry.known) > 4096:
                entry.known.clear()
            while self._cache and (
                len(self._cache) > self.cache_threads or self._cache_total > self.cache_bytes
            ):
                _, evicted = self._cache.popitem(last=False)
                self._cache_total -= evicted.nbytes

    # transactions --------------------------------------------------------------------
    @staticmethod
    @contextmanager
    def _write(conn: Connection, join: bool, immediate: bool = True) -> Iterator[None]:
        # ``immediate=False`` is for bodies whose first statement writes: the write lock is
        # then taken before any read, so no other writer can slip in between (no
        # SQLITE_BUSY_SNAPSHOT), and the cheaper deferred BEGIN is enough.
        if join and conn.in_transaction:
            yield
            return
        if conn.in_transaction:  # an implicit transaction of a legacy-mode connection
            conn.commit()
        conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @staticmethod
    @contextmanager
    def _read(conn: Connection) -> Iterator[None]:
        if conn.in_transaction:
            yield
            return
        conn.execute("BEGIN DEFERRED")  # a read: Postgres takes one snapshot for it
        try:
            yield
        finally:
            conn.execute("COMMIT")

    # put -----------------------------------------------------------------------------
    def put(
        self,
        conn: Connection,
        serde: SerializerProtocol,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
        *,
        join: bool = False,
    ) -> RunnableConfig:
        """Store one checkpoint and the values of the channels whose version is new."""
        prepared = self.prepare_put(serde, config, checkpoint, metadata, new_versions)
        return self.store_put(conn, prepared, join=join)

    def prepare_put(
        self,
        serde: SerializerProtocol,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> PreparedPut:
        """Serialize everything ``put`` may store, on the caller's thread.

        ``AsyncSqliteSaver.aput`` calls this on the event loop before its first ``await``
        (as LangGraph's own saver serializes), so the connection's thread never reads the
        graph's live objects while nodes run on the loop, and the GIL-heavy part of a put
        does not compete with the graph from a second thread.
        """
        conf = config["configurable"]
        thread_id = str(conf["thread_id"])
        ns = conf.get("checkpoint_ns") or ""
        values = checkpoint["channel_values"]
        versions = checkpoint["channel_versions"]
        body = dict(checkpoint)
        del body["id"]  # the checkpoint_id column
        body["channel_values"] = {k: v for k, v in values.items() if k not in versions}
        type_, blob = _compress(*serde.dumps_typed(body))
        if self.cipher is not None and body_holds_values(body):
            blob = seal(self.cipher, blob, aad_checkpoint(ns, checkpoint["id"]))
        md: dict[str, Any] = dict(get_checkpoint_metadata(config, metadata))
        if self.cipher is not None:
            md = _seal_metadata(self.cipher, md, ns, checkpoint["id"])
        meta = json.dumps(md, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "ignore")
        run_id = md.get("run_id")
        str_versions = {ch: str(v) for ch, v in versions.items()}
        cache = self._thread_cache(thread_id)
        known = cache.known if cache is not None else set()
        cached = cache.values if cache is not None else {}
        new = [ch for ch in versions if ch in new_versions]
        # Channels whose version is neither new nor known to be stored: stored only if
        # the database has no row for them (checked in ``store_put``).
        unsure = [
            ch
            for ch in versions
            if ch not in new_versions
            and (ns, ch, str_versions[ch]) not in known
            and (cached.get((ns, ch)) is None or cached[(ns, ch)].version != str_versions[ch])
        ]
        typed: dict[str, tuple[str, bytes, bool, Elements | None]] = {}
        for ch in (*new, *unsure):
            if ch in values:
                value = values[ch]
                if applies(serde, value):
                    prev = cached.get((ns, ch))
                    share = self.share_values
                    if prev is None or prev.type != "msgpack" or prev.elements is None:
                        encoded = encode_list(serde, value, None, 0, None, share=share)
                    else:
                        encoded = encode_list(
                            serde, value, prev.data, prev.header, prev.elements, share=share
                        )
                    if encoded is not None:
                        typed[ch] = ("msgpack", encoded[0], True, encoded[1])
                        continue
                typed[ch] = (*serde.dumps_typed(value), isinstance(value, list), None)
        return PreparedPut(
            config_thread_id=conf["thread_id"],
            thread_id=thread_id,
            ns=ns,
            checkpoint_id=checkpoint["id"],
            parent_id=conf.get("checkpoint_id"),
            run_id=None if run_id is None else str(run_id),
            type=type_,
            blob=blob,
            meta=meta,
            versions=str_versions,
            new=new,
            unsure=unsure,
            typed=typed,
        )

    def store_put(
        self, conn: Connection, prepared: PreparedPut, *, join: bool = False
    ) -> RunnableConfig:
        """The SQL half of ``put``: one transaction, no serialization."""
        p = prepared
        thread_id, ns, str_versions = p.thread_id, p.ns, p.versions
        cache = self._thread_cache(thread_id)
        with self._write(conn, join, immediate=False):
            conn.execute(
                f"INSERT OR REPLACE INTO {CHECKPOINTS} (thread_id, checkpoint_ns, checkpoint_id, "
                "parent_checkpoint_id, run_id, type, checkpoint, metadata) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (thread_id, ns, p.checkpoint_id, p.parent_id, p.run_id, p.type, p.blob, p.meta),
            )
            to_store = list(p.new)
            if p.unsure:
                to_store.extend(self._missing(conn, thread_id, ns, p.unsure, str_versions))
            remembered: dict[tuple[str, str], _Value | None] = {}
            stored: list[tuple[str, str, str]] = []
            inserted: list[tuple[str, str, str]] = []
            written: list[tuple[str, str, _Value, Cursor]] = []
            for ch in to_store:
                version = str_versions[ch]
                stored.append((ns, ch, version))
                if ch not in p.typed:  # empty: no row; remember that there is nothing
                    remembered[(ns, ch)] = _Value(version, "", b"", -1, 0, ())
                    continue
                row, entry = self._encode(conn, cache, thread_id, ns, ch, version, p.typed[ch])
                if self.cipher is not None and should_seal(row[-1]):
                    row = (*row[:-1], seal(self.cipher, row[-1], aad_value(ns, ch, version)))
                cur = conn.execute(
                    f"INSERT OR IGNORE INTO {BLOBS} (thread_id, checkpoint_ns, channel, version, "
                    "kind, type, base_version, depth, count, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (thread_id, ns, ch, version, *row),
                )
                written.append((ch, version, entry, cur))
            for ch in p.unsure:
                if ch not in to_store:
                    stored.append((ns, ch, str_versions[ch]))
        # Row counts read once the transaction is over: a Postgres connection sends the
        # inserts together (``pg_conn``). A version stored before keeps its first value:
        # do not remember ours.
        for ch, version, entry, cur in written:
            remembered[(ns, ch)] = entry if cur.rowcount == 1 else None
            if cur.rowcount == 1:
                inserted.append((ns, ch, version))
        self._remember(thread_id, remembered, stored)
        self._note_stored(thread_id, inserted)
        return {
            "configurable": {
                "thread_id": p.config_thread_id,
                "checkpoint_ns": ns,
                "checkpoint_id": p.checkpoint_id,
            }
        }

    @staticmethod
    def _missing(
        conn: Connection,
        thread_id: str,
        ns: str,
        channels: list[str],
        versions: dict[str, str],
    ) -> list[str]:
        """The channels among ``channels`` whose current version has no stored blob."""
        missing: list[str] = []
        for start in range(0, len(channels), _KEYS_PER_QUERY):
            chunk = channels[start : start + _KEYS_PER_QUERY]
            params: list[Any] = [thread_id, ns]
            for ch in chunk:
                params.extend((ch, versions[ch]))
            rows = conn.execute(
                f"SELECT channel FROM {BLOBS} WHERE thread_id = ? AND checkpoint_ns = ? AND "
                f"(channel, version) IN (VALUES {', '.join(['(?, ?)'] * len(chunk))})",
                params,
            ).fetchall()
            found = {r[0] for r in rows}
            missing.extend(ch for ch in chunk if ch not in found)
        return missing

    def _encode(
        self,
        conn: Connection,
        cache: _ThreadCache | None,
        thread_id: str,
        ns: str,
        channel: str,
        version: str,
        typed: tuple[str, bytes, bool, Elements | None],
    ) -> tuple[tuple[int, str | None, str | None, int, int, bytes | None], _Value]:
        type_, data, is_list, elements = typed
        new = _value(version, type_, data)
        new.elements = elements
        if new.count < 0 or not is_list:
            return (KIND_FULL, type_, None, 0, 0, data), new
        prev = cache.values.get((ns, channel)) if cache is not None else None
        if (
            prev is None
            or not prev.chain
            or prev.type != type_
            or prev.version == version
            or prev.count > new.count
            or prev.chain[0][0] + 1 >= self.snapshot_every
        ):
            return (KIND_FULL, type_, None, 0, new.count, data), new
        prev_len = len(prev.data) - prev.header
        # The new value extends the stored one iff its element bytes start with the stored
        # element bytes (msgpack encodings are self-delimiting): no trust in the reducer.
        if data[new.header : new.header + prev_len] != prev.body:
            return (KIND_FULL, type_, None, 0, new.count, data), new
        # A skip list (see _FANOUT); the base is always on the previous version's chain.
        pos = prev.chain[0][0] + 1
        step = 1
        while pos % (step * _FANOUT) == 0:
            step *= _FANOUT
        base_pos = pos - step
        below = tuple(e for e in prev.chain if e[0] <= base_pos)
        if not below or below[0][0] != base_pos:
            return (KIND_FULL, type_, None, 0, new.count, data), new
        _, base_version, base_len = below[0]
        exists = conn.execute(
            f"SELECT 1 FROM {BLOBS} WHERE thread_id = ? AND checkpoint_ns = ? AND channel = ? "
            "AND version = ?",
            (thread_id, ns, channel, base_version),
        ).fetchone()
        if exists is None:
            return (KIND_FULL, type_, None, 0, new.count, data), new
        new = _value(version, type_, data, pos, below)
        new.elements = elements
        tail = data[new.header + base_len :]
        return (KIND_DELTA, type_, base_version, pos, new.count, tail), new

    # put_writes ----------------------------------------------------------------------
    def put_writes(
        self,
        conn: Connection,
        serde: SerializerProtocol,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
        *,
        join: bool = False,
    ) -> None:
        """Store the writes of one task against a checkpoint (LangGraph's semantics)."""
        prepared = self.prepare_writes(serde, config, writes, task_id, task_path)
        self.store_writes(conn, prepared, join=join)

    def prepare_writes(
        self,
        serde: SerializerProtocol,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> tuple[str, list[tuple[Any, ...]]]:
        """Serialize a task's writes on the caller's thread (see ``prepare_put``)."""
        conf = config["configurable"]
        verb = "REPLACE" if all(w[0] in WRITES_IDX_MAP for w in writes) else "IGNORE"
        seq = self._next_seq()
        ns = str(conf.get("checkpoint_ns") or "")
        checkpoint_id = str(conf["checkpoint_id"])
        rows: list[tuple[Any, ...]] = []
        for idx, (channel, value) in enumerate(writes):
            at = WRITES_IDX_MAP.get(channel, idx)
            type_, data = serde.dumps_typed(value)
            if self.cipher is not None and should_seal(data):
                data = seal(self.cipher, data, aad_write(ns, checkpoint_id, task_id, at, channel))
            rows.append(
                (str(conf["thread_id"]), ns, checkpoint_id, task_id, task_path, at, channel)
                + (type_, data, seq)
            )
        return verb, rows

    def store_writes(
        self,
        conn: Connection,
        prepared: tuple[str, list[tuple[Any, ...]]],
        *,
        join: bool = False,
    ) -> None:
        """The SQL half of ``put_writes``."""
        verb, rows = prepared
        with self._write(conn, join, immediate=False):
            conn.executemany(
                f"INSERT OR {verb} INTO {WRITES} (thread_id, checkpoint_ns, checkpoint_id, task_id, "
                "task_path, idx, channel, type, value, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    # reads ---------------------------------------------------------------------------
    def get_tuple(
        self, conn: Connection, serde: SerializerProtocol, config: RunnableConfig
    ) -> CheckpointTuple | None:
        """The checkpoint named by ``config``, or the thread's latest in its namespace."""
        conf = config["configurable"]
        thread_id = str(conf["thread_id"])
        ns = conf.get("checkpoint_ns") or ""
        checkpoint_id = get_checkpoint_id(config)
        with self._read(conn):
            if checkpoint_id:
                row = conn.execute(
                    f"SELECT {CHECKPOINT_COLUMNS} FROM {CHECKPOINTS} WHERE thread_id = ? AND "
                    "checkpoint_ns = ? AND checkpoint_id = ?",
                    (thread_id, ns, checkpoint_id),
                ).fetchone()
            else:
                row = conn.execute(
                    f"SELECT {CHECKPOINT_COLUMNS} FROM {CHECKPOINTS} WHERE thread_id = ? AND "
                    "checkpoint_ns = ? ORDER BY checkpoint_id DESC LIMIT 1",
                    (thread_id, ns),
                ).fetchone()
            if row is None:
                return None
            (result,) = self.materialize(conn, serde, [row], remember=checkpoint_id is None)
        if checkpoint_id:
            return result._replace(config=config)
        return result

    def list_rows(
        self,
        conn: Connection,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> list[Row]:
        """Checkpoint rows matching LangGraph's ``list`` arguments, newest first.

        Under encryption, filters on sealed metadata keys (see :data:`PLAIN_METADATA`) are
        applied here to the opened values, after the query."""
        sealed = {}
        if filter and self.cipher is not None:
            sealed = {k: v for k, v in filter.items() if k not in PLAIN_METADATA}
            filter = {k: v for k, v in filter.items() if k in PLAIN_METADATA}
        where, params = self.search_where(config, filter, before)
        query = (
            f"SELECT {CHECKPOINT_COLUMNS} FROM {CHECKPOINTS} {where} ORDER BY checkpoint_id DESC"
        )
        if limit is not None and not sealed:
            query += " LIMIT ?"
            params = (*params, limit)
        rows = cast(list[Row], conn.execute(query, params).fetchall())
        if not sealed:
            return rows
        kept: list[Row] = []
        for row in rows:
            md = _open_metadata(self.cipher, json.loads(row[6] or b"{}"), row[1], row[2])
            if all(k in md and md[k] == v for k, v in sealed.items()):
                kept.append(row)
                if limit is not None and len(kept) >= limit:
                    break
        return kept

    def materialize(
        self,
        conn: Connection,
        serde: SerializerProtocol,
        rows: Sequence[Row],
        *,
        remember: bool = False,
    ) -> list[CheckpointTuple]:
        """Whole checkpoint tuples for ``rows``: three queries whatever their number."""
        built: dict[BlobKey, tuple[str, bytes] | None] = {}
        hits: dict[BlobKey, _Value] = {}
        caches: dict[str, dict[tuple[str, str], _Value]] = {}
        with self._read(conn):
            checkpoints: list[dict[str, Any]] = []
            keys: dict[BlobKey, None] = {}
            for thread_id, ns, _cid, _parent, type_, blob, _meta in rows:
                blob = _open(self.cipher, blob, aad_checkpoint(ns, _cid))
                cp = serde.loads_typed(_decompress(type_, blob))
                checkpoints.append(cp)
                if thread_id not in caches:
                    caches[thread_id] = self._cached_values(thread_id)
                cached = caches[thread_id]
                for ch, version in cp["channel_versions"].items():
                    key = (thread_id, ns, ch, str(version))
                    hit = cached.get((ns, ch))
                    if hit is not None and hit.version == key[3]:
                        built[key] = (hit.type, hit.data) if hit.type else None
                        hits[key] = hit
                    else:
                        keys[key] = None
            blobs = self._load_blobs(conn, list(keys)) if keys else {}
            writes = self._load_writes(conn, serde, rows)
        results: list[CheckpointTuple] = []
        for row, cp in zip(rows, checkpoints, strict=True):
            thread_id, ns, cid, parent, _type, _blob, meta = row
            values: dict[str, Any] = {}
            for ch, version in cp["channel_versions"].items():
                key = (thread_id, ns, ch, str(version))
                if key not in built:
                    built[key] = self._build(blobs, key)
                typed = built[key]
                hit = hits.get(key)
                if hit is not None and hit.elements is not None and hit.type == "msgpack":
                    # decoded once, copied on every read (see elements.py)
                    values[ch] = decode_list(
                        serde, hit.data, hit.header, hit.elements, share=self.share_values
                    )
                elif typed is not None:
                    if typed[0] == "msgpack" and _is_delta_snapshot(typed[1]):
                        values[ch] = self._load_seed(serde, key, typed)
                    else:
                        values[ch] = self._load_value(serde, typed, caches[thread_id].get((ns, ch)))
            values.update(cp["channel_values"])
            cp["channel_values"] = values
            cp["id"] = cid
            results.append(
                CheckpointTuple(
                    {
                        "configurable": {
                            "thread_id": thread_id,
                            "checkpoint_ns": ns,
                            "checkpoint_id": cid,
                        }
                    },
                    cast(Checkpoint, cp),
                    cast(
                        CheckpointMetadata,
                        _open_metadata(self.cipher, json.loads(meta), ns, cid)
                        if meta is not None
                        else {},
                    ),
                    (
                        {
                            "configurable": {
                                "thread_id": thread_id,
                                "checkpoint_ns": ns,
                                "checkpoint_id": parent,
                            }
                        }
                        if parent
                        else None
                    ),
                    writes.get((thread_id, ns, cid), []),
                )
            )
        if remember and rows:
            self._remember_read(rows[0], cast(dict[str, Any], checkpoints[0]), blobs, built, hits)
        return results

    def _load_value(
        self, serde: SerializerProtocol, typed: tuple[str, bytes], latest: _Value | None
    ) -> Any:
        """A stored value; an earlier version of the thread's latest list (a history
        page) is built from the latest one's decoded elements when its bytes are a prefix
        of it, instead of being decoded again."""
        if (
            latest is not None
            and latest.elements is not None
            and latest.type == "msgpack"
            and typed[0] == "msgpack"
        ):
            count = prefix_count(latest.data, latest.header, latest.elements, typed[1])
            if count is not None:
                return decode_list(
                    serde,
                    latest.data,
                    latest.header,
                    latest.elements,
                    share=self.share_values,
                    count=count,
                )
        return serde.loads_typed(typed)

    def _cached_values(self, thread_id: str) -> dict[tuple[str, str], _Value]:
        with self._guard:
            entry = self._cache.get(thread_id)
            return dict(entry.values) if entry is not None else {}

    def _remember_read(
        self,
        row: Row,
        cp: dict[str, Any],
        blobs: dict[BlobKey, BlobRow],
        built: dict[BlobKey, tuple[str, bytes] | None],
        hits: dict[BlobKey, _Value],
    ) -> None:
        """After reading a thread's latest checkpoint, remember its values' bytes: the next
        read skips the blob query and the next put can store a delta against them."""
        thread_id, ns = row[0], row[1]
        remembered: dict[tuple[str, str], _Value | None] = {}
        known: list[tuple[str, str, str]] = []
        for ch, version in cp["channel_versions"].items():
            key = (thread_id, ns, ch, str(version))
            if key in hits:
                known.append((ns, ch, key[3]))
                continue
            known.append((ns, ch, key[3]))
            typed = built.get(key)  # None: no row, i.e. an empty channel
            if typed is None:
                remembered[(ns, ch)] = _Value(key[3], "", b"", -1, 0, ())
            else:
                value = _value(key[3], typed[0], typed[1])
                if value.chain:
                    value.chain = self._chain(blobs, key)
                remembered[(ns, ch)] = value
        self._remember(thread_id, remembered, known)

    @staticmethod
    def _chain(blobs: dict[BlobKey, BlobRow], key: BlobKey) -> tuple[tuple[int, str, int], ...]:
        """(position, version, element-bytes length) from ``key`` down to its snapshot."""
        rows: list[tuple[str, BlobRow]] = []
        while True:
            row = blobs[key]
            rows.append((key[3], row))
            if row[0] != KIND_DELTA or row[2] is None:
                break
            key = (key[0], key[1], key[2], row[2])
        full = rows[-1][1][4] or b""
        split = split_array(full)
        length = len(full) - (split[1] if split else 0)
        chain = [(0, rows[-1][0], length)]
        for version, row in reversed(rows[:-1]):
            length += len(row[4] or b"")
            chain.append((row[5], version, length))
        chain.reverse()
        return tuple(chain)

    def _load_blobs(self, conn: Connection, keys: list[BlobKey]) -> dict[BlobKey, BlobRow]:
        """The blob rows of ``keys`` and, transitively, of their delta bases."""
        found: dict[BlobKey, BlobRow] = {}
        join = (
            "b.thread_id = need.t AND b.checkpoint_ns = need.n AND b.channel = need.c "
            "AND b.version = need.v"
        )
        for start in range(0, len(keys), _KEYS_PER_QUERY):
            chunk = keys[start : start + _KEYS_PER_QUERY]
            params = [part for key in chunk for part in key]
            sql = (
                f"WITH RECURSIVE need(t, n, c, v) AS (VALUES {', '.join(['(?, ?, ?, ?)'] * len(chunk))} "
                f"UNION SELECT b.thread_id, b.checkpoint_ns, b.channel, b.base_version FROM need "
                f"JOIN {BLOBS} b ON {join} WHERE b.base_version IS NOT NULL) "
                f"SELECT {_BLOB_COLUMNS} FROM need JOIN {BLOBS} b ON {join}"
            )
            for t, n, c, v, kind, type_, base, count, data, depth in conn.execute(sql, params):
                data = _open(self.cipher, data, aad_value(n, c, v))
                found[(t, n, c, v)] = (kind, type_, base, count, data, depth)
        return found

    def _build(self, blobs: dict[BlobKey, BlobRow], key: BlobKey) -> tuple[str, bytes] | None:
        """The typed serialized value of one blob key (``None``: empty or missing)."""
        row = blobs.get(key)
        if row is None:
            return None
        kind, type_, base, count, data, _depth = row
        if kind == KIND_EMPTY:
            return None
        if kind == KIND_FULL:
            return cast(str, type_), data or b""
        parts: list[bytes] = []
        cursor: BlobRow = row
        seen = 0
        while cursor[0] == KIND_DELTA:
            parts.append(cursor[4] or b"")
            base_key = (key[0], key[1], key[2], cast(str, cursor[2]))
            next_row = blobs.get(base_key)
            seen += 1
            if next_row is None or seen > len(blobs):
                raise RuntimeError(f"checkpoint blob {key!r}: missing delta base {base_key[3]!r}")
            cursor = next_row
        full = cursor[4] or b""
        split = split_array(full)
        if cursor[0] != KIND_FULL or split is None:
            raise RuntimeError(f"checkpoint blob {key!r}: delta base is not a list")
        parts.append(full[split[1] :])
        parts.reverse()
        return cast(str, type_), array_header(count) + b"".join(parts)

    def _load_writes(
        self, conn: Connection, serde: SerializerProtocol, rows: Sequence[Row]
    ) -> dict[tuple[str, str, str], list[PendingWrite]]:
        groups: dict[tuple[str, str], list[str]] = {}
        for row in rows:
            groups.setdefault((row[0], row[1]), []).append(row[2])
        raw: dict[tuple[str, str, str], list[Any]] = {}
        for (thread_id, ns), ids in groups.items():
            for start in range(0, len(ids), _IDS_PER_QUERY):
                chunk = ids[start : start + _IDS_PER_QUERY]
                cur = conn.execute(
                    f"SELECT checkpoint_id, task_id, channel, type, value, task_path, idx FROM {WRITES} "
                    f"WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id IN ({', '.join('?' * len(chunk))})",
                    (thread_id, ns, *chunk),
                )
                for cid, task_id, channel, type_, value, task_path, idx in cur:
                    value = _open(self.cipher, value, aad_write(ns, cid, task_id, idx, channel))
                    raw.setdefault((thread_id, ns, cid), []).append(
                        [task_id, channel, type_, value, task_path, idx]
                    )
        return {
            key: [
                (task_id, channel, serde.loads_typed((type_, value)))
                for task_id, channel, type_, value, _, _ in sorted(
                    items, key=lambda r: writes_sort_key(r[4], r[0], r[5])
                )
            ]
            for key, items in raw.items()
        }

    # DeltaChannel history ------------------------------------------------------------
    def delta_history(
        self,
        conn: Connection,
        serde: SerializerProtocol,
        config: RunnableConfig,
        channels: Sequence[str],
    ) -> dict[str, DeltaChannelHistory]:
        """``BaseCheckpointSaver.get_delta_channel_history`` in three queries.

        One recursive query streams the target's ancestors along parent links (so a fork
        sees only its own path), nearest first, stopping as soon as every channel has found
        its seed (the nearest ancestor that stores a value of it); one query reads those
        ancestors' writes to the channels, one the seeds' values. Same result as
        LangGraph's default walk: writes oldest first, ``writes_sort_key`` order within a
        checkpoint, the target's own writes left out, no ``seed`` if the walk reached the
        root.
        """
        if not channels:
            return {}
        conf = config["configurable"]
        thread_id = str(conf["thread_id"])
        ns = conf.get("checkpoint_ns") or ""
        for attempt in range(2):
            checkpoint_id = get_checkpoint_id(config)
            walk = _DeltaWalk(channels)
            raw_writes: list[tuple[str, str, str, int, str, bytes, str]] = []
            blobs: dict[BlobKey, BlobRow] = {}
            broken = False
            with self._read(conn):
                if not checkpoint_id:
                    checkpoint_id = self.latest_checkpoint_id(conn, thread_id, ns)
                if checkpoint_id:
                    broken = self._walk_ancestors(conn, serde, walk, thread_id, ns, checkpoint_id)
                    raw_writes = self._chain_writes(conn, thread_id, ns, walk.chain_by_ch)
                    if walk.seed_key:
                        blobs = self._load_blobs(conn, list(walk.seed_key.values()))
            # What this process knows of the stored values may be stale (another process
            # pruned or wrote): a seed without its row, or a walk that fell off a pruned
            # chain, is read once more from the database's own answer.
            stale = broken or any(key not in blobs for key in walk.seed_key.values())
            if not stale or attempt:
                break
            self._drop_stored(thread_id)
        return self._histories(serde, walk, raw_writes, blobs)

    def _walk_ancestors(
        self,
        conn: Connection,
        serde: SerializerProtocol,
        walk: _DeltaWalk,
        thread_id: str,
        ns: str,
        checkpoint_id: str,
    ) -> bool:
        """Follow ``checkpoint_id``'s parent links until every channel of ``walk`` has its
        seed, filling ``walk``; checkpoint bodies already decoded are taken from (and
        returned to) the per-thread ancestry cache. True when the chain broke at a missing
        parent before every channel found its seed."""
        stored = self._stored_versions(conn, thread_id, ns, walk.channels)
        with self._guard:
            known = self._ancestry.pop(thread_id, None) or {}
            self._ancestry_total -= len(known)
        learnt: dict[tuple[str, str], _Ancestor] = {}
        seen: set[str] = set()
        cur = conn.execute(_ANCESTORS_SQL, (thread_id, ns, checkpoint_id, thread_id, ns))
        first = True
        parent: str | None = None
        for cid, type_, blob, parent in cur:
            if first:  # the target itself: its writes are pending, not history
                first = False
                seen.add(cid)
                continue
            if cid in seen:  # a parent link loop (``put`` replaced a row)
                parent = None
                break
            seen.add(cid)
            hit = known.get((ns, cid))

            def body(type_: str = type_, blob: bytes = blob, cid: str = cid) -> tuple[str, bytes]:
                return type_, _open(self.cipher, blob, aad_checkpoint(ns, cid))

            if hit is None or hit[0] != blob:  # not decoded before: decode (and open) it
                cp = serde.loads_typed(_decompress(*body()))
                versions = {k: str(v) for k, v in cp["channel_versions"].items()}
                hit = (blob, versions, bool(cp.get("channel_values")))
            learnt[(ns, cid)] = hit
            if walk.visit(serde, thread_id, ns, cid, hit, stored, body):
                break
        cur.close()
        if len(known) + len(learnt) > _ANCESTRY_PER_THREAD:
            known = {}
        known.update(learnt)
        self._keep_ancestry(thread_id, known)
        # the chain broke at a parent that is gone before every channel found its seed
        return bool(walk.active) and parent is not None

    def _stored_versions(
        self, conn: Connection, thread_id: str, ns: str, channels: Sequence[str]
    ) -> set[tuple[str, str]]:
        """The (channel, version) pairs of ``channels`` that have a stored value: read once
        per thread and channel (the query reads every stored snapshot row, large ones
        included), then kept up to date by this engine's puts and deletes."""
        with self._guard:
            known = self._stored.get(thread_id)
            if known is not None:
                self._stored.move_to_end(thread_id)
                missing = [ch for ch in channels if (ns, ch) not in known]
            else:
                missing = list(channels)
        if missing:
            marks = ", ".join("?" * len(missing))
            found: dict[tuple[str, str], set[str]] = {(ns, ch): set() for ch in missing}
            for ch, v in conn.execute(
                f"SELECT channel, version FROM {BLOBS} WHERE thread_id = ? AND "
                f"checkpoint_ns = ? AND kind != ? AND channel IN ({marks})",
                (thread_id, ns, KIND_EMPTY, *missing),
            ):
                found[(ns, ch)].add(v)
            with self._guard:
                known = self._stored.setdefault(thread_id, {})
                for key, versions in found.items():
                    known.setdefault(key, set()).update(versions)
                while len(self._stored) > self.cache_threads:
                    self._stored.popitem(last=False)
        with self._guard:
            known = self._stored.get(thread_id, {})
            return {(ch, v) for ch in channels for v in known.get((ns, ch), ())}

    def _drop_stored(self, thread_id: str) -> None:
        with self._guard:
            self._stored.pop(thread_id, None)

    def _note_stored(self, thread_id: str, stored: Sequence[tuple[str, str, str]]) -> None:
        """Values this engine just stored (ns, channel, version): known to delta reads."""
        with self._guard:
            known = self._stored.get(thread_id)
            if known is None:
                return
            for ns, ch, version in stored:
                versions = known.get((ns, ch))
                if versions is not None:
                    versions.add(version)

    def _keep_ancestry(self, thread_id: str, known: dict[tuple[str, str], _Ancestor]) -> None:
        with self._guard:
            old = self._ancestry.pop(thread_id, None)  # another read meanwhile
            self._ancestry_total += len(known) - (len(old) if old else 0)
            self._ancestry[thread_id] = known
            while self._ancestry and (
                len(self._ancestry) > self.cache_threads or self._ancestry_total > _ANCESTRY_TOTAL
            ):
                _, gone = self._ancestry.popitem(last=False)
                self._ancestry_total -= len(gone)

    def _chain_writes(
        self, conn: Connection, thread_id: str, ns: str, chain_by_ch: dict[str, list[str]]
    ) -> list[tuple[str, str, str, int, str, bytes, str]]:
        """The writes to each channel stored with the checkpoints of its chain."""
        raw_writes: list[tuple[str, str, str, int, str, bytes, str]] = []
        for ch, ids in chain_by_ch.items():
            for start in range(0, len(ids), _IDS_PER_QUERY):
                chunk = ids[start : start + _IDS_PER_QUERY]
                for cid, channel, task_id, idx, type_, value, task_path in conn.execute(
                    f"SELECT checkpoint_id, channel, task_id, idx, type, value, task_path "
                    f"FROM {WRITES} WHERE thread_id = ? AND checkpoint_ns = ? AND channel = ? "
                    f"AND checkpoint_id IN ({', '.join('?' * len(chunk))})",
                    (thread_id, ns, ch, *chunk),
                ):
                    value = _open(self.cipher, value, aad_write(ns, cid, task_id, idx, channel))
                    raw_writes.append((cid, channel, task_id, idx, type_, value, task_path))
        return raw_writes

    def _histories(
        self,
        serde: SerializerProtocol,
        walk: _DeltaWalk,
        raw_writes: list[tuple[str, str, str, int, str, bytes, str]],
        blobs: dict[BlobKey, BlobRow],
    ) -> dict[str, DeltaChannelHistory]:
        """Each channel's writes oldest first (``writes_sort_key`` within a checkpoint)
        and its seed, if the walk found one."""
        by_ch_cid: dict[tuple[str, str], list[tuple[str, int, str, bytes, str]]] = {}
        for cid, ch, task_id, idx, type_, value, task_path in raw_writes:
            by_ch_cid.setdefault((ch, cid), []).append((task_id, idx, type_, value, task_path))
        result: dict[str, DeltaChannelHistory] = {}
        for ch in walk.channels:
            writes: list[PendingWrite] = []
            for cid in reversed(walk.chain_by_ch[ch]):
                rows = by_ch_cid.get((ch, cid))
                if not rows:
                    continue
                rows.sort(key=lambda r: writes_sort_key(r[4], r[0], r[1]))
                writes.extend((r[0], ch, self._write_value(serde, r[2], r[3])) for r in rows)
            entry: DeltaChannelHistory = {"writes": writes}
            if ch in walk.seed_key:
                typed = self._build(blobs, walk.seed_key[ch])
                if typed is not None:
                    entry["seed"] = self._load_seed(serde, walk.seed_key[ch], typed)
            elif ch in walk.seed_inline:
                entry["seed"] = walk.seed_inline[ch]
            result[ch] = entry
        return result

    def _write_value(self, serde: SerializerProtocol, type_: str, data: bytes) -> Any:
        """A stored write's value for a DeltaChannel read: decoded afresh, or in shared
        mode decoded once and handed out again (keyed by its bytes, so never stale)."""
        if not self.share_values:
            return serde.loads_typed((type_, data))
        key = (type_, data)
        with self._guard:
            value = self._writes_seen.get(key, _NOTHING)
            if value is not _NOTHING:
                self._writes_seen.move_to_end(key)
                return value
        value = serde.loads_typed(key)
        with self._guard:
            if key not in self._writes_seen:
                self._writes_seen[key] = value
                self._writes_seen_bytes += len(data)
            while self._writes_seen and self._writes_seen_bytes > self.cache_bytes // 4:
                (_, gone), _v = self._writes_seen.popitem(last=False)
                self._writes_seen_bytes -= len(gone)
        return value

    def _load_seed(self, serde: SerializerProtocol, key: BlobKey, typed: tuple[str, bytes]) -> Any:
        """A stored channel value for a DeltaChannel read. A ``_DeltaSnapshot`` of a list
        of models (LangChain messages) is decoded once and then copied from what
        ``elements.py`` keeps (a few µs a message instead of a full decode); anything else
        is deserialized."""
        type_, data = typed
        with self._guard:
            cached = self._seeds.get(key)
            if cached is not None:
                self._seeds.move_to_end(key)
        if cached is not None and cached[0] == data:
            share = self.share_values
            return _DeltaSnapshot(decode_list(serde, cached[1], cached[2], cached[3], share=share))
        value = serde.loads_typed(typed)
        if type_ == "msgpack" and isinstance(value, _DeltaSnapshot) and applies(serde, value.value):
            encoded = encode_list(serde, value.value, None, 0, None, share=self.share_values)
            if encoded is not None:
                body, elements = encoded
                size = len(data) + len(body) + elements.nbytes
                with self._guard:
                    old = self._seeds.pop(key, None)
                    if old is not None:
                        self._seeds_bytes -= len(old[0]) + len(old[1]) + old[3].nbytes
                    self._seeds[key] = (data, body, len(array_header(len(value.value))), elements)
                    self._seeds_bytes += size
                    while self._seeds and (
                        len(self._seeds) > 64 or self._seeds_bytes > self.cache_bytes // 2
                    ):
                        _, gone = self._seeds.popitem(last=False)
                        self._seeds_bytes -= len(gone[0]) + len(gone[1]) + gone[3].nbytes
        return value

    # deletes and copies --------------------------------------------------------------
    def delete_thread(self, conn: Connection, thread_id: str, *, join: bool = False) -> int:
        """Delete every checkpoint, blob and write of a thread; returns the rows deleted."""
        tid = str(thread_id)
        n = 0
        with self._write(conn, join):
            for table in (CHECKPOINTS, BLOBS, WRITES):
                n += conn.execute(f"DELETE FROM {table} WHERE thread_id = ?", (tid,)).rowcount
        self.forget(tid)
        return n

    def delete_for_runs(
        self, conn: Connection, run_ids: Sequence[str], *, join: bool = False
    ) -> None:
        """Delete the checkpoints (and their writes) created by the given runs."""
        ids = [str(r) for r in run_ids]
        if not ids:
            return
        threads: set[str] = set()
        with self._write(conn, join):
            for start in range(0, len(ids), _IDS_PER_QUERY):
                chunk = ids[start : start + _IDS_PER_QUERY]
                doomed = conn.execute(
                    f"SELECT thread_id, checkpoint_ns, checkpoint_id FROM {CHECKPOINTS} "
                    f"WHERE run_id IN ({', '.join('?' * len(chunk))})",
                    chunk,
                ).fetchall()
                doomed = self._spare_delta_support(conn, doomed)
                conn.executemany(
                    f"DELETE FROM {CHECKPOINTS} WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?",
                    doomed,
                )
                conn.executemany(
                    f"DELETE FROM {WRITES} WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?",
                    doomed,
                )
                threads.update(r[0] for r in doomed)
            for tid in threads:
                self._collect_garbage(conn, tid)
        for tid in threads:
            self.forget(tid)

    def _spare_delta_support(
        self, conn: Connection, doomed: list[tuple[str, str, str]]
    ) -> list[tuple[str, str, str]]:
        """``doomed`` without the checkpoints a surviving checkpoint's DeltaChannel values
        are rebuilt from (see ``_delta_support``)."""
        groups: dict[tuple[str, str], set[str]] = {}
        for tid, ns, cid in doomed:
            groups.setdefault((tid, ns), set()).add(cid)
        spared: set[tuple[str, str, str]] = set()
        for (tid, ns), ids in groups.items():
            # A survivor's read reaches a doomed checkpoint through a survivor whose parent
            # is doomed, and needs at least what that one needs.
            children = [
                cid
                for cid, parent in conn.execute(
                    f"SELECT checkpoint_id, parent_checkpoint_id FROM {CHECKPOINTS} "
                    "WHERE thread_id = ? AND checkpoint_ns = ? AND parent_checkpoint_id IS NOT NULL",
                    (tid, ns),
                )
                if parent in ids and cid not in ids
            ]
            if children:
                spared.update((tid, ns, c) for c in self._delta_support(conn, tid, ns, children))
        return [d for d in doomed if tuple(d) not in spared]

    def copy_thread(
        self, conn: Connection, source: str, target: str, *, join: bool = False
    ) -> None:
        """Copy every checkpoint, blob and write of ``source`` to ``target``."""
        src, dst = str(source), str(target)
        with self._write(conn, join):
            conn.execute(
                f"INSERT OR REPLACE INTO {CHECKPOINTS} (thread_id, checkpoint_ns, checkpoint_id, "
                "parent_checkpoint_id, run_id, type, checkpoint, metadata) "
                "SELECT ?, checkpoint_ns, checkpoint_id, parent_checkpoint_id, run_id, type, "
                f"checkpoint, metadata FROM {CHECKPOINTS} WHERE thread_id = ?",
                (dst, src),
            )
            conn.execute(
                f"INSERT OR IGNORE INTO {BLOBS} (thread_id, checkpoint_ns, channel, version, kind, "
                "type, base_version, depth, count, data) SELECT ?, checkpoint_ns, channel, version, "
                f"kind, type, base_version, depth, count, data FROM {BLOBS} WHERE thread_id = ?",
                (dst, src),
            )
            conn.execute(
                f"INSERT OR REPLACE INTO {WRITES} (thread_id, checkpoint_ns, checkpoint_id, task_id, "
                "task_path, idx, channel, type, value, seq) SELECT ?, checkpoint_ns, checkpoint_id, "
                f"task_id, task_path, idx, channel, type, value, seq FROM {WRITES} "
                "WHERE thread_id = ?",
                (dst, src),
            )
        self.forget(dst)

    def prune(
        self,
        conn: Connection,
        thread_ids: Sequence[str],
        *,
        strategy: str = "keep_latest",
        join: bool = False,
    ) -> None:
        """``keep_latest``: keep each namespace's newest checkpoint; ``delete``: keep none."""
        if strategy not in ("keep_latest", "delete"):
            raise ValueError(f"unknown prune strategy {strategy!r}")
        with self._write(conn, join):
            for thread_id in thread_ids:
                tid = str(thread_id)
                if strategy == "delete":
                    for table in (CHECKPOINTS, BLOBS, WRITES):
                        conn.execute(f"DELETE FROM {table} WHERE thread_id = ?", (tid,))
                    continue
                latest = conn.execute(
                    f"SELECT checkpoint_ns, MAX(checkpoint_id) FROM {CHECKPOINTS} WHERE thread_id = ? GROUP BY checkpoint_ns",
                    (tid,),
                ).fetchall()
                # The latest checkpoints, and the ancestors their DeltaChannel values are
                # rebuilt from (none for graphs without DeltaChannel).
                keep = [(ns, cid) for ns, cid in latest]
                for ns, cid in latest:
                    keep.extend((ns, a) for a in self._delta_support(conn, tid, ns, [cid]))
                conn.execute("CREATE TEMP TABLE IF NOT EXISTS gs_keep (ns TEXT, id TEXT)")
                conn.execute("DELETE FROM temp.gs_keep")
                conn.executemany("INSERT INTO temp.gs_keep VALUES (?, ?)", keep)
                kept = "SELECT ns, id FROM temp.gs_keep"
                conn.execute(
                    f"DELETE FROM {WRITES} WHERE thread_id = ? AND (checkpoint_ns, checkpoint_id) NOT IN ({kept})",
                    (tid,),
                )
                conn.execute(
                    f"DELETE FROM {CHECKPOINTS} WHERE thread_id = ? AND (checkpoint_ns, checkpoint_id) NOT IN ({kept})",
                    (tid,),
                )
                conn.execute("DELETE FROM temp.gs_keep")
                self._collect_garbage(conn, tid)
        for thread_id in thread_ids:
            self.forget(str(thread_id))

    def delete_after(
        self,
        conn: Connection,
        thread_id: str,
        checkpoint_id: str | None,
        *,
        writes_mark: int | None = None,
        join: bool = False,
    ) -> None:
        """Roll a thread back: delete its checkpoints newer than ``checkpoint_id`` (all if
        ``None``) with their writes, and writes stored after ``writes_mark``."""
        tid = str(thread_id)
        with self._write(conn, join):
            if checkpoint_id is None:
                for table in (CHECKPOINTS, BLOBS, WRITES):
                    conn.execute(f"DELETE FROM {table} WHERE thread_id = ?", (tid,))
            else:
                for table in (CHECKPOINTS, WRITES):
                    conn.execute(
                        f"DELETE FROM {table} WHERE thread_id = ? AND checkpoint_id > ?",
                        (tid, checkpoint_id),
                    )
                if writes_mark is not None:
                    conn.execute(
                        f"DELETE FROM {WRITES} WHERE thread_id = ? AND seq > ?",
                        (tid, writes_mark),
                    )
                self._collect_garbage(conn, tid)
        self.forget(tid)

    def keep_newest(
        self, conn: Connection, thread_id: str, keep: int, *, join: bool = False
    ) -> int:
        """Keep the newest ``keep`` root checkpoints of a thread (and newer subgraph ones);
        the oldest kept loses its parent link. Returns how many root checkpoints went."""
        tid = str(thread_id)
        removed = 0
        with self._write(conn, join):
            row = conn.execute(
                f"SELECT checkpoint_id FROM {CHECKPOINTS} WHERE thread_id = ? AND checkpoint_ns = '' "
                "ORDER BY checkpoint_id DESC LIMIT 1 OFFSET ?",
                (tid, max(keep, 1) - 1),
            ).fetchone()
            if row is None:
                return 0
            oldest = row[0]
            # only checkpoints of a graph with DeltaChannel need a walk
            heads = [
                r[0]
                for r in conn.execute(
                    f"SELECT checkpoint_id FROM {CHECKPOINTS} WHERE thread_id = ? AND checkpoint_ns = '' "
                    "AND checkpoint_id >= ? AND instr(metadata, CAST(? AS BLOB)) > 0 "
                    "ORDER BY checkpoint_id DESC",
                    (tid, oldest, _DELTA_COUNTERS),
                )
            ]
            # Older root checkpoints the kept ones' DeltaChannel values are rebuilt from stay.
            support = sorted(self._delta_support(conn, tid, "", heads))
            conn.execute("CREATE TEMP TABLE IF NOT EXISTS gs_keep (ns TEXT, id TEXT)")
            conn.execute("DELETE FROM temp.gs_keep")
            conn.executemany("INSERT INTO temp.gs_keep VALUES ('', ?)", [(c,) for c in support])
            kept = "SELECT id FROM temp.gs_keep"
            removed = conn.execute(
                f"DELETE FROM {CHECKPOINTS} WHERE thread_id = ? AND checkpoint_ns = '' AND checkpoint_id < ? "
                f"AND checkpoint_id NOT IN ({kept})",
                (tid, oldest),
            ).rowcount
            conn.execute(
                f"DELETE FROM {CHECKPOINTS} WHERE thread_id = ? AND checkpoint_ns != '' AND checkpoint_id < ?",
                (tid, oldest),
            )
            conn.execute(
                f"DELETE FROM {WRITES} WHERE thread_id = ? AND checkpoint_id < ? AND NOT "
                f"(checkpoint_ns = '' AND checkpoint_id IN ({kept}))",
                (tid, oldest),
            )
            conn.execute("DELETE FROM temp.gs_keep")
            # A kept checkpoint must not point at a parent that no longer exists.
            conn.execute(
                f"UPDATE {CHECKPOINTS} SET parent_checkpoint_id = NULL WHERE thread_id = ? AND "
                "checkpoint_ns = '' AND checkpoint_id <= ? AND parent_checkpoint_id IS NOT NULL "
                f"AND parent_checkpoint_id NOT IN (SELECT checkpoint_id FROM {CHECKPOINTS} "
                "WHERE thread_id = ? AND checkpoint_ns = '')",
                (tid, oldest, tid),
            )
            self._collect_garbage(conn, tid)
        self.forget(tid)
        return removed

    def _delta_support(
        self, conn: Connection, thread_id: str, ns: str, heads: Sequence[str]
    ) -> set[str]:
        """The ancestors (in ``ns``) that LangGraph's ``DeltaChannel`` reads of ``heads`` need.

        A ``DeltaChannel`` stores no value at most checkpoints; its value at a checkpoint is
        the nearest ancestor's stored value (a ``_DeltaSnapshot``) plus the writes of every
        ancestor in between (``get_delta_channel_history``). The delta channels of a head
        are those its metadata counts since their last snapshot
        (``counters_since_delta_snapshot``, which LangGraph keeps for every delta channel
        not snapshotted at that checkpoint). For each head, this walks its parent links up
        to the nearest ancestor that stores a value of each such channel, exactly as the
        history read does, and returns every checkpoint visited (heads excluded).
        """
        info: dict[str, tuple[str | None, dict[str, str], list[str]] | None] = {}
        stored: dict[tuple[str, str], bool] = {}

        def load(cid: str) -> tuple[str | None, dict[str, str], list[str]] | None:
            if cid not in info:
                row = conn.execute(
                    f"SELECT parent_checkpoint_id, type, checkpoint, metadata FROM {CHECKPOINTS} "
                    "WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?",
                    (thread_id, ns, cid),
                ).fetchone()
                if row is None:
                    info[cid] = None
                else:
                    body = _open(self.cipher, row[2], aad_checkpoint(ns, cid))
                    cp = self.serde.loads_typed(_decompress(row[1], body))
                    md = json.loads(row[3]) if row[3] is not None else {}
                    counters = md.get("counters_since_delta_snapshot") or {}
                    versions = {ch: str(v) for ch, v in cp["channel_versions"].items()}
                    info[cid] = (row[0], versions, list(counters))
            return info[cid]

        def has_value(ch: str, version: str) -> bool:
            key = (ch, version)
            if key not in stored:
                stored[key] = (
                    conn.execute(
                        f"SELECT 1 FROM {BLOBS} WHERE thread_id = ? AND checkpoint_ns = ? AND "
                        "channel = ? AND version = ? AND kind != ?",
                        (thread_id, ns, ch, version, KIND_EMPTY),
                    ).fetchone()
                    is not None
                )
            return stored[key]

        def stores(cid: str, ch: str) -> bool:
            node = load(cid)
            return node is not None and ch in node[1] and has_value(ch, node[1][ch])

        return walk_delta_support(heads, load, stores)

    def _collect_garbage(self, conn: Connection, thread_id: str) -> int:
        """Delete the thread's blobs that no checkpoint needs, directly or as a delta base."""
        live: set[tuple[str, str, str]] = set()
        for ns, cid, type_, blob in conn.execute(
            f"SELECT checkpoint_ns, checkpoint_id, type, checkpoint FROM {CHECKPOINTS} "
            "WHERE thread_id = ?",
            (thread_id,),
        ):
            blob = _open(self.cipher, blob, aad_checkpoint(ns, cid))
            for ch, version in self.serde.loads_typed(_decompress(type_, blob))[
                "channel_versions"
            ].items():
                live.add((ns, ch, str(version)))
        rows = conn.execute(
            f"SELECT checkpoint_ns, channel, version, base_version FROM {BLOBS} WHERE thread_id = ?",
            (thread_id,),
        ).fetchall()
        base_of = {(ns, ch, v): base for ns, ch, v, base in rows}
        stack = list(live)
        while stack:
            ns, ch, v = stack.pop()
            base = base_of.get((ns, ch, v))
            if base is not None and (ns, ch, base) not in live:
                live.add((ns, ch, base))
                stack.append((ns, ch, base))
        dead = [(thread_id, *key) for key in base_of if key not in live]
        conn.executemany(
            f"DELETE FROM {BLOBS} WHERE thread_id = ? AND checkpoint_ns = ? AND channel = ? AND version = ?",
            dead,
        )
        return len(dead)

    # small queries used by the SQLite backend ------------------------------------------
    @staticmethod
    def latest_checkpoint_id(
        conn: Connection, thread_id: str, checkpoint_ns: str = ""
    ) -> str | None:
        """The newest checkpoint id of a thread's namespace, or ``None``."""
        row = conn.execute(
            f"SELECT checkpoint_id FROM {CHECKPOINTS} WHERE thread_id = ? AND checkpoint_ns = ? "
            "ORDER BY checkpoint_id DESC LIMIT 1",
            (str(thread_id), checkpoint_ns),
        ).fetchone()
        return None if row is None else cast(str, row[0])

    def writes_mark(self) -> int:
        """A mark such that writes stored later have a larger ``seq`` (see ``delete_after``)."""
        return self._next_seq()

    def _next_seq(self) -> int:
        # Wall-clock nanoseconds, strictly increasing within the process: comparable
        # across processes sharing the file (clocks agree far better than a run lasts).
        with self._guard:
            self._seq = max(self._seq + 1, time.time_ns())
            return self._seq

    @staticmethod
    def vacuum(conn: sqlite3.Connection, *, full: bool = False) -> None:
        """Give free pages back to the file system: incremental (cheap) or full ``VACUUM``."""
        if conn.in_transaction:
            return
        # executescript steps the statement to the end; execute() would free one page.
        conn.executescript("VACUUM" if full else "PRAGMA incremental_vacuum")
