"""Re-sealing what a database holds under the newest encryption key (``graph-sessions rekey``).

A key ring encrypts with its newest key and opens what any of its keys sealed. After a new
key is put first, old rows stay sealed with the old key until they are written again;
:func:`rekey` finishes the job: it walks every table that holds sealed (or, for a database
that had no key before, plaintext) values, in bounded batches by primary key, and writes
each value again under the newest key, sealed exactly as the writers seal it (the same
associated data: ``storage/encrypted.py``, ``storage/encrypted_store.py`` and the
checkpoint engine).

The walking is this module's; reading and writing a batch is the backend's
(:class:`RekeySource`, from ``Backend.rekey_source``): SQLite re-seals a batch inside one
``BEGIN IMMEDIATE`` transaction (the writers' own lock), Postgres with one ``UPDATE ...
WHERE <column> = <old bytes>`` per row (a row a server changed meanwhile is read again),
Redis with a compare-and-set script per value (``storage/redis/rekey.py``). So a server
can keep running on the same database.

Before writing anything, a first pass reads every row and opens every value that is not
under the newest key: a value sealed with a key the ring lacks (or a wrong key) raises
``EncryptionError`` naming the key id, and nothing has been changed.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from graph_sessions.checkpoint.engine import (
    PLAIN_METADATA,
    aad_checkpoint,
    aad_value,
    aad_write,
    should_seal,
    stored_body_holds_values,
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
    sealed_key_id,
)
from graph_sessions.crypto.sealed_json import PREFIX
from graph_sessions.errors import EncryptionError
from graph_sessions.storage.encrypted_store import FIELD, store_aad

#: rows per batch unless asked otherwise (on SQLite each batch is one short transaction)
DEFAULT_BATCH = 200

Row = dict[str, Any]


class Resealer:
    """Values opened with ``ring`` (any key) and sealed again with its newest key; plaintext
    values sealed as the writers seal them. Each method answers ``(value, changed)``."""

    def __init__(self, ring: KeyRing, indexable_metadata: Iterable[str] = ()) -> None:
        self.ring = ring
        self.indexable = frozenset(indexable_metadata)

    def current(self, raw: bytes) -> bool:
        """Whether sealed ``raw`` names the newest key."""
        return sealed_key_id(raw) == self.ring.current

    def json_value(self, value: Any, aad: bytes, *, seal_plain: bool = True) -> tuple[Any, bool]:
        """A JSON value (``"gse1:..."`` when sealed). ``None`` stays ``None`` (writers do not
        seal it); plaintext is sealed when ``seal_plain``."""
        if is_sealed_json(value):
            try:
                raw = base64.b64decode(value[len(PREFIX) :], validate=True)
            except ValueError:
                raise EncryptionError("a sealed value is malformed (not base64)") from None
            if is_sealed(raw) and self.current(raw):
                return value, False
            return seal_json(self.ring, open_json(self.ring, value, aad), aad), True
        if value is None or not seal_plain:
            return value, False
        return seal_json(self.ring, value, aad), True

    def bytes_value(self, data: bytes | None, aad: bytes) -> tuple[bytes | None, bool]:
        """A bytes column (a checkpoint body, value or write); ``None`` stays ``None``, and
        empty bytes (a ``null`` value) are not sealed (``should_seal``)."""
        if data is None:
            return None, False
        data = bytes(data)
        if is_sealed(data):
            if self.current(data):
                return data, False
            plain = open_bytes(self.ring, data, aad)
            return (seal(self.ring, plain, aad) if should_seal(plain) else plain), True
        if not should_seal(data):
            return data, False
        return seal(self.ring, data, aad), True

    def wrapped(self, value: Any, aad: bytes, *, always: bool = False) -> tuple[Any, bool]:
        """A value the writers store as ``{"sealed": ...}`` (event data, message data,
        queued runs' input): plaintext is wrapped when it is not empty (``always``: even
        then)."""
        if isinstance(value, dict) and set(value) == {"sealed"} and is_sealed_json(value["sealed"]):
            inner, changed = self.json_value(value["sealed"], aad)
            return {"sealed": inner}, changed
        if not value and not always:
            return value, False
        return {"sealed": seal_json(self.ring, value, aad)}, True


def _registry(sid: str, name: str, *more: str) -> bytes:
    return aad_of("registry", sid, name, *more)


# one function per table: the row's new values (only those that change), or None -------
def _sessions(r: Resealer, row: Row) -> Row | None:
    sid = row["session_id"]
    out: Row = {}
    metadata = row["metadata"]
    if isinstance(metadata, dict):
        new_md, md_changed = {}, False
        for k, v in metadata.items():
            new_md[k], changed = r.json_value(
                v, _registry(sid, f"metadata.{k}"), seal_plain=k not in r.indexable
            )
            md_changed |= changed
        if md_changed:
            out["metadata"] = new_md
    interrupts = row["interrupts"]
    if (
        isinstance(interrupts, list)
        and len(interrupts) == 1
        and isinstance(interrupts[0], dict)
        and set(interrupts[0]) == {"sealed"}
        and is_sealed_json(interrupts[0]["sealed"])
    ):
        value, changed = r.json_value(interrupts[0]["sealed"], _registry(sid, "interrupts"))
        if changed:
            out["interrupts"] = [{"sealed": value}]
    elif interrupts:
        out["interrupts"] = [
            {"sealed": seal_json(r.ring, interrupts, _registry(sid, "interrupts"))}
        ]
    for name in ("last_error", "suspend_reason"):
        value, changed = r.json_value(row[name], _registry(sid, name))
        if changed:
            out[name] = value
    return out or None


def _runs(r: Resealer, row: Row) -> Row | None:
    value, changed = r.json_value(
        row["error"], _registry(row["session_id"], "run.error", row["run_id"])
    )
    return {"error": value} if changed else None


def _events(r: Resealer, row: Row) -> Row | None:
    aad = _registry(row["session_id"], "event", row["type"], row["run_id"] or "")
    value, changed = r.wrapped(row["data"], aad)
    return {"data": value} if changed else None


def _messages(r: Resealer, row: Row) -> Row | None:
    sid, role = row["session_id"], row["role"]
    out: Row = {}
    content, changed = r.json_value(row["content"], _registry(sid, "message.content", role))
    if changed:
        out["content"] = content
    data, changed = r.wrapped(row["data"], _registry(sid, "message.data", role))
    if changed:
        out["data"] = data
    return out or None


def _pending(r: Resealer, row: Row) -> Row | None:
    aad = _registry(row["session_id"], "pending", row["run_id"])
    value, changed = r.wrapped(row["payload"], aad, always=True)
    return {"payload": value} if changed else None


def _store(r: Resealer, row: Row) -> Row | None:
    value = row["value"]
    aad = store_aad(tuple(row["prefix"].split(".")) if row["prefix"] else (), row["key"])
    if isinstance(value, dict) and set(value) == {FIELD}:
        inner, changed = r.json_value(value[FIELD], aad)
        return {"value": {FIELD: inner}} if changed else None
    return {"value": {FIELD: seal_json(r.ring, dict(value), aad)}}


def _checkpoints(r: Resealer, row: Row) -> Row | None:
    ns, cid = row["checkpoint_ns"], row["checkpoint_id"]
    out: Row = {}
    body = row["checkpoint"]
    if is_sealed(body) or (body is not None and stored_body_holds_values(row["type"], body)):
        body, changed = r.bytes_value(body, aad_checkpoint(ns, cid))
        if changed:
            out["checkpoint"] = body
    if row["metadata"] is not None:
        md = json.loads(bytes(row["metadata"]) or b"{}")
        new_md, md_changed = {}, False
        for k, v in md.items():
            if k in PLAIN_METADATA:
                new_md[k] = v
                continue
            aad = aad_of("meta", ns, cid, k)
            if is_sealed_json(v):
                new_md[k], changed = r.json_value(v, aad)
            else:  # the engine seals every other value, null included
                new_md[k], changed = seal_json(r.ring, v, aad), True
            md_changed |= changed
        if md_changed:
            text = json.dumps(new_md, ensure_ascii=False, separators=(",", ":"))
            out["metadata"] = text.encode("utf-8", "ignore")
    return out or None


def _blobs(r: Resealer, row: Row) -> Row | None:
    aad = aad_value(row["checkpoint_ns"], row["channel"], row["version"])
    data, changed = r.bytes_value(row["data"], aad)
    return {"data": data} if changed else None


def _writes(r: Resealer, row: Row) -> Row | None:
    aad = aad_write(
        row["checkpoint_ns"], row["checkpoint_id"], row["task_id"], int(row["idx"]), row["channel"]
    )
    data, changed = r.bytes_value(row["value"], aad)
    return {"value": data} if changed else None


@dataclass(frozen=True)
class RekeyTable:
    """One table :func:`rekey` walks: its primary key, the columns a row's values are
    bound to, the columns it may rewrite (those in ``json`` are JSON columns), and the
    function that re-seals a row."""

    kind: str
    table: str
    keys: tuple[str, ...]
    context: tuple[str, ...]
    values: tuple[str, ...]
    json: frozenset[str]
    reseal: Callable[[Resealer, Row], Row | None]

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column read, primary key first."""
        seen = dict.fromkeys((*self.keys, *self.context, *self.values))
        return tuple(seen)

    def last_key_sql(self) -> str:
        """The query of the table's highest primary key."""
        keys = ", ".join(f"{k} DESC" for k in self.keys)
        return f"SELECT {', '.join(self.keys)} FROM {self.table} ORDER BY {keys} LIMIT 1"

    def batch_sql(self, select: str, mark: str, after: bool) -> str:
        """The query of a batch: ``select`` columns of the rows up to a key (and after
        another one when ``after``), key order, a limit; parameters are written ``mark``
        and bound as ``(*until, *after, limit)``."""
        keys = ", ".join(self.keys)
        marks = ", ".join([mark] * len(self.keys))
        where = f"WHERE ({keys}) <= ({marks})"
        if after:
            where += f" AND ({keys}) > ({marks})"
        return f"SELECT {select} FROM {self.table} {where} ORDER BY {keys} LIMIT {mark}"


