"""``rekey`` on Redis (``storage/rekey.py``): every value the Redis backend keeps sealed
(or, for a deployment that had no key, in the clear) is read, re-sealed under the newest
key and written back by a compare-and-set script: "replace only if the field (or zset
member) still holds the bytes read". A value a server changed meanwhile is read again and
re-sealed from what it holds now, so no concurrent write is lost; a key Redis expired
meanwhile is skipped.

What is walked, per kind (``keys.py`` and ``checkpoint/redis_keys.py`` name the keys):

- ``sessions``: field ``row`` of ``P s:S:row`` (metadata values, interrupts, last error,
  suspend reason); ``runs``: the ``P s:S:runs`` hash (a run's error); ``events`` and
  ``messages``: the members of ``P s:S:ev`` / ``P s:S:msg`` (``id \\0 JSON``; a member is
  replaced by adding the new one with the same score, then removing the old one, in one
  script); ``queued runs``: the ``P pending`` hash; ``store``: field ``v`` of each store
  item;
- ``checkpoints``: both serialized values of each ``cp`` record (the checkpoint and its
  metadata), ``checkpoint writes``: each ``w`` write, ``checkpoint values``: each ``v``
  value: sealed as ``EncryptedSerde`` seals them (type ``+gse``, bound to the inner type).
  A value with empty bytes is stored unsealed, as the writers store it.
- ``checkpoint value tails``: a list value stored as the tail of an earlier version
  (``checkpoint/redis_records.py``) keeps being a tail: its new element bytes alone are
  opened (any key of the ring) and sealed again under the newest key (or sealed, when
  plaintext), bound to ``b"tail:msgpack"`` as the saver seals them; its link to its base
  (``vb``) is untouched, so no chain is ever broken, whatever servers write meanwhile. A
  base is re-sealed as any whole value (readers open each part of a chain on its own).

Positions are indexes into snapshots taken when a kind's walk starts: the session ids of
``P i:created``, the saver's ``P threads``, the store's namespaces (anything created later
is written by servers that have the new key), plus a position inside one session, thread
or namespace, so a batch reads at most ``limit`` values whatever their size.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import ormsgpack

from graph_sessions.checkpoint.redis_keys import thread_keys, threads_key
from graph_sessions.checkpoint.redis_records import TAIL, tail_aad
from graph_sessions.crypto import is_sealed
from graph_sessions.crypto.serde import SUFFIX, seal_typed
from graph_sessions.errors import BackendError
from graph_sessions.storage.codec import dump_json
from graph_sessions.storage.redis.keys import Keys
from graph_sessions.storage.redis.rows import event_payload, message_payload
from graph_sessions.storage.rekey import (
    Batch,
    RekeyTable,
    Resealer,
    Row,
    _events,
    _messages,
    _pending,
    _runs,
    _sessions,
    _store,
)

#: times a value changed under a batch is read again before the batch gives up
RETRIES = 20

#: KEYS: hash; ARGV: field, old bytes, new bytes. 1: replaced, 0: it holds something else
SET_FIELD = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
"""

