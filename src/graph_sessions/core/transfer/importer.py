"""``graph-sessions import``: the lines of an export file written into a backend.

The file is read a line at a time. Each line is decoded and checked whole before anything
of it is written: a malformed line stops the import with :class:`InvalidExportFile`
naming its number, and nothing of that line's session is written (the lines before it
stay imported; importing the file again skips them).

A session whose id the target already holds is compared with the line: the same content
is skipped; different content is a conflict, refused (counted and described, the import
goes on) unless ``replace``, which deletes the target's session and writes the line's.
A new session is written checkpoints first (through the target's saver, with their
original ids, parents, metadata and pending writes), then its rows in one transaction
(:meth:`Backend.restore_session`), so it appears with its whole history; if writing
fails, what was written of it is removed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from langgraph.checkpoint.base import WRITES_IDX_MAP, BaseCheckpointSaver
from pydantic import ValidationError

from graph_sessions.core.transfer.export import session_document
from graph_sessions.core.transfer.format import (
    FORMAT,
    KINDS,
    VERSION,
    CheckpointEntry,
    SessionEntry,
    VersionStyle,
    assistant_doc,
    cron_doc,
    dump_line,
    read_assistant,
    read_cron,
    read_session,
    read_store_item,
    short,
)
from graph_sessions.errors import BackendError, InvalidExportFile
from graph_sessions.storage.backend import Backend


@dataclass
class ImportReport:
    """What an import did, by line kind: ``imported`` (new), ``replaced``, ``skipped``
    (already there, same content) and ``conflicts`` (already there, different, refused:
    one message each)."""

    imported: dict[str, int] = field(default_factory=dict)
    replaced: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)
    lines: int = 0
    source: str | None = None

    def count(self, outcome: str, kind: str) -> None:
        """Add one line of ``kind`` to ``outcome`` (imported, replaced, skipped)."""
        counts: dict[str, int] = getattr(self, outcome)
        counts[kind] = counts.get(kind, 0) + 1


async def import_lines(
    backend: Backend,
    lines: Iterable[bytes],
    *,
    replace: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import the lines of an export file into ``backend`` (see the module's docstring).
    ``progress(n)`` after each line, with the bytes read so far."""
    report = ImportReport()
    done = 0
    seen_header = False
    for number, raw in enumerate(lines, start=1):
        done += len(raw)
        if raw.strip():
            doc = _parse(raw, number)
            if not seen_header:
                report.source = _check_header(doc, number)
                seen_header = True
            elif doc["kind"] == "header":
                raise InvalidExportFile("a second header", line=number)
            else:
                await _import_one(backend, doc, number, replace, report)
        report.lines = number
        if progress is not None:
            progress(done)
    if not seen_header:
        raise InvalidExportFile("the file is empty (no header line)", line=1)
    return report


def _parse(raw: bytes, number: int) -> dict[str, Any]:
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidExportFile(f"not JSON ({exc})", line=number) from None
    if not isinstance(doc, dict) or doc.get("kind") not in KINDS:
        kind = doc.get("kind") if isinstance(doc, dict) else None
        raise InvalidExportFile(
            f"not an export line (kind {short(kind)}; one of {', '.join(KINDS)})", line=number
        )
    return doc


def _check_header(doc: dict[str, Any], number: int) -> str | None:
    if doc["kind"] != "header" or doc.get("format") != FORMAT:
        raise InvalidExportFile(
            f"the first line is not a {FORMAT} header: is this a graph-sessions export?",
            line=number,
        )
    version = doc.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise InvalidExportFile(
            f"format version {short(version)} is newer than this graph-sessions reads "
            f"({VERSION}): upgrade graph-sessions",
            line=number,
        )
    source = doc.get("source")
    return source if isinstance(source, str) else None


async def _import_one(
    backend: Backend, doc: dict[str, Any], number: int, replace: bool, report: ImportReport
) -> None:
    kind = doc["kind"]
    try:
        if kind == "session":
            saver = backend.checkpointer
            entry = read_session(saver.serde, VersionStyle.of(saver), doc)
            outcome = await _import_session(backend, entry, doc, replace, number)
            name = f"session {entry.session_id!r}"
        elif kind == "assistant":
            outcome = await _import_assistant(backend, doc, replace)
            name = f"assistant {doc.get('assistant_id')!r}"
        elif kind == "cron":
            outcome = await _import_cron(backend, doc, replace)
            name = f"cron {doc['cron'].get('cron_id')!r}"
        else:
            outcome = await _import_store_item(backend, doc, replace)
            name = f"store item {doc.get('namespace')!r}/{doc.get('key')!r}"
    except InvalidExportFile:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, ValidationError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if isinstance(exc, ValidationError):
            message = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
        raise InvalidExportFile(f"bad {kind} line: {message}", line=number) from None
    if outcome == "conflict":
        report.conflicts.append(
            f"line {number}: {name} already exists with different content "
            "(refused; --replace overwrites it)"
        )
    else:
        report.count(outcome, kind)