_J = frozenset
#: the tables of the SQL backends (same names and columns on SQLite and Postgres)
SQL_TABLES: tuple[RekeyTable, ...] = (
    RekeyTable(
        "sessions",
        "sessions",
        ("session_id",),
        (),
        ("metadata", "interrupts", "last_error", "suspend_reason"),
        _J({"metadata", "interrupts"}),
        _sessions,
    ),
    RekeyTable("runs", "runs", ("run_id",), ("session_id",), ("error",), _J(), _runs),
    RekeyTable(
        "events",
        "session_events",
        ("id",),
        ("session_id", "type", "run_id"),
        ("data",),
        _J({"data"}),
        _events,
    ),
    RekeyTable(
        "messages",
        "messages",
        ("id",),
        ("session_id", "role"),
        ("content", "data"),
        _J({"content", "data"}),
        _messages,
    ),
    RekeyTable(
        "queued runs",
        "pending_runs",
        ("run_id",),
        ("session_id",),
        ("payload",),
        _J({"payload"}),
        _pending,
    ),
    RekeyTable("store", "store", ("prefix", "key"), (), ("value",), _J({"value"}), _store),
    RekeyTable(
        "checkpoints",
        "gs_checkpoints",
        ("thread_id", "checkpoint_ns", "checkpoint_id"),
        ("type",),
        ("checkpoint", "metadata"),
        _J(),
        _checkpoints,
    ),
    RekeyTable(
        "checkpoint values",
        "gs_checkpoint_blobs",
        ("thread_id", "checkpoint_ns", "channel", "version"),
        (),
        ("data",),
        _J(),
        _blobs,
    ),
    RekeyTable(
        "checkpoint writes",
        "gs_checkpoint_writes",
        ("thread_id", "checkpoint_ns", "checkpoint_id", "task_id", "idx"),
        ("channel",),
        ("value",),
        _J(),
        _writes,
    ),
)