#: KEYS: zset; ARGV: old member, new member: the new one gets the old one's score (added
#: first: the zset never empties, so it keeps its expiry)
SWAP_MEMBER = """
if ARGV[1] == ARGV[2] then return 1 end
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return 0 end
redis.call('ZADD', KEYS[1], score, ARGV[2])
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


# serialized (type, bytes) pairs of the checkpoint saver -------------------------------
def reseal_pair(r: Resealer, type_: str, data: bytes) -> tuple[str, bytes, bool]:
    """A ``serde.dumps_typed`` pair sealed as ``EncryptedSerde`` seals it under the newest
    key; a plaintext pair with empty bytes stays as it is."""
    if type_.endswith(SUFFIX):
        inner = type_[: -len(SUFFIX)]
        sealed, changed = r.bytes_value(data, inner.encode())
        assert sealed is not None
        if not is_sealed(sealed):  # an empty value an earlier version sealed
            return inner, sealed, True
        return type_, sealed, changed
    new_type, new_data = seal_typed(r.ring, type_, data)
    return new_type, new_data, new_type != type_


def _record(r: Resealer, row: Row) -> Row | None:
    head, sep, body = row["raw"].partition(b"\x00\x00")
    ctype, cbytes, mtype, mbytes, parent_id, run_id = ormsgpack.unpackb(body)
    ctype, cbytes, c_changed = reseal_pair(r, ctype, cbytes)
    mtype, mbytes, m_changed = reseal_pair(r, mtype, mbytes)
    if not (c_changed or m_changed):
        return None
    packed = ormsgpack.packb([ctype, cbytes, mtype, mbytes, parent_id, run_id])
    return {"raw": head + sep + packed}


def _value(r: Resealer, row: Row) -> Row | None:
    vtype, _, data = row["raw"].partition(b"\x00")
    new_type, new_data, changed = reseal_pair(r, vtype.decode(), data)
    return {"raw": new_type.encode() + b"\x00" + new_data} if changed else None


#: what every tail's new element bytes are bound to (only ``msgpack`` values are lists)
TAIL_AAD = tail_aad("msgpack")


def _tail(r: Resealer, row: Row) -> Row | None:
    """A tail ``\x01 count \0 base version \0 elements`` with its elements re-sealed."""
    raw = bytes(row["raw"])
    count, _, rest = raw[1:].partition(b"\x00")
    base, _, chunk = rest.partition(b"\x00")
    sealed, changed = r.bytes_value(chunk, TAIL_AAD)
    if not changed:
        return None
    assert sealed is not None
    return {"raw": TAIL + count + b"\x00" + base + b"\x00" + sealed}


def _write(r: Resealer, row: Row) -> Row | None:
    task_id, task_path, idx, channel, wtype, wbytes = ormsgpack.unpackb(row["raw"])
    wtype, wbytes, changed = reseal_pair(r, wtype, wbytes)
    if not changed:
        return None
    return {"raw": ormsgpack.packb([task_id, task_path, idx, channel, wtype, wbytes])}


def _table(kind: str, reseal: Callable[[Resealer, Row], Row | None]) -> RekeyTable:
    return RekeyTable(kind, kind, (), (), (), frozenset(), reseal)


#: the kinds of values the Redis backend keeps, in walking order
REDIS_TABLES: tuple[RekeyTable, ...] = (
    _table("sessions", _sessions),
    _table("runs", _runs),
    _table("events", _events),
    _table("messages", _messages),
    _table("queued runs", _pending),
    _table("store", _store),
    _table("checkpoints", _record),
    _table("checkpoint value tails", _tail),
    _table("checkpoint values", _value),
    _table("checkpoint writes", _write),
)


@dataclass
class Item:
    """One stored value: its position inside its owner, what ``reseal`` reads (``None``:
    gone meanwhile), and where it is (key, field or member, the bytes read)."""

    pos: Any
    row: Row | None
    key: str = ""
    name: bytes = b""
    old: bytes = b""


class _Kind:
    """How one kind is listed, read again and written."""

    def __init__(self, source: RedisRekeySource) -> None:
        self.source = source
        self.client = source.client
        self.keys = source.keys

    async def owners(self) -> list[str]:
        """The snapshot walked (session ids by default)."""
        return [_text(m) for m in await self.client.zrange(self.keys.created, 0, -1)]

    async def page(self, owner: str, after: Any, limit: int) -> list[Item]:
        """Up to ``limit`` values of ``owner`` after position ``after`` (``None``: its
        first), in order."""
        raise NotImplementedError

    async def reread(self, owner: str, item: Item) -> Item | None:
        """The value ``item`` names as it is now (``None``: gone)."""
        raise NotImplementedError

    def encode(self, item: Item, new: Row) -> bytes:
        """The bytes stored for ``item`` re-sealed as ``new``."""
        assert item.row is not None
        return bytes(new["raw"])

    async def swap(self, owner: str, item: Item, new: bytes) -> int:
        """Store ``new`` if ``item``'s place still holds ``item.old``: 1 done, 0 not."""
        return int(await self.source.set_field(keys=[item.key], args=[item.name, item.old, new]))


