"""The Redis saver's key scheme: a fixed set of keys per thread, so a thread's keys can be
named (expired, deleted, copied) without KEYS or SCAN.

Per thread ``T`` under prefix ``P`` (``P`` defaults to ``"gs:"``):

=====================  ====  ==========================================================
key                    type  holds
=====================  ====  ==========================================================
``P t:T:idx``          zset  one member ``ns \\0 checkpoint_id`` per checkpoint, score 0:
                             lexicographic order is time order (ids are uuid6)
``P t:T:cp``           hash  member → the checkpoint record (see ``redis_records``)
``P t:T:v``            hash  ``ns \\0 channel \\0 version`` → ``type \\0 bytes``: a
                             channel's value, stored once per version
``P t:T:w``            hash  ``ns \\0 checkpoint_id \\0 task_id \\0 idx`` → a pending write
``P t:T:wi``           zset  the same fields, score 0: a checkpoint's writes are one
                             ``ZRANGEBYLEX``
``P t:T:vb``           hash  value field → field of its base, for values stored as the
                             tail of an earlier version (``redis_records``)
=====================  ====  ==========================================================

and two keys per prefix: ``P threads`` (zset of thread ids, for ``list(None)``) and
``P runs`` (zset of ``run_id \\0 thread_id``, for ``delete_for_runs``). Their members are
removed when a thread (or a run's last checkpoint) is deleted; those of a thread that
expired stay until the two keys expire themselves: they carry the same ``ttl``, renewed by
every put of any thread, so an idle deployment's prefix empties itself. Reads find such a
thread empty.

Suffixes are fixed and none ends another after a ``:``, so two threads never share a key
whatever their ids contain. ``\\0`` separates the parts of fields and members (thread ids,
namespaces, channels and versions never contain it).
"""

from __future__ import annotations

from dataclasses import dataclass

SEP = "\x00"
#: first string above every member that starts with ``x + SEP`` (``ZRANGEBYLEX`` bound)
AFTER = "\x01"


@dataclass(frozen=True)
class ThreadKeys:
    """The keys of one thread (in the order the Lua scripts take them as ``KEYS``)."""

    idx: str
    cp: str
    v: str
    w: str
    wi: str
    vb: str

    def all(self) -> list[str]:
        """Every key of the thread."""
        return [self.idx, self.cp, self.v, self.w, self.wi, self.vb]


def thread_keys(prefix: str, thread_id: str) -> ThreadKeys:
    """The keys of ``thread_id`` under ``prefix``."""
    base = f"{prefix}t:{thread_id}:"
    return ThreadKeys(base + "idx", base + "cp", base + "v", base + "w", base + "wi", base + "vb")


def threads_key(prefix: str) -> str:
    """The zset of thread ids under ``prefix``."""
    return f"{prefix}threads"


def runs_key(prefix: str) -> str:
    """The zset of ``run_id \\0 thread_id`` under ``prefix``."""
    return f"{prefix}runs"


def checkpoint_member(ns: str, checkpoint_id: str) -> str:
    """A checkpoint's member in ``idx`` and field in ``cp``."""
    return f"{ns}{SEP}{checkpoint_id}"


def split_member(member: str) -> tuple[str, str]:
    """``(ns, checkpoint_id)`` of a checkpoint member."""
    ns, _, checkpoint_id = member.partition(SEP)
    return ns, checkpoint_id


def value_field(ns: str, channel: str, version: str) -> str:
    """A channel value's field in ``v``."""
    return f"{ns}{SEP}{channel}{SEP}{version}"


def write_field(member: str, task_id: str, idx: int) -> str:
    """A pending write's field in ``w`` and member of ``wi``."""
    return f"{member}{SEP}{task_id}{SEP}{idx}"


def run_member(run_id: str, thread_id: str) -> str:
    """A member of the runs zset."""
    return f"{run_id}{SEP}{thread_id}"