@dataclass
class Batch:
    """What one batch did: rows read, rows re-sealed, the last position (``None``: the
    table has no more rows), and whether more remain (``None``: when the batch was full,
    as on SQL; a Redis batch may read fewer rows than asked while more remain)."""

    rows: int
    resealed: int
    last: tuple[Any, ...] | None
    more: bool | None = None


class RekeySource(Protocol):
    """A backend's reading and writing of one batch (``Backend.rekey_source``)."""

    async def tables(self) -> Sequence[RekeyTable]:
        """The tables this database has, of :data:`SQL_TABLES` (or its own kinds of values:
        Redis)."""
        ...

    async def last_key(self, table: RekeyTable) -> tuple[Any, ...] | None:
        """The table's highest primary key now (``None``: empty): the walk stops there, so
        rows written meanwhile (by processes with the new key) cannot keep it going. A
        position of the backend's own may stand for the key (Redis: the end of a snapshot
        of the owners of the values, taken now)."""
        ...

    async def batch(
        self,
        table: RekeyTable,
        after: tuple[Any, ...] | None,
        until: tuple[Any, ...],
        limit: int,
        reseal: Callable[[Row], Row | None],
        write: bool,
    ) -> Batch:
        """Read up to ``limit`` rows after primary key (or position) ``after`` up to
        ``until`` (included), call ``reseal`` on each, and (``write``) store what it
        returns in one short transaction (Redis: a compare-and-set per value), without
        losing a concurrent writer's change (re-read, re-sealed again)."""
        ...

    async def finish(self, compact: bool) -> None:
        """After the last batch: let go of stale copies of old bytes where the database
        keeps them (SQLite: its write-ahead log; ``compact``: the free space of its pages
        too, by rewriting the file)."""
        ...