# sessions ----------------------------------------------------------------------------------
async def _import_session(
    backend: Backend, entry: SessionEntry, doc: dict[str, Any], replace: bool, number: int
) -> str:
    sid = entry.session_id
    existing = await backend.get_session(sid)
    outcome = "imported"
    if existing is not None:
        mine = await session_document(backend, existing)
        if dump_line(mine) == dump_line(doc):
            return "skipped"
        if not replace:
            return "conflict"
        outcome = "replaced"
    # Also clears what an interrupted earlier import left of this thread (checkpoints
    # written, no row yet: invisible until the row is written).
    await backend.delete_session(sid)
    try:
        await write_checkpoints(backend.checkpointer, sid, entry.checkpoints)
        restored = await backend.restore_session(entry.record)
    except Exception as exc:
        await backend.delete_session(sid)
        if isinstance(exc, BackendError):
            raise
        raise BackendError(
            f"line {number}: cannot write session {sid!r}: {exc}", session_id=sid
        ) from exc
    if not restored:  # created by someone else since get_session above
        return "conflict"
    return outcome


async def write_checkpoints(
    saver: BaseCheckpointSaver[Any], thread_id: str, entries: list[CheckpointEntry]
) -> None:
    """Write ``entries`` (sorted by namespace then id: parents first) through ``saver``'s
    API with their original ids: ``aput`` (``new_versions``: the channels whose version
    differs from the parent's) and ``aput_writes`` per task."""
    versions: dict[tuple[str, str], dict[str, Any]] = {}
    for e in entries:
        cv: dict[str, Any] = e.checkpoint["channel_versions"]
        before = versions.get((e.ns, e.parent_id), {}) if e.parent_id else {}
        new_versions = {k: v for k, v in cv.items() if before.get(k) != v}
        conf: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": e.ns}
        if e.parent_id is not None:
            conf["checkpoint_id"] = e.parent_id
        checkpoint: Any = e.checkpoint
        await saver.aput({"configurable": conf}, checkpoint, e.metadata, new_versions)  # type: ignore[arg-type]
        versions[(e.ns, e.checkpoint_id)] = cv
        at = {"configurable": {**conf, "checkpoint_id": e.checkpoint_id}}
        by_task: dict[str, list[tuple[str, Any]]] = {}
        for task_id, channel, value in e.writes:
            if channel in WRITES_IDX_MAP:  # its own index whatever its place: one call each
                await saver.aput_writes(at, [(channel, value)], task_id)  # type: ignore[arg-type]
            else:
                by_task.setdefault(task_id, []).append((channel, value))
        for task_id, writes in by_task.items():
            await saver.aput_writes(at, writes, task_id)  # type: ignore[arg-type]


# assistants, crons, store items --------------------------------------------------------------
async def _import_assistant(backend: Backend, doc: dict[str, Any], replace: bool) -> str:
    current, versions = read_assistant(doc)
    aid = versions[0].assistant_id
    existing = await backend.get_assistant(aid)
    outcome = "imported"
    if existing is not None:
        mine = assistant_doc(existing, await backend.list_assistant_versions(aid))
        if dump_line(mine) == dump_line(doc):
            return "skipped"
        if not replace:
            return "conflict"
        await backend.delete_assistant(aid)
        outcome = "replaced"
    if not await backend.create_assistant(versions[0]):
        return "conflict"
    for v in versions[1:]:
        if not await backend.add_assistant_version(v):
            raise ValueError(f"assistant {aid!r}: version {v.version} does not follow the last")
    if current != versions[-1].version:
        chosen = next(v for v in versions if v.version == current)
        await backend.set_assistant_version(aid, current, chosen.updated_at)
    return outcome


async def _import_cron(backend: Backend, doc: dict[str, Any], replace: bool) -> str:
    cron = read_cron(doc)
    existing = await backend.get_cron(cron.cron_id)
    if existing is None:
        return "imported" if await backend.create_cron(cron) else "conflict"
    if dump_line(cron_doc(existing)) == dump_line(cron_doc(cron)):
        return "skipped"
    if not replace:
        return "conflict"
    await backend.update_cron(cron)
    return "replaced"


async def _import_store_item(backend: Backend, doc: dict[str, Any], replace: bool) -> str:
    namespace, key, value = read_store_item(doc)
    existing = await backend.store.aget(namespace, key)
    if existing is not None:
        if existing.value == value:
            return "skipped"
        if not replace:
            return "conflict"
    await backend.store.aput(namespace, key, value)
    return "imported" if existing is None else "replaced"
