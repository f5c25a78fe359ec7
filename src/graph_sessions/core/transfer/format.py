"""The export file's lines (``docs/export.md``): one JSON object per line, keyed by ``kind``.

``header`` (format name and version, source), then ``assistant``, ``session``, ``cron`` and
``store_item`` lines. A session line holds the registry row (no lease), runs, events and
transcript (without this storage's ids) and every checkpoint of every namespace with its
metadata, parent and pending writes. Checkpoint values and write values are typed with
the saver's serializer (``[type, base64 bytes]``), so nothing JSON cannot hold is lost.

Lines are written with sorted keys and every list in an order that does not depend on the
storage (checkpoints by namespace then id, writes by task then index), so the same sessions
exported from two backends give the same bytes."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
from langgraph.checkpoint.base import WRITES_IDX_MAP, CheckpointTuple
from langgraph.checkpoint.serde.base import SerializerProtocol

from graph_sessions.models import AssistantInfo, CronInfo, Event, Message, RunInfo, SessionInfo
from graph_sessions.storage.records import RestoredEvent, RestoredMessage, SessionRecord

FORMAT: Final = "graph-sessions-export"
VERSION: Final = 1
KINDS: Final = ("header", "session", "assistant", "cron", "store_item")

#: fields of a registry row that belong to the storage holding it, not to the session
_LEASE_FIELDS: Final = {"lease_owner", "lease_expires_at"}


def dump_line(doc: dict[str, Any]) -> bytes:
    """One line of the file: ``doc`` as JSON with sorted keys, and a newline."""
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)


def header(source: str) -> dict[str, Any]:
    """The first line: what the file is and where it came from."""
    return {"kind": "header", "format": FORMAT, "version": VERSION, "source": source}


# typed values ------------------------------------------------------------------------------
def typed(serde: SerializerProtocol, value: Any) -> list[str]:
    """``value`` as ``[type, base64]`` through the saver's serializer."""
    kind, data = serde.dumps_typed(value)
    return [kind, base64.b64encode(data).decode("ascii")]


def untyped(serde: SerializerProtocol, value: Any) -> Any:
    """The value :func:`typed` wrote (``ValueError`` for anything else)."""
    if not isinstance(value, list) or len(value) != 2 or not all(isinstance(v, str) for v in value):
        raise ValueError(f"a typed value is [type, base64], not {short(value)}")
    return serde.loads_typed((value[0], base64.b64decode(value[1], validate=True)))


def short(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _plain_json(value: Any) -> bool:
    """True when ``value`` survives JSON unchanged (no datetime, bytes, objects...)."""
    try:
        return bool(orjson.loads(orjson.dumps(value)) == value)
    except (TypeError, orjson.JSONEncodeError):
        return False


# channel versions ----------------------------------------------------------------------------
# Savers write versions in their own shape: LangGraph's "<n:032>.<random>", ours
# "<n:012>.<random:08x>", some plain ints; the graph loop compares them as values, so a
# thread must keep one shape. The file holds them without padding ("<n>.<random>") and an
# import pads them as the target saver pads its own.
_VERSION = re.compile(r"(\d+)((?:\..*)?)", re.DOTALL)


def neutral_version(version: Any) -> Any:
    """A saver's channel version as the file holds it (``"7.ab12"``; ints as they are)."""
    if isinstance(version, str) and (m := _VERSION.fullmatch(version)):
        return f"{int(m.group(1))}{m.group(2)}"
    return version


@dataclass(frozen=True)
class VersionStyle:
    """How a saver writes channel versions: zero-padded to ``width`` digits, or plain
    ints (``width`` ``None``)."""

    width: int | None

    @classmethod
    def of(cls, saver: Any) -> VersionStyle:
        """The style of the versions ``saver`` makes."""
        sample = saver.get_next_version(None, None)
        if isinstance(sample, int):
            return cls(None)
        return cls(len(str(sample).split(".")[0]))

    def local(self, version: Any) -> Any:
        """A version of the file in this style (unknown shapes are kept as they are)."""
        if isinstance(version, int) and not isinstance(version, bool):
            return version if self.width is None else f"{version:0{self.width}}"
        if isinstance(version, str) and (m := _VERSION.fullmatch(version)):
            if self.width is None:
                return int(m.group(1))
            return f"{int(m.group(1)):0{self.width}}{m.group(2)}"
        return version


def _map_versions(fields: dict[str, Any], convert: Any) -> dict[str, Any]:
    """A checkpoint's fields with ``convert`` applied to every channel version."""
    out = dict(fields)
    if isinstance(fields.get("channel_versions"), dict):
        out["channel_versions"] = {k: convert(v) for k, v in fields["channel_versions"].items()}
    if isinstance(fields.get("versions_seen"), dict):
        out["versions_seen"] = {
            node: {k: convert(v) for k, v in seen.items()} if isinstance(seen, dict) else seen
            for node, seen in fields["versions_seen"].items()
        }
    return out


# checkpoints -------------------------------------------------------------------------------
def _write_order(position: int, write: tuple[str, str, Any]) -> tuple[str, int, int]:
    task_id, channel, _ = write
    special = WRITES_IDX_MAP.get(channel)
    return (task_id, special if special is not None else 0, position)


def checkpoint_doc(serde: SerializerProtocol, item: CheckpointTuple) -> dict[str, Any]:
    """One checkpoint of a session line: ids, parent, the checkpoint's own fields (JSON),
    its channel values and pending writes (typed), its metadata (JSON, or typed when JSON
    would change it)."""
    conf = item.config["configurable"]
    parent = (item.parent_config or {}).get("configurable", {}).get("checkpoint_id")
    fields = _map_versions(
        {k: v for k, v in item.checkpoint.items() if k != "channel_values"}, neutral_version
    )
    values = item.checkpoint.get("channel_values") or {}
    writes = sorted(enumerate(item.pending_writes or []), key=lambda p: _write_order(*p))
    meta = dict(item.metadata or {})
    doc: dict[str, Any] = {
        "ns": conf.get("checkpoint_ns") or "",
        "id": conf["checkpoint_id"],
        "parent_id": parent,
        "checkpoint": fields,
        "values": {ch: typed(serde, v) for ch, v in values.items()},
        "writes": [[t, ch, typed(serde, v)] for _, (t, ch, v) in writes],
    }
    if _plain_json(meta):
        doc["metadata"] = meta
    else:
        doc["metadata_typed"] = typed(serde, meta)
    return doc


@dataclass
class CheckpointEntry:
    """A checkpoint of an import, decoded: ready for the target saver's ``aput``."""

    ns: str
    checkpoint_id: str
    parent_id: str | None
    checkpoint: dict[str, Any]
    metadata: dict[str, Any]
    writes: list[tuple[str, str, Any]] = field(default_factory=list)


def _str(doc: dict[str, Any], key: str, *, optional: bool = False) -> Any:
    value = doc.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key!r} must be a string, not {short(value)}")
    return value


