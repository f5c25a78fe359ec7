"""How the Redis saver encodes what it stores, and decodes what its scripts answer.

A checkpoint record (field of ``cp``) is ``head \\0\\0 body``: ``head`` is the checkpoint's
channel versions as ``channel \\0 version \\0 …`` (read by the Lua read script to find the
values, so a read is one round trip), ``body`` a msgpack array ``[checkpoint type,
checkpoint bytes (without channel values), metadata type, metadata bytes, parent id,
run id]``. A value (field of ``v``) is ``type \\0 bytes``; a pending write (field of ``w``)
a msgpack array ``[task_id, task_path, idx, channel, type, bytes]``.

**Tails.** A list value whose msgpack elements start with exactly the elements of a
version stored before (bytes compared, never the reducer) is stored as ``\x01 count \0
base_version \0 new element bytes``; the read script follows the chain to a whole value
and answers ``[count, [tail…, whole]]``, which :func:`join_chain` turns back into the exact
bytes ``serde.dumps_typed`` gave. ``vb`` maps such a field to its base's, so the
maintenance operations keep every base a kept value needs.

**Under encryption** (``serde`` an :class:`~graph_sessions.crypto.serde.EncryptedSerde`)
tails are computed on the plaintext elements and each part is sealed on its own: a whole
value as ``EncryptedSerde`` stores it (``type+gse \0 seal(bytes, aad=type)``), a tail's
new element bytes as ``seal(elements, aad=b"tail:" + type)`` (:func:`tail_aad`; only
``msgpack`` values are lists, so that is ``b"tail:msgpack"``). Sealed bytes start with
``0xc1``, a byte msgpack never emits, so a sealed tail part is told from a plaintext one
by its bytes; empty bytes stay unsealed. :func:`join_chain` opens each part before
joining (plaintext chains, old data or no key, read as before).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import ormsgpack
from langgraph.checkpoint.base import (
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    PendingWrite,
    SerializerProtocol,
    writes_sort_key,
)

from graph_sessions.checkpoint.msgpack_list import array_header, split_array
from graph_sessions.checkpoint.redis_keys import SEP, split_member
from graph_sessions.crypto.cipher import open_bytes
from graph_sessions.crypto.keys import KeyRing
from graph_sessions.crypto.serde import SUFFIX, EncryptedSerde

_HEAD_END = b"\x00\x00"


@dataclass(frozen=True)
class Record:
    """A decoded checkpoint record, values not deserialized."""

    versions: dict[str, str]
    checkpoint: tuple[str, bytes]
    metadata: tuple[str, bytes]
    parent_id: str | None
    run_id: str | None


def encode_record(
    serde: SerializerProtocol,
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
    parent_id: str | None,
) -> bytes:
    """The ``cp`` field of a checkpoint (its channel values are stored apart)."""
    body = {k: v for k, v in checkpoint.items() if k != "channel_values"}
    versions = checkpoint["channel_versions"]
    head = SEP.join(f"{ch}{SEP}{version}" for ch, version in versions.items()).encode()
    ctype, cbytes = serde.dumps_typed(body)
    mtype, mbytes = serde.dumps_typed(metadata)
    run_id = metadata.get("run_id")
    packed = ormsgpack.packb(
        [ctype, cbytes, mtype, mbytes, parent_id, None if run_id is None else str(run_id)]
    )
    return head + _HEAD_END + packed


def decode_record(raw: bytes) -> Record:
    """The parts of a ``cp`` field."""
    head, _, body = raw.partition(_HEAD_END)
    parts = head.decode().split(SEP) if head else []
    ctype, cbytes, mtype, mbytes, parent_id, run_id = ormsgpack.unpackb(body)
    return Record(
        dict(zip(parts[::2], parts[1::2], strict=True)),
        (ctype, cbytes),
        (mtype, mbytes),
        parent_id,
        run_id,
    )


def encode_value(serde: SerializerProtocol, value: Any) -> bytes:
    """A ``v`` field: ``type \\0 bytes``."""
    vtype, vbytes = serde.dumps_typed(value)
    return vtype.encode() + b"\x00" + vbytes


TAIL = b"\x01"


def tail_value(count: int, base_version: str, tail: bytes) -> bytes:
    """A ``v`` field holding the new elements of a list over ``base_version``'s."""
    return TAIL + str(count).encode() + b"\x00" + base_version.encode() + b"\x00" + tail


def list_elements(vtype: str, data: bytes) -> tuple[int, bytes] | None:
    """``(count, element bytes)`` of a serialized msgpack list, else None."""
    if vtype != "msgpack":
        return None
    split = split_array(data)
    if split is None:
        return None
    return split[0], data[split[1] :]


def tail_aad(vtype: str) -> bytes:
    """The associated data a tail's sealed element bytes are bound to (``vtype``: the
    inner serializer's type of the whole value, ``msgpack``)."""
    return b"tail:" + vtype.encode()


