"""What the sync and async Redis savers share: options, the arguments of each script
call, decoding, and the plans of the maintenance operations (``delete_for_runs``,
``prune``, ``copy_thread``). The savers only do the I/O (``redis_saver.py``,
``redis_async_saver.py``)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    SerializerProtocol,
    get_checkpoint_id,
    get_checkpoint_metadata,
)
from redis.exceptions import ResponseError

from graph_sessions.checkpoint.base import next_channel_version
from graph_sessions.checkpoint.delta import Loaded, walk_delta_support
from graph_sessions.checkpoint.redis_keys import (
    AFTER,
    SEP,
    ThreadKeys,
    checkpoint_member,
    run_member,
    runs_key,
    split_member,
    thread_keys,
    threads_key,
    value_field,
    write_field,
)
from graph_sessions.checkpoint.redis_records import (
    ThreadSnapshot,
    decode_record,
    decode_tuple,
    encode_record,
    encode_write,
    list_elements,
    ring_of,
    tail_aad,
    tail_value,
)
from graph_sessions.checkpoint.redis_scripts import FENCED, REBASE
from graph_sessions.crypto.cipher import seal
from graph_sessions.crypto.serde import EncryptedSerde, seal_typed
from graph_sessions.errors import ConfigError, LeaseLost

#: checkpoints read per script call while listing
PAGE = 64
Command = tuple[Any, ...]
#: what the saver remembers of a list channel's last stored version:
#: (version, element bytes, tails since the last whole value)
Remembered = tuple[str, bytes, int]


@dataclass
class PutCall:
    """A prepared put: the script's keys and arguments, the config ``put`` answers, and
    what to remember of the lists it stores once it succeeded."""

    thread_id: str
    keys: list[str]
    args: list[Any]
    answer: RunnableConfig
    remember: dict[tuple[str, str], Remembered] = field(default_factory=dict)


def is_rebase(exc: ResponseError) -> bool:
    """The put script refused tails whose base is gone."""
    return str(exc).startswith(REBASE)


def text(value: Any) -> str:
    """A Redis reply (bytes) as text."""
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisSaverCore(BaseCheckpointSaver[str]):
    """Options and script arguments shared by ``RedisSaver`` and ``AsyncRedisSaver``."""

    #: every stored byte goes through ``serde`` (encryption at rest wraps it)
    seals_through_serde = True

    def __init__(
        self,
        *,
        prefix: str = "gs:",
        serde: SerializerProtocol | None = None,
        ttl: float | None = None,
        snapshot_every: int = 256,
        cache_threads: int = 512,
    ) -> None:
        super().__init__(serde=serde)
        for name, value, low in (
            ("snapshot_every", snapshot_every, 1),
            ("cache_threads", cache_threads, 0),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
        self.snapshot_every = snapshot_every
        self.cache_threads = cache_threads
        #: thread id → (ns, channel) → the last list version this process stored
        self._lists: OrderedDict[str, dict[tuple[str, str], Remembered]] = OrderedDict()
        self._lists_lock = threading.Lock()  # the sync saver is shared between threads
        if not isinstance(prefix, str):
            raise ConfigError(f"prefix must be a string, got {type(prefix).__name__}")
        if ttl is not None and (isinstance(ttl, bool) or not ttl > 0):
            raise ConfigError(f"ttl must be a positive number of seconds or None, got {ttl!r}")
        self.prefix = prefix
        self.ttl = ttl
        #: thread id → (lease key, epoch): puts of that thread are fenced (see ``fence``)
        self.fences: dict[str, tuple[str, str]] = {}

    # fencing -----------------------------------------------------------------------------
    def fence(self, thread_id: str, lease_key: str, epoch: int | str) -> None:
        """From now on every write of ``thread_id`` checks, inside its script, that
        ``lease_key`` still holds ``epoch``; otherwise it stores nothing and raises
        ``errors.LeaseLost``."""
        self.fences[thread_id] = (lease_key, str(epoch))

    def unfence(self, thread_id: str) -> None:
        """Writes of ``thread_id`` are no longer checked."""
        self.fences.pop(thread_id, None)

    def _lost(self, thread_id: str, exc: ResponseError) -> Exception:
        if str(exc).startswith(FENCED):
            return LeaseLost(
                f"session {thread_id!r} was deleted or taken over during the run "
                f"({exc}): its checkpoint write was refused",
                session_id=thread_id,
            )
        return exc

    def get_next_version(self, current: str | None, channel: None) -> str:
        """The next channel version (as ``SaverBase.get_next_version``)."""
        return next_channel_version(current)

    # script arguments --------------------------------------------------------------------
    def keys(self, thread_id: str) -> ThreadKeys:
        """The keys of a thread under this saver's prefix."""
        return thread_keys(self.prefix, thread_id)

    def _ttl_arg(self) -> str:
        return "" if self.ttl is None else str(max(1, round(self.ttl)))

    def _write_keys(self, thread_id: str) -> tuple[list[str], str]:
        keys = [*self.keys(thread_id).all(), threads_key(self.prefix), runs_key(self.prefix)]
        fence = self.fences.get(thread_id)
        if fence is None:
            return keys, ""
        keys.append(fence[0])
        return keys, fence[1]

    def put_call(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> PutCall:
        """The put script's ``KEYS`` and ``ARGV``; a list extending the version this
        process stored last (its elements a byte prefix of the new ones) is stored as its
        tail, unless that makes ``snapshot_every`` tails in a row."""
        conf = config["configurable"]
        thread_id = str(conf["thread_id"])
        ns = conf.get("checkpoint_ns", "")
        meta = get_checkpoint_metadata(config, metadata)
        record = encode_record(self.serde, checkpoint, meta, conf.get("checkpoint_id"))
        member = checkpoint_member(ns, checkpoint["id"])
        run_id = meta.get("run_id")
        keys, epoch = self._write_keys(thread_id)
        call = PutCall(thread_id, keys, [], {})
        bases, links, values = self._values(call, ns, checkpoint, new_versions)
        call.args = [
            self._ttl_arg(),
            epoch,
            member,
            record,
            thread_id,
            "" if run_id is None else run_member(str(run_id), thread_id),
            len(bases),
            *bases,
            len(links) // 2,
            *links,
            *values,
        ]
        call.answer = {
            "configurable": {
                "thread_id": thread_id,
                "checkpoint_ns": ns,
                "checkpoint_id": checkpoint["id"],
            }
        }
        return call

    def _values(
        self, call: PutCall, ns: str, checkpoint: Checkpoint, new_versions: ChannelVersions
    ) -> tuple[list[str], list[str], list[bytes | str]]:
        """Base fields to check, ``vb`` pairs, ``v`` pairs of the channels in
        ``new_versions`` that have a value (an empty channel has no field). Under
        encryption tails are found on the plaintext and each part sealed on its own
        (``redis_records``' module doc)."""
        values = checkpoint["channel_values"]
        ring = ring_of(self.serde)
        dumps = (
            self.serde.inner.dumps_typed
            if isinstance(self.serde, EncryptedSerde)
            else self.serde.dumps_typed
        )
        with self._lists_lock:
            known = dict(self._lists.get(call.thread_id, {}))
        bases: list[str] = []
        links: list[str] = []
        out: list[bytes | str] = []
        for channel, raw_version in new_versions.items():
            if channel not in values:
                continue
            version = str(raw_version)
            target = value_field(ns, channel, version)
            vtype, vbytes = dumps(values[channel])
            listed = list_elements(vtype, vbytes)
            stype, sbytes = (vtype, vbytes) if ring is None else seal_typed(ring, vtype, vbytes)
            stored: bytes = stype.encode() + b"\x00" + sbytes
            if listed is not None:
                count, elements = listed
                chain = 0
                last = known.get((ns, channel))
                if (
                    last is not None
                    and last[2] + 1 < self.snapshot_every
                    and last[0] != version
                    and elements.startswith(last[1])
                ):
                    base = value_field(ns, channel, last[0])
                    new = elements[len(last[1]) :]
                    if ring is not None and new:
                        new = seal(ring, new, tail_aad(vtype))
                    stored = tail_value(count, last[0], new)
                    bases.append(base)
                    links += [target, base]
                    chain = last[2] + 1
                call.remember[(ns, channel)] = (version, elements, chain)
            out += [target, stored]
        return bases, links, out

    def remember(self, call: PutCall) -> None:
        """After a put succeeded: its lists are the bases of the next tails."""
        if not call.remember or not self.cache_threads:
            return
        with self._lists_lock:
            known = self._lists.pop(call.thread_id, {})
            known.update(call.remember)
            self._lists[call.thread_id] = known
            while len(self._lists) > self.cache_threads:
                self._lists.popitem(last=False)

    def forget(self, thread_id: str) -> None:
        """Drop what this process remembers of a thread's lists."""
        with self._lists_lock:
            self._lists.pop(thread_id, None)

    def writes_call(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> tuple[list[str], list[Any]]:
        """``KEYS``, ``ARGV`` of the put_writes script. A special write (``ERROR``,
        ``INTERRUPT``… of ``WRITES_IDX_MAP``) replaces the one stored at its index, any
        other keeps the first stored, as LangGraph's savers do."""
        conf = config["configurable"]
        thread_id = str(conf["thread_id"])
        member = checkpoint_member(conf.get("checkpoint_ns", ""), conf["checkpoint_id"])
        keys, epoch = self._write_keys(thread_id)
        args: list[Any] = [self._ttl_arg(), epoch]
        for i, (channel, value) in enumerate(writes):
            idx = WRITES_IDX_MAP.get(channel, i)
            args.append(write_field(member, task_id, idx))
            args.append(encode_write(self.serde, task_id, task_path, idx, channel, value))
            args.append("1" if channel in WRITES_IDX_MAP else "0")
        return keys, args

    @staticmethod
    def read_args(config: RunnableConfig) -> list[str]:
        """``ARGV`` of the read script for ``get_tuple``."""
        conf = config["configurable"]
        ns = conf.get("checkpoint_ns", "")
        checkpoint_id = get_checkpoint_id(config)
        if checkpoint_id:
            return ["members", checkpoint_member(ns, checkpoint_id)]
        return ["latest", ns]

    def decode(self, thread_id: str, rows: list[Any]) -> list[CheckpointTuple]:
        """Answers of the read script as tuples."""
        return [decode_tuple(self.serde, thread_id, row)[0] for row in rows if row]

    # listing -----------------------------------------------------------------------------
    @staticmethod
    def member_range(ns: str, before_id: str | None) -> tuple[str, str]:
        """``ZREVRANGEBYLEX`` bounds (max, min) of a namespace's members below a checkpoint."""
        top = "(" + (checkpoint_member(ns, before_id) if before_id else ns + AFTER)
        return top, "[" + ns + SEP

    @staticmethod
    def order_members(
        members: Iterable[bytes | str], checkpoint_id: str | None, before_id: str | None
    ) -> list[str]:
        """Members newest first, by checkpoint id across namespaces, ``checkpoint_id`` /
        ``before`` applied."""
        decoded = [m.decode() if isinstance(m, bytes) else m for m in members]
        picked = [
            (split_member(m)[1], m)
            for m in decoded
            if (not checkpoint_id or split_member(m)[1] == checkpoint_id)
            and (not before_id or split_member(m)[1] < before_id)
        ]
        picked.sort(reverse=True)
        return [m for _, m in picked]

    @staticmethod
    def matches(tup: CheckpointTuple, filter: dict[str, Any] | None) -> bool:
        """LangGraph's metadata filter: every key equal."""
        return not filter or all(tup.metadata.get(k) == v for k, v in filter.items())

    # maintenance plans -------------------------------------------------------------------
    def snapshot_commands(self, thread_id: str) -> list[Command]:
        """The reads ``ThreadSnapshot.from_replies`` takes, in order."""
        k = self.keys(thread_id)
        return [("HGETALL", k.cp), ("HKEYS", k.v), ("ZRANGE", k.wi, 0, -1), ("HGETALL", k.vb)]

    def delta_support(self, snap: ThreadSnapshot, heads: Iterable[str]) -> set[str]:
        """Members the ``DeltaChannel`` values of ``heads`` are rebuilt from (kept by every
        removal, as in our SQL savers; ``delta.walk_delta_support``)."""
        support: set[str] = set()
        by_ns: dict[str, list[str]] = {}
        for head in heads:
            ns, cid = split_member(head)
            by_ns.setdefault(ns, []).append(cid)
        for ns, ids in by_ns.items():

            def load(cid: str, ns: str = ns) -> Loaded:
                raw = snap.records.get(checkpoint_member(ns, cid))
                if raw is None:
                    return None
                record = decode_record(raw)
                meta = self.serde.loads_typed(record.metadata) or {}
                counters = meta.get("counters_since_delta_snapshot") or {}
                return record.parent_id, record.versions, list(counters)

            def stores(cid: str, ch: str, ns: str = ns) -> bool:
                raw = snap.records.get(checkpoint_member(ns, cid))
                if raw is None:
                    return False
                version = decode_record(raw).versions.get(ch)
                return version is not None and value_field(ns, ch, version) in snap.value_fields

            support |= {checkpoint_member(ns, c) for c in walk_delta_support(ids, load, stores)}
        return support

    def remove_plan(self, thread_id: str, snap: ThreadSnapshot, remove: set[str]) -> list[Command]:
        """Commands that delete checkpoints ``remove`` of a thread, their writes, the values
        no other checkpoint refers to and their run index entries."""
        remove &= set(snap.records)
        if not remove:
            return []
        k = self.keys(thread_id)
        keep = {m: decode_record(raw) for m, raw in snap.records.items() if m not in remove}
        if not keep:
            return self.drop_plan(thread_id, snap)
        referenced = snap.closure(
            {
                value_field(split_member(m)[0], ch, ver)
                for m, rec in keep.items()
                for ch, ver in rec.versions.items()
            }
        )
        kept_runs = {rec.run_id for rec in keep.values()}
        gone_runs = {decode_record(snap.records[m]).run_id for m in remove} - kept_runs
        values = sorted(snap.value_fields - referenced)
        writes = [f for f in snap.write_fields if f.rsplit(SEP, 2)[0] in remove]
        members = sorted(remove)
        plan: list[Command] = [("ZREM", k.idx, *members), ("HDEL", k.cp, *members)]
        if values:
            plan.append(("HDEL", k.v, *values))
            links = [f for f in values if f in snap.bases]
            if links:
                plan.append(("HDEL", k.vb, *links))
        if writes:
            plan += [("HDEL", k.w, *writes), ("ZREM", k.wi, *writes)]
        runs = [run_member(r, thread_id) for r in gone_runs if r is not None]
        if runs:
            plan.append(("ZREM", runs_key(self.prefix), *runs))
        return plan

    def drop_plan(self, thread_id: str, snap: ThreadSnapshot) -> list[Command]:
        """Commands that delete a whole thread and its index entries."""
        runs = {decode_record(raw).run_id for raw in snap.records.values()}
        plan: list[Command] = [
            ("DEL", *self.keys(thread_id).all()),
            ("ZREM", threads_key(self.prefix), thread_id),
        ]
        members = [run_member(r, thread_id) for r in runs if r is not None]
        if members:
            plan.append(("ZREM", runs_key(self.prefix), *members))
        return plan

    def keep_latest(self, snap: ThreadSnapshot) -> set[str]:
        """Members ``prune(keep_latest)`` removes: all but the newest of each namespace and
        what its ``DeltaChannel`` values are rebuilt from."""
        newest: dict[str, str] = {}
        for member in snap.records:
            ns, cid = split_member(member)
            if cid > newest.get(ns, ""):
                newest[ns] = cid
        heads = {checkpoint_member(ns, cid) for ns, cid in newest.items()}
        keep = heads | self.delta_support(snap, heads)
        return set(snap.records) - keep

    def for_runs(self, snap: ThreadSnapshot, run_ids: set[str]) -> set[str]:
        """Members ``delete_for_runs`` removes: the runs' checkpoints except those a
        surviving checkpoint's ``DeltaChannel`` values are rebuilt from."""
        runs = {m for m, raw in snap.records.items() if decode_record(raw).run_id in run_ids}
        survivors = set(snap.records) - runs
        return runs - self.delta_support(snap, survivors)

    def copy_plan(
        self,
        target: str,
        records: dict[bytes, bytes],
        values: dict[bytes, bytes],
        writes: dict[bytes, bytes],
        bases: dict[bytes, bytes],
    ) -> list[Command]:
        """Commands that copy a thread's records, values and writes to ``target``."""
        if not records:
            return []
        k = self.keys(target)
        plan: list[Command] = [
            ("ZADD", k.idx, *[x for m in records for x in (0, m)]),
            ("HSET", k.cp, *[x for item in records.items() for x in item]),
            ("ZADD", threads_key(self.prefix), 0, target),
        ]
        if values:
            plan.append(("HSET", k.v, *[x for item in values.items() for x in item]))
        if bases:
            plan.append(("HSET", k.vb, *[x for item in bases.items() for x in item]))
        if writes:
            plan.append(("HSET", k.w, *[x for item in writes.items() for x in item]))
            plan.append(("ZADD", k.wi, *[x for f in writes for x in (0, f)]))
        runs = {decode_record(raw).run_id for raw in records.values()}
        members = [run_member(r, target) for r in runs if r is not None]
        if members:
            plan.append(("ZADD", runs_key(self.prefix), *[x for m in members for x in (0, m)]))
        if self.ttl is not None:
            ttl = self._ttl_arg()
            plan += [("EXPIRE", key, ttl) for key in k.all()]
            plan += [
                ("EXPIRE", threads_key(self.prefix), ttl),
                ("EXPIRE", runs_key(self.prefix), ttl),
            ]
        return plan

    def runs_range(self, run_id: str) -> tuple[str, str]:
        """``ZRANGEBYLEX`` bounds of a run's entries in the runs zset."""
        return "[" + run_id + SEP, "(" + run_id + AFTER
