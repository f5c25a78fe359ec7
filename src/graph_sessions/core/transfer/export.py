"""``graph-sessions export``: every session (with its checkpoints through the backend's
saver), assistant, cron and store item of a backend, one line each, streamed.

Memory stays bounded whatever the number of sessions: the registry is read a page at a
time with the listing cursor and each session's line is written before the next one is
read (one session's history is held at a time; store items one namespace at a time)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from graph_sessions.core.transfer.format import (
    assistant_doc,
    checkpoint_doc,
    cron_doc,
    dump_line,
    header,
    session_doc,
    store_item_doc,
)
from graph_sessions.models import Event, SessionInfo, SessionStatus
from graph_sessions.storage.backend import Backend, SessionQuery
from graph_sessions.storage.codec import dump_time

#: sessions read from the registry per query
PAGE_SIZE = 200
_ALL = 2**31 - 1
_EVENT_PAGE = 1000
_STORE_PAGE = 500


@dataclass
class ExportFilters:
    """Which sessions to export (all of them by default, expired ones included)."""

    status: Sequence[SessionStatus] | None = None
    owner: str | None = None
    graph_id: str | None = None
    metadata: dict[str, Any] | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None

    def query(self) -> SessionQuery:
        """The registry query: these filters, oldest first."""
        return SessionQuery(
            status=self.status,
            owner=self.owner,
            graph_id=self.graph_id,
            metadata=self.metadata,
            created_after=self.created_after,
            created_before=self.created_before,
            include_expired=True,
            sort="created_at",
            descending=False,
            limit=PAGE_SIZE,
        )


@dataclass
class ExportReport:
    """How many lines of each kind an export wrote."""

    sessions: int = 0
    checkpoints: int = 0
    assistants: int = 0
    crons: int = 0
    store_items: int = 0
    lines: int = 0


async def count_sessions(backend: Backend, filters: ExportFilters) -> int:
    """How many sessions an export with ``filters`` writes (for a progress bar)."""
    return await backend.count_sessions(filters.query())


async def session_document(backend: Backend, info: SessionInfo) -> dict[str, Any]:
    """The export line of one session of ``backend`` (its row as given)."""
    sid = info.session_id
    runs = list(reversed(await backend.list_runs(sid, limit=_ALL)))
    events: list[Event] = []
    while True:
        page = await backend.list_events(
            sid, after_id=events[-1].id if events else None, limit=_EVENT_PAGE
        )
        events.extend(page)
        if len(page) < _EVENT_PAGE:
            break
    messages = await backend.load_messages(sid)
    saver = backend.checkpointer
    checkpoints = [
        checkpoint_doc(saver.serde, item)
        async for item in saver.alist({"configurable": {"thread_id": sid}})
    ]
    return session_doc(info, runs, events, messages, checkpoints)


async def export_backend(
    backend: Backend,
    write: Callable[[bytes], Any],
    *,
    source: str,
    filters: ExportFilters | None = None,
    sessions_only: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ExportReport:
    """Write ``backend``'s export file through ``write`` (one call per line): the header,
    assistants, the sessions ``filters`` selects, crons and store items (the last three
    unless ``sessions_only``). ``progress(n)`` after each session (n sessions so far)."""
    report = ExportReport()

    def emit(doc: dict[str, Any]) -> None:
        write(dump_line(doc))
        report.lines += 1

    emit(header(source))
    if not sessions_only:
        for current in await backend.list_assistants():
            versions = await backend.list_assistant_versions(current.assistant_id)
            emit(assistant_doc(current, versions))
            report.assistants += 1
    query = (filters or ExportFilters()).query()
    while True:
        page = await backend.list_sessions(query)
        for info in page:
            doc = await session_document(backend, info)
            emit(doc)
            report.sessions += 1
            report.checkpoints += len(doc["checkpoints"])
            if progress is not None:
                progress(report.sessions)
        if len(page) < query.limit:
            break
        last = page[-1]
        query.cursor = (dump_time(last.created_at), last.session_id)
    if not sessions_only:
        for cron in await backend.list_crons():
            emit(cron_doc(cron))
            report.crons += 1
        report.store_items = await _export_store(backend, emit)
    return report


async def _export_store(backend: Backend, emit: Callable[[dict[str, Any]], None]) -> int:
    """Every item of the backend's store, by namespace then key."""
    store = backend.store
    namespaces: list[tuple[str, ...]] = []
    while True:
        page = await store.alist_namespaces(limit=_STORE_PAGE, offset=len(namespaces))
        namespaces.extend(page)
        if len(page) < _STORE_PAGE:
            break
    written = 0
    for ns in sorted(set(namespaces)):
        items: dict[str, dict[str, Any]] = {}
        offset = 0
        while True:
            found = await store.asearch(ns, limit=_STORE_PAGE, offset=offset)
            offset += len(found)
            items.update({i.key: i.value for i in found if tuple(i.namespace) == ns})
            if len(found) < _STORE_PAGE:
                break
        for key in sorted(items):
            emit(store_item_doc(ns, key, items[key]))
            written += 1
    return written