@dataclass
class KindCount:
    """Rows of one kind: re-sealed, already under the newest key (or with nothing sealed)."""

    resealed: int = 0
    current: int = 0


@dataclass
class RekeyReport:
    """What :func:`rekey` did (or, ``dry_run``, would do)."""

    key_id: str
    dry_run: bool
    kinds: dict[str, KindCount] = field(default_factory=dict)
    elapsed: float = 0.0

    @property
    def resealed(self) -> int:
        """Rows re-sealed, over every kind."""
        return sum(k.resealed for k in self.kinds.values())

    @property
    def current(self) -> int:
        """Rows already current, over every kind."""
        return sum(k.current for k in self.kinds.values())


Progress = Callable[[str, KindCount], None]


async def _walk(
    source: RekeySource,
    tables: Sequence[RekeyTable],
    resealer: Resealer,
    batch: int,
    *,
    write: bool,
    report: RekeyReport,
    progress: Progress | None,
) -> None:
    for table in tables:
        count = report.kinds.setdefault(table.kind, KindCount())

        def reseal(row: Row, table: RekeyTable = table) -> Row | None:
            return table.reseal(resealer, row)

        until = await source.last_key(table)
        after: tuple[Any, ...] | None = None
        while until is not None:
            done = await source.batch(table, after, until, batch, reseal, write)
            count.resealed += done.resealed
            count.current += done.rows - done.resealed
            if progress is not None:
                progress(table.kind, count)
            more = done.rows >= batch if done.more is None else done.more
            if done.last is None or not more:
                break
            after = done.last


async def rekey(
    source: RekeySource,
    ring: KeyRing,
    *,
    indexable_metadata: Iterable[str] = (),
    batch: int = DEFAULT_BATCH,
    dry_run: bool = False,
    compact: bool = False,
    progress: Progress | None = None,
) -> RekeyReport:
    """Re-seal every value of ``source``'s database not under ``ring``'s newest key (see the
        module doc). ``dry_run``: count only; ``compact``: then rewrite the database so that no
    old bytes remain in its free space (SQLite's ``VACUUM``: writers wait meanwhile). Raises ``EncryptionError`` (naming the key id)
        before changing anything when a value cannot be opened with ``ring``."""
    if batch < 1:
        raise ValueError("batch must be >= 1")
    started = time.monotonic()
    resealer = Resealer(ring, indexable_metadata)
    tables = await source.tables()
    checked = RekeyReport(ring.current, True)
    await _walk(source, tables, resealer, batch, write=False, report=checked, progress=None)
    if dry_run:
        checked.elapsed = time.monotonic() - started
        return checked
    report = RekeyReport(ring.current, False)
    await _walk(source, tables, resealer, batch, write=True, report=report, progress=progress)
    await source.finish(compact)
    report.elapsed = time.monotonic() - started
    return report