class _HashKind(_Kind):
    """The fields of one hash per owner, in field order; values JSON (``json``) or bytes."""

    json = True

    def hash_key(self, owner: str) -> str:
        raise NotImplementedError

    def row(self, owner: str, name: bytes, raw: bytes) -> Row:
        return orjson.loads(raw) if self.json else {"raw": raw}

    async def names(self, key: str, after: Any, limit: int) -> list[bytes]:
        found = sorted(await self.client.hkeys(key))
        if after is not None:
            found = [f for f in found if f > after]
        return found[:limit]

    async def page(self, owner: str, after: Any, limit: int) -> list[Item]:
        key = self.hash_key(owner)
        names = await self.names(key, after, limit)
        if not names:
            return []
        values = await self.client.hmget(key, names)
        return [
            Item(n, None if v is None else self.row(owner, n, v), key, n, v or b"")
            for n, v in zip(names, values, strict=True)
        ]

    async def reread(self, owner: str, item: Item) -> Item | None:
        raw = await self.client.hget(item.key, item.name)
        if raw is None:
            return None
        return Item(item.pos, self.row(owner, item.name, raw), item.key, item.name, raw)

    def encode(self, item: Item, new: Row) -> bytes:
        if not self.json:
            return super().encode(item, new)
        assert item.row is not None
        return dump_json({**item.row, **new}).encode()


class _Sessions(_HashKind):
    def hash_key(self, owner: str) -> str:
        return self.keys.row(owner)

    async def names(self, key: str, after: Any, limit: int) -> list[bytes]:
        return [] if after is not None else [b"row"]


class _Runs(_HashKind):
    def hash_key(self, owner: str) -> str:
        return self.keys.runs(owner)


class _Pending(_HashKind):
    async def owners(self) -> list[str]:
        return [""]

    def hash_key(self, owner: str) -> str:
        return self.keys.pending


class _Log(_Kind):
    """A session's events or messages: zset members ``id \\0 JSON``, by score."""

    def log_key(self, owner: str) -> str:
        raise NotImplementedError

    def row(self, owner: str, body: Any) -> Row:
        raise NotImplementedError

    def payload(self, row: Row, new: Row) -> str:
        raise NotImplementedError

    def item(self, owner: str, key: str, member: bytes, score: float) -> Item:
        _, _, body = member.partition(b"\x00")
        return Item(score, self.row(owner, orjson.loads(body)), key, member, member)

    async def page(self, owner: str, after: Any, limit: int) -> list[Item]:
        key = self.log_key(owner)
        low = "-inf" if after is None else f"({after!r}"
        found = await self.client.zrangebyscore(
            key, low, "+inf", start=0, num=limit, withscores=True
        )
        return [self.item(owner, key, m, s) for m, s in found]

    async def reread(self, owner: str, item: Item) -> Item | None:
        found = await self.client.zrangebyscore(item.key, item.pos, item.pos, withscores=True)
        return self.item(owner, item.key, *found[0]) if found else None

    def encode(self, item: Item, new: Row) -> bytes:
        assert item.row is not None
        head, _, _ = item.old.partition(b"\x00")
        return head + b"\x00" + self.payload(item.row, new).encode()

    async def swap(self, owner: str, item: Item, new: bytes) -> int:
        return int(await self.source.swap_member(keys=[item.key], args=[item.old, new]))


class _Events(_Log):
    def log_key(self, owner: str) -> str:
        return self.keys.events(owner)

    def row(self, owner: str, body: Any) -> Row:
        type_, run_id, data, at = body
        return {"session_id": owner, "type": type_, "run_id": run_id, "data": data, "at": at}

    def payload(self, row: Row, new: Row) -> str:
        return event_payload(row["type"], row["run_id"], new["data"], row["at"])