def read_checkpoint(serde: SerializerProtocol, style: VersionStyle, doc: Any) -> CheckpointEntry:
    """A checkpoint of a session line, every value decoded and its versions in ``style``
    (``ValueError`` if malformed)."""
    if not isinstance(doc, dict):
        raise ValueError(f"a checkpoint is an object, not {short(doc)}")
    fields = doc.get("checkpoint")
    values = doc.get("values")
    writes = doc.get("writes")
    if not isinstance(fields, dict) or not isinstance(fields.get("channel_versions"), dict):
        raise ValueError("a checkpoint needs 'checkpoint' with 'channel_versions'")
    if not isinstance(values, dict) or not isinstance(writes, list):
        raise ValueError("a checkpoint needs 'values' (object) and 'writes' (list)")
    if "metadata_typed" in doc:
        metadata = untyped(serde, doc["metadata_typed"])
    else:
        metadata = doc.get("metadata")
    if not isinstance(metadata, dict):
        raise ValueError("a checkpoint's metadata is an object")
    decoded_writes: list[tuple[str, str, Any]] = []
    for w in writes:
        if not isinstance(w, list) or len(w) != 3:
            raise ValueError(f"a pending write is [task_id, channel, value], not {short(w)}")
        if not isinstance(w[0], str) or not isinstance(w[1], str):
            raise ValueError(f"a pending write's task id and channel are strings: {short(w)}")
        decoded_writes.append((w[0], w[1], untyped(serde, w[2])))
    checkpoint_id = _str(doc, "id")
    if fields.get("id") != checkpoint_id:
        raise ValueError(f"checkpoint {checkpoint_id!r} holds id {short(fields.get('id'))}")
    return CheckpointEntry(
        ns=_str(doc, "ns"),
        checkpoint_id=checkpoint_id,
        parent_id=_str(doc, "parent_id", optional=True),
        checkpoint={
            **_map_versions(fields, style.local),
            "channel_values": {k: untyped(serde, v) for k, v in values.items()},
        },
        metadata=metadata,
        writes=decoded_writes,
    )


# sessions ----------------------------------------------------------------------------------
def session_doc(
    info: SessionInfo,
    runs: list[RunInfo],
    events: list[Event],
    messages: list[Message],
    checkpoints: list[dict[str, Any]],
) -> dict[str, Any]:
    """A session line. ``runs`` oldest first, ``events``/``messages`` in log order,
    ``checkpoints`` from :func:`checkpoint_doc` (sorted here)."""
    row = info.model_dump(mode="json", exclude=_LEASE_FIELDS)
    return {
        "kind": "session",
        "session": row,
        "runs": [r.model_dump(mode="json", exclude={"session_id"}) for r in runs],
        "events": [
            {"type": str(e.type), "at": _iso(e), "run_id": e.run_id, "data": e.data} for e in events
        ],
        "messages": [
            {
                "role": m.role,
                "content": m.content,
                "data": m.data,
                "created_at": m.model_dump(mode="json")["created_at"],
            }
            for m in messages
        ],
        "checkpoints": sorted(checkpoints, key=lambda c: (c["ns"], c["id"])),
    }