def ring_of(serde: SerializerProtocol) -> KeyRing | None:
    """The key ring of an encrypting serializer (``None``: values are not sealed)."""
    return serde.ring if isinstance(serde, EncryptedSerde) else None


def join_chain(count: bytes, parts: list[bytes], ring: KeyRing | None = None) -> bytes:
    """The whole plaintext ``type \0 bytes`` of a value the read script answered as a
    chain (newest tail first, the whole base last); sealed parts are opened with ``ring``
    (``EncryptionError`` naming the key when that cannot be)."""
    vtype, _, data = parts[-1].partition(b"\x00")
    inner = vtype.decode()
    if inner.endswith(SUFFIX):
        inner = inner[: -len(SUFFIX)]
        data = open_bytes(ring, data, inner.encode())
    split = split_array(data)
    if split is None:  # a base that is not a list: cannot happen for values we wrote
        raise ValueError("a stored tail extends a value that is not a list")
    aad = tail_aad(inner)
    tails = [open_bytes(ring, part, aad) for part in reversed(parts[:-1])]
    elements = data[split[1] :] + b"".join(tails)
    return inner.encode() + b"\x00" + array_header(int(count)) + elements


def decode_value(serde: SerializerProtocol, raw: bytes | list[Any]) -> Any:
    """A stored value (or a chain of tails), deserialized."""
    if isinstance(raw, list):
        raw = join_chain(raw[0], raw[1], ring_of(serde))
    vtype, _, vbytes = raw.partition(b"\x00")
    return serde.loads_typed((vtype.decode(), vbytes))


def encode_write(
    serde: SerializerProtocol, task_id: str, task_path: str, idx: int, channel: str, value: Any
) -> bytes:
    """A ``w`` field."""
    wtype, wbytes = serde.dumps_typed(value)
    return ormsgpack.packb([task_id, task_path, idx, channel, wtype, wbytes])


def decode_writes(serde: SerializerProtocol, raws: list[bytes]) -> list[PendingWrite]:
    """A checkpoint's pending writes in LangGraph's order (``writes_sort_key``)."""
    rows = [ormsgpack.unpackb(raw) for raw in raws]
    rows.sort(key=lambda r: writes_sort_key(r[1], r[0], r[2]))
    return [(r[0], r[3], serde.loads_typed((r[4], r[5]))) for r in rows]


def decode_tuple(
    serde: SerializerProtocol, thread_id: str, row: list[Any]
) -> tuple[CheckpointTuple, Record]:
    """One answer of the read script (``[member, record, [channel, value…], [write…]]``)
    as LangGraph's ``CheckpointTuple``."""
    member_raw, raw, blobs, writes = row
    ns, checkpoint_id = split_member(member_raw.decode())
    record = decode_record(raw)
    checkpoint: Checkpoint = serde.loads_typed(record.checkpoint)
    checkpoint["channel_values"] = {
        blobs[i].decode(): decode_value(serde, blobs[i + 1]) for i in range(0, len(blobs), 2)
    }
    metadata: CheckpointMetadata = serde.loads_typed(record.metadata)
    conf = {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": checkpoint_id}
    parent = (
        None
        if record.parent_id is None
        else {
            "configurable": {
                "thread_id": thread_id,
                "checkpoint_ns": ns,
                "checkpoint_id": record.parent_id,
            }
        }
    )
    tup = CheckpointTuple(
        {"configurable": conf},
        checkpoint,
        metadata,
        parent,  # type: ignore[arg-type]
        decode_writes(serde, writes),
    )
    return tup, record


@dataclass
class ThreadSnapshot:
    """What the maintenance operations read of a thread: records, value fields, writes."""

    records: dict[str, bytes] = field(default_factory=dict)
    value_fields: set[str] = field(default_factory=set)
    write_fields: list[str] = field(default_factory=list)
    bases: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_replies(
        cls,
        records: Mapping[bytes, bytes],
        value_fields: list[bytes],
        write_fields: list[bytes],
        bases: Mapping[bytes, bytes],
    ) -> ThreadSnapshot:
        """From ``HGETALL cp``, ``HKEYS v``, ``ZRANGE wi 0 -1``, ``HGETALL vb``."""
        return cls(
            {k.decode(): v for k, v in records.items()},
            {f.decode() for f in value_fields},
            [f.decode() for f in write_fields],
            {k.decode(): v.decode() for k, v in bases.items()},
        )

    def closure(self, fields: set[str]) -> set[str]:
        """``fields`` and every base their values are rebuilt from."""
        out = set(fields)
        todo = list(fields)
        while todo:
            base = self.bases.get(todo.pop())
            if base is not None and base not in out:
                out.add(base)
                todo.append(base)
        return out