class _Messages(_Log):
    def log_key(self, owner: str) -> str:
        return self.keys.messages(owner)

    def row(self, owner: str, body: Any) -> Row:
        role, content, data, at = body
        return {"session_id": owner, "role": role, "content": content, "data": data, "at": at}

    def payload(self, row: Row, new: Row) -> str:
        merged = {**row, **new}
        return message_payload(merged["role"], merged["content"], merged["data"], merged["at"])


class _Store(_Kind):
    """Field ``v`` of each store item, namespace by namespace in key insertion order."""

    def item_key(self, ns: str, key: str) -> str:
        return f"{self.source.prefix}store:item:{ns}\x00{key}"

    async def owners(self) -> list[str]:
        found = await self.client.zrange(f"{self.source.prefix}store:namespaces", 0, -1)
        return [_text(m) for m in found]

    def item(self, ns: str, key: str, score: float, raw: bytes | None) -> Item:
        row = None if raw is None else {"prefix": ns, "key": key, "value": orjson.loads(raw)}
        return Item(score, row, self.item_key(ns, key), b"v", raw or b"")

    async def page(self, owner: str, after: Any, limit: int) -> list[Item]:
        index = f"{self.source.prefix}store:ns:{owner}"
        low = "-inf" if after is None else f"({after!r}"
        found = await self.client.zrangebyscore(
            index, low, "+inf", start=0, num=limit, withscores=True
        )
        if not found:
            return []
        async with self.client.pipeline(transaction=False) as pipe:
            for member, _ in found:
                pipe.hget(self.item_key(owner, _text(member)), "v")
            values = await pipe.execute()
        return [self.item(owner, _text(m), s, v) for (m, s), v in zip(found, values, strict=True)]

    async def reread(self, owner: str, item: Item) -> Item | None:
        assert item.row is not None
        raw = await self.client.hget(item.key, "v")
        return None if raw is None else self.item(owner, item.row["key"], item.pos, raw)

    def encode(self, item: Item, new: Row) -> bytes:
        return json.dumps(new["value"], separators=(",", ":"), allow_nan=False).encode()


class _ThreadKind(_HashKind):
    """A hash of each of the saver's threads, values bytes."""

    json = False

    async def owners(self) -> list[str]:
        found = await self.client.zrange(threads_key(self.source.prefix), 0, -1)
        return [_text(m) for m in found]


class _Checkpoints(_ThreadKind):
    def hash_key(self, owner: str) -> str:
        return thread_keys(self.source.prefix, owner).cp

    async def names(self, key: str, after: Any, limit: int) -> list[bytes]:
        idx = key[: -len("cp")] + "idx"
        low = b"-" if after is None else b"(" + after
        return list(await self.client.zrangebylex(idx, low, b"+", start=0, num=limit))


class _Writes(_ThreadKind):
    def hash_key(self, owner: str) -> str:
        return thread_keys(self.source.prefix, owner).w

    async def names(self, key: str, after: Any, limit: int) -> list[bytes]:
        wi = key + "i"
        low = b"-" if after is None else b"(" + after
        return list(await self.client.zrangebylex(wi, low, b"+", start=0, num=limit))


class _Values(_ThreadKind):
    """Whole values (tails are the next kind's)."""

    def hash_key(self, owner: str) -> str:
        return thread_keys(self.source.prefix, owner).v

    def row(self, owner: str, name: bytes, raw: bytes) -> Row:
        return {"raw": raw, "tail": raw.startswith(TAIL)}

    async def page(self, owner: str, after: Any, limit: int) -> list[Item]:
        return [self._skip(i) for i in await super().page(owner, after, limit)]

    async def reread(self, owner: str, item: Item) -> Item | None:
        found = await super().reread(owner, item)
        return None if found is None else self._skip(found)

    def want(self, row: Row) -> bool:
        """Whether this kind re-seals ``row``."""
        return not row["tail"]

    def _skip(self, item: Item) -> Item:
        if item.row is not None and not self.want(item.row):
            item.row = None  # the other kind's
        return item