def _iso(event: Event) -> Any:
    return event.model_dump(mode="json")["at"]


@dataclass
class SessionEntry:
    """A session line, decoded and checked: the rows and the checkpoints to write."""

    record: SessionRecord
    checkpoints: list[CheckpointEntry]

    @property
    def session_id(self) -> str:
        """The session's id."""
        return self.record.info.session_id


def read_session(
    serde: SerializerProtocol, style: VersionStyle, doc: dict[str, Any]
) -> SessionEntry:
    """A session line decoded (``ValueError``, pydantic's ``ValidationError`` when it is
    malformed); nothing is written."""
    row = doc.get("session")
    if not isinstance(row, dict):
        raise ValueError("a session line needs 'session' (the registry row)")
    info = SessionInfo.model_validate(row)
    runs = _list(doc, "runs")
    events = _list(doc, "events")
    messages = _list(doc, "messages")
    checkpoints = _list(doc, "checkpoints")
    record = SessionRecord(
        info=info,
        runs=tuple(
            RunInfo.model_validate({**r, "session_id": info.session_id}) for r in _objects(runs)
        ),
        events=tuple(_event(e) for e in _objects(events)),
        messages=tuple(_message(m) for m in _objects(messages)),
    )
    entries = [read_checkpoint(serde, style, c) for c in checkpoints]
    return SessionEntry(record=record, checkpoints=entries)


def _event(doc: dict[str, Any]) -> RestoredEvent:
    e = Event.model_validate({**doc, "id": 0, "session_id": ""})
    return RestoredEvent(type=str(e.type), at=e.at, run_id=e.run_id, data=e.data)


def _message(doc: dict[str, Any]) -> RestoredMessage:
    m = Message.model_validate({**doc, "id": 0, "session_id": ""})
    return RestoredMessage(role=m.role, content=m.content, data=m.data, created_at=m.created_at)


def _list(doc: dict[str, Any], key: str) -> list[Any]:
    value = doc.get(key, [])
    if not isinstance(value, list):
        raise ValueError(f"{key!r} must be a list")
    return value


def _objects(items: list[Any]) -> list[dict[str, Any]]:
    for item in items:
        if not isinstance(item, dict):
            raise ValueError(f"expected an object, not {short(item)}")
    return items


# assistants and crons ----------------------------------------------------------------------
def assistant_doc(current: AssistantInfo, versions: list[AssistantInfo]) -> dict[str, Any]:
    """An assistant line: every stored version (oldest first) and the current one."""
    return {
        "kind": "assistant",
        "assistant_id": current.assistant_id,
        "current_version": current.version,
        "versions": [v.model_dump(mode="json") for v in sorted(versions, key=lambda v: v.version)],
    }


def read_assistant(doc: dict[str, Any]) -> tuple[int, list[AssistantInfo]]:
    """(current version, versions oldest first) of an assistant line."""
    versions = [AssistantInfo.model_validate(v) for v in _objects(_list(doc, "versions"))]
    current = doc.get("current_version")
    if not versions or not isinstance(current, int):
        raise ValueError("an assistant line needs 'versions' and 'current_version'")
    ids = {v.assistant_id for v in versions}
    if ids != {doc.get("assistant_id")}:
        raise ValueError(f"an assistant line's versions belong to {sorted(ids)}")
    if current not in {v.version for v in versions}:
        raise ValueError(f"current version {current} is not among the versions")
    return current, sorted(versions, key=lambda v: v.version)


def cron_doc(info: CronInfo) -> dict[str, Any]:
    """A cron line."""
    return {"kind": "cron", "cron": info.model_dump(mode="json")}


def read_cron(doc: dict[str, Any]) -> CronInfo:
    """The cron of a cron line."""
    return CronInfo.model_validate(doc.get("cron"))


# store items -------------------------------------------------------------------------------
def store_item_doc(namespace: tuple[str, ...], key: str, value: dict[str, Any]) -> dict[str, Any]:
    """A store item line (LangGraph's store: namespace, key, value; the store sets the
    timestamps when it is imported)."""
    return {"kind": "store_item", "namespace": list(namespace), "key": key, "value": value}


def read_store_item(doc: dict[str, Any]) -> tuple[tuple[str, ...], str, dict[str, Any]]:
    """(namespace, key, value) of a store item line."""
    namespace = doc.get("namespace")
    if (
        not isinstance(namespace, list)
        or not namespace
        or not all(isinstance(p, str) for p in namespace)
    ):
        raise ValueError("a store item's namespace is a non-empty list of strings")
    value = doc.get("value")
    if not isinstance(value, dict):
        raise ValueError("a store item's value is an object")
    return tuple(namespace), _str(doc, "key"), value