class _Tails(_Values):
    """The values stored as tails (the fields ``vb`` links to a base), in field order."""

    def want(self, row: Row) -> bool:
        return bool(row["tail"])

    async def names(self, key: str, after: Any, limit: int) -> list[bytes]:
        vb = key + "b"
        found = sorted(await self.client.hkeys(vb))
        if after is not None:
            found = [f for f in found if f > after]
        return found[:limit]


class RedisRekeySource:
    """Batches of what one Redis deployment (a key prefix) holds, on the backend's client
    (see the module doc)."""

    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.keys = Keys(prefix)
        self.set_field = client.register_script(SET_FIELD)
        self.swap_member = client.register_script(SWAP_MEMBER)
        self.kinds: dict[str, _Kind] = {
            "sessions": _Sessions(self),
            "runs": _Runs(self),
            "events": _Events(self),
            "messages": _Messages(self),
            "queued runs": _Pending(self),
            "store": _Store(self),
            "checkpoints": _Checkpoints(self),
            "checkpoint value tails": _Tails(self),
            "checkpoint values": _Values(self),
            "checkpoint writes": _Writes(self),
        }
        self.snapshots: dict[str, list[str]] = {}

    async def tables(self) -> Sequence[RekeyTable]:
        """Every kind of :data:`REDIS_TABLES`."""
        return REDIS_TABLES

    async def last_key(self, table: RekeyTable) -> tuple[Any, ...] | None:
        """Takes the kind's snapshot (session ids, thread ids or namespaces) and answers
        the position of its end (``None``: nothing to walk)."""
        owners = await self.kinds[table.kind].owners()
        self.snapshots[table.kind] = owners
        return (len(owners), None) if owners else None

    async def batch(
        self,
        table: RekeyTable,
        after: tuple[Any, ...] | None,
        until: tuple[Any, ...],
        limit: int,
        reseal: Callable[[Row], Row | None],
        write: bool,
    ) -> Batch:
        """Up to ``limit`` values after position ``after`` (``(index in the snapshot,
        position inside that owner)``), each written back by a compare-and-set (see
        ``RekeySource.batch``)."""
        kind = self.kinds[table.kind]
        owners = self.snapshots[table.kind][: until[0]]
        i, pos = after if after is not None else (0, None)
        rows = resealed = 0
        while i < len(owners) and rows < limit:
            asked = limit - rows
            items = await kind.page(owners[i], pos, asked)
            for item in items:
                pos = item.pos
                if item.row is None:
                    continue
                rows += 1
                if await self._reseal(kind, owners[i], item, reseal, write):
                    resealed += 1
            if len(items) == asked:
                break  # the owner may hold more
            i, pos = i + 1, None
        return Batch(rows, resealed, (i, pos), more=i < len(owners))

    async def _reseal(
        self,
        kind: _Kind,
        owner: str,
        item: Item,
        reseal: Callable[[Row], Row | None],
        write: bool,
    ) -> bool:
        current: Item | None = item
        for _ in range(RETRIES):
            assert current is not None and current.row is not None
            new = reseal(current.row)
            if not new:
                return False
            if not write:
                return True
            done = await kind.swap(owner, current, kind.encode(current, new))
            if done == 1:
                return True
            current = await kind.reread(owner, current)
            if current is None or current.row is None:
                return False
        raise BackendError(
            f"rekey: a {next(k for k, v in self.kinds.items() if v is kind)} value kept "
            "changing under it; run it again"
        )

    async def finish(self, compact: bool) -> None:
        """Nothing (``compact`` is ignored): Redis keeps no older copies a client can read;
        its RDB snapshot or append-only file still holds the old bytes until the next save
        or ``BGREWRITEAOF`` rewrites it."""
