"""In-process backend for tests and notebooks: ``memory://``. Nothing survives the process.

Every method body runs without awaiting, so each one is atomic on the event loop, which is
the transaction boundary here.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore

from graph_sessions.clock import utcnow
from graph_sessions.errors import LeaseLost
from graph_sessions.models import (
    AssistantInfo,
    CronInfo,
    Event,
    EventType,
    Message,
    MessageSummary,
    RunInfo,
    RunStatus,
    SessionInfo,
    SessionStats,
    SessionStatus,
)
from graph_sessions.storage.backend import Backend, NewEvent, NewMessage, SessionQuery
from graph_sessions.storage.checkpoints import InMemoryAdmin
from graph_sessions.storage.codec import dump_time
from graph_sessions.storage.records import (
    UNCHANGED,
    PendingRun,
    QueueCheck,
    RunBegun,
    RunFinish,
    RunStart,
    SessionRecord,
    SessionUpdate,
)


def _sort_value(info: SessionInfo, field: str) -> str:
    return dump_time(getattr(info, field)) or ""


class _FencedMemorySaver(InMemorySaver):
    """``InMemorySaver`` whose writes of a fenced thread check the lease first (each call is
    atomic on the event loop, so check and write cannot be split)."""

    def __init__(self, backend: MemoryBackend) -> None:
        super().__init__()
        self._backend = backend

    def _check(self, config: RunnableConfig) -> None:
        self._backend.check_fence(str(config["configurable"]["thread_id"]))

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        self._check(config)
        return super().put(config, checkpoint, metadata, new_versions)

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self._check(config)
        super().put_writes(config, writes, task_id, task_path)


@dataclass
class _Ticket:
    """A queue ticket (see ``Backend.take_ticket``)."""

    session_id: str
    owner: str
    expires_at: datetime


class MemoryBackend(Backend):
    """Dicts in this process; LangGraph's ``InMemorySaver`` and ``InMemoryStore``."""

    #: nothing is stored at rest: a key is accepted and has nothing to do
    supports_encryption = True

    def __init__(self) -> None:
        self.url = "memory://"
        self.fences: dict[str, tuple[str | None, int]] = {}
        self.checkpointer: InMemorySaver = _FencedMemorySaver(self)
        self.admin = InMemoryAdmin(self.checkpointer)
        self.store = InMemoryStore()
        self._sessions: dict[str, SessionInfo] = {}
        self._runs: dict[str, RunInfo] = {}
        self._events: dict[str, list[Event]] = {}
        self._messages: dict[str, list[Message]] = {}
        self._pending: dict[str, PendingRun] = {}
        self._cancels: dict[str, str] = {}  # run id -> requested action
        self._tickets: dict[int, _Ticket] = {}  # queue tickets by seq
        self._ticket_seq = 0
        self._ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        # assistant id -> its versions, by version number; and the current version
        self._assistant_versions: dict[str, dict[int, AssistantInfo]] = {}
        self._assistant_current: dict[str, int] = {}
        self._crons: dict[str, CronInfo] = {}

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    # registry ------------------------------------------------------------------------
    def _append_events(self, session_id: str, events: Sequence[NewEvent], at: datetime) -> None:
        log = self._events.setdefault(session_id, [])
        for e in events:
            log.append(
                Event(
                    id=next(self._ids),
                    session_id=session_id,
                    type=e.type,
                    run_id=e.run_id,
                    at=at,
                    data=dict(e.data),
                )
            )

    async def create_session(self, info: SessionInfo, event: NewEvent | None = None) -> bool:
        if info.session_id in self._sessions:
            return False
        self.admin.delete_thread(None, info.session_id)
        for log in (self._events, self._messages):
            log.pop(info.session_id, None)
        for run_id in [p.run_id for p in self._pending.values() if p.session_id == info.session_id]:
            del self._pending[run_id]
        self._sessions[info.session_id] = info.model_copy(deep=True)
        if event is not None:
            self._append_events(info.session_id, [event], info.created_at)
        return True

    async def get_session(self, session_id: str) -> SessionInfo | None:
        info = self._sessions.get(session_id)
        return info.model_copy(deep=True) if info else None

    async def update_session(
        self,
        session_id: str,
        update: SessionUpdate,
        *,
        events: Sequence[NewEvent] = (),
        expect_status: Sequence[SessionStatus] | None = None,
        expect_revision: int | None = None,
    ) -> SessionInfo | None:
        info = self._sessions.get(session_id)
        if info is None or (expect_status is not None and info.status not in expect_status):
            return None
        if expect_revision is not None and info.revision != expect_revision:
            return None
        self._apply(info, update.changes())
        at = update.updated_at
        self._append_events(session_id, events, info.updated_at if at is UNCHANGED else at)
        return info.model_copy(deep=True)

    @staticmethod
    def _apply(info: SessionInfo, changes: dict[str, Any]) -> None:
        for name, value in changes.items():
            setattr(info, name, copy.deepcopy(value))
        if "revision" not in changes:
            info.revision += 1

    async def list_sessions(self, query: SessionQuery) -> list[SessionInfo]:
        rows = [s for s in self._sessions.values() if query.matches(s)]
        rows.sort(
            key=lambda s: (_sort_value(s, query.sort), s.session_id), reverse=query.descending
        )
        if query.cursor is not None:
            mark = (query.cursor[0] or "", query.cursor[1])
            if query.descending:
                rows = [s for s in rows if (_sort_value(s, query.sort), s.session_id) < mark]
            else:
                rows = [s for s in rows if (_sort_value(s, query.sort), s.session_id) > mark]
        return [s.model_copy(deep=True) for s in rows[: query.limit]]

    async def count_sessions(self, query: SessionQuery) -> int:
        return sum(1 for s in self._sessions.values() if query.matches(s))

    async def stats(self, now: datetime) -> SessionStats:
        by_status = Counter(str(s.status) for s in self._sessions.values())
        created = [s.created_at for s in self._sessions.values()]
        return SessionStats(
            total=len(self._sessions),
            by_status=dict(by_status),
            expired=sum(1 for s in self._sessions.values() if s.is_expired(now)),
            oldest_created_at=min(created, default=None),
            newest_created_at=max(created, default=None),
            runs_total=len(self._runs),
        )

    async def delete_session(
        self, session_id: str, *, only_if_expired_at: datetime | None = None
    ) -> bool:
        info = self._sessions.get(session_id)
        if only_if_expired_at is not None and (
            info is None
            or info.status == SessionStatus.RUNNING
            or not info.is_expired(only_if_expired_at)
        ):
            return False
        existed = self._sessions.pop(session_id, None) is not None
        had_data = bool(self._events.pop(session_id, None)) | bool(
            self._messages.pop(session_id, None)
        )
        for run_id in [r.run_id for r in self._runs.values() if r.session_id == session_id]:
            del self._runs[run_id]
        for run_id in [p.run_id for p in self._pending.values() if p.session_id == session_id]:
            del self._pending[run_id]
        had_checkpoints = self.admin.delete_thread(None, session_id) > 0
        crons = [c for c, info in self._crons.items() if info.thread_id == session_id]
        for cron_id in crons:
            del self._crons[cron_id]
        return existed or had_data or had_checkpoints

    async def find_expired(self, now: datetime, limit: int) -> list[SessionInfo]:
        rows = [
            s
            for s in self._sessions.values()
            if s.expires_at is not None
            and s.expires_at <= now
            and s.status not in (SessionStatus.RUNNING, SessionStatus.EXPIRED)
        ]
        rows.sort(key=lambda s: s.expires_at or now)
        return [s.model_copy(deep=True) for s in rows[:limit]]

    async def find_running(self, lapsed_at: datetime | None = None) -> list[SessionInfo]:
        return [
            s.model_copy(deep=True)
            for s in self._sessions.values()
            if s.status == SessionStatus.RUNNING
            and (lapsed_at is None or s.lease_expires_at is None or s.lease_expires_at <= lapsed_at)
        ]

    # runs ----------------------------------------------------------------------------
    async def begin_run(
        self,
        session_id: str,
        run: RunInfo,
        start: RunStart,
        *,
        expect_revision: int,
        events: Sequence[NewEvent] = (),
        queue: QueueCheck | None = None,
    ) -> RunBegun | None:
        info = self._sessions.get(session_id)
        if info is None or info.revision != expect_revision:
            return None
        if queue is not None:
            if any(
                t.session_id == session_id
                and t.expires_at > queue.now
                and t.owner != queue.owner
                and seq < queue.position
                for seq, t in self._tickets.items()
            ):
                return None
            if queue.ticket is not None:
                self._tickets.pop(queue.ticket, None)
        before = self.admin.latest_id(None, session_id)
        recorded = run.model_copy(
            update={
                "checkpoint_before": before,
                "writes_mark": self.admin.writes_mark(None, session_id, before),
            }
        )
        self._apply(info, {**start.changes(), "lease_epoch": info.lease_epoch + 1})
        self._runs[run.run_id] = recorded.model_copy()
        self._pending.pop(run.run_id, None)
        self._append_events(session_id, events, run.started_at)
        return RunBegun(info.model_copy(deep=True), recorded)

    async def finish_run(
        self,
        session_id: str,
        run_id: str,
        finish: RunFinish,
        *,
        events: Sequence[NewEvent] = (),
        expect_lease: str | None = None,
        expect_epoch: int | None = None,
    ) -> tuple[SessionInfo | None, str | None]:
        latest = self.admin.latest_id(None, session_id)
        held = self._sessions.get(session_id)
        if expect_lease is not None and (held is None or held.lease_owner != expect_lease):
            return None, None
        if expect_epoch is not None and (held is None or held.lease_epoch != expect_epoch):
            return None, None
        run = self._runs.get(run_id)
        if run is not None:
            run.status = finish.run_status
            run.finished_at = finish.updated_at
            run.error = finish.error
            run.checkpoint_after = latest
        info = self._sessions.get(session_id)
        if info is None:
            return None, latest
        changes = finish.changes()
        # the TTL as it is now decides; without a sliding one, the expiry stays
        if finish.slide_ttl and info.ttl is not None and info.ttl_mode == "sliding":
            changes["expires_at"] = finish.updated_at + timedelta(seconds=info.ttl)
        self._apply(info, changes)
        self._append_events(session_id, events, finish.updated_at)
        return info.model_copy(deep=True), latest

    def check_fence(self, session_id: str) -> None:
        """``LeaseLost`` unless the run writing ``session_id`` (if fenced) still holds it."""
        fence = self.fences.get(session_id)
        if fence is None:
            return
        info = self._sessions.get(session_id)
        if info is None or (info.lease_owner, info.lease_epoch) != fence:
            raise LeaseLost(
                f"session {session_id!r} was deleted or taken over during the run: "
                "its checkpoint write was refused",
                session_id=session_id,
            )

    async def renew_lease(
        self, session_id: str, lease_owner: str, epoch: int, expires_at: datetime
    ) -> bool:
        info = self._sessions.get(session_id)
        if (
            info is None
            or info.status != SessionStatus.RUNNING
            or (info.lease_owner, info.lease_epoch) != (lease_owner, epoch)
        ):
            return False
        info.lease_expires_at = expires_at
        return True

    async def list_runs(self, session_id: str, limit: int = 50) -> list[RunInfo]:
        runs = [r for r in self._runs.values() if r.session_id == session_id]
        return [r.model_copy() for r in reversed(runs)][:limit]

    # cancel requests -------------------------------------------------------------------
    async def request_cancel(
        self, session_id: str, run_id: str, action: str, requested_at: datetime
    ) -> bool:
        running = {r.run_id for r in self._runs.values() if r.status == RunStatus.RUNNING}
        for stale in [r for r in self._cancels if r not in running]:
            del self._cancels[stale]
        run = self._runs.get(run_id)
        if run is None or run.session_id != session_id or run.status != RunStatus.RUNNING:
            return False
        self._cancels[run_id] = action
        return True

    async def take_cancel_requests(self, run_ids: Sequence[str]) -> dict[str, str]:
        return {r: self._cancels.pop(r) for r in run_ids if r in self._cancels}

    # queue tickets ---------------------------------------------------------------------
    async def take_ticket(self, session_id: str, owner: str, expires_at: datetime) -> int:
        self._ticket_seq += 1
        self._tickets[self._ticket_seq] = _Ticket(session_id, owner, expires_at)
        return self._ticket_seq

    async def renew_tickets(
        self, owner: str, expires_at: datetime, tickets: Sequence[int] | None = None
    ) -> int:
        mine = [
            t
            for seq, t in self._tickets.items()
            if t.owner == owner and (tickets is None or seq in tickets)
        ]
        for ticket in mine:
            ticket.expires_at = expires_at
        return len(mine)

    async def drop_ticket(self, ticket: int) -> None:
        self._tickets.pop(ticket, None)

    # pending runs ----------------------------------------------------------------------
    async def add_pending_run(self, pending: PendingRun) -> bool:
        if pending.session_id not in self._sessions or pending.run_id in self._pending:
            return False
        self._pending[pending.run_id] = dataclasses.replace(
            pending, payload=copy.deepcopy(pending.payload)
        )
        return True

    async def list_pending_runs(self, session_id: str | None = None) -> list[PendingRun]:
        rows = [
            dataclasses.replace(p, payload=copy.deepcopy(p.payload))
            for p in self._pending.values()
            if session_id is None or p.session_id == session_id
        ]
        rows.sort(key=lambda p: (p.created_at, p.run_id))
        return rows

    async def claim_pending_run(
        self,
        run_id: str,
        claimed_by: str,
        claimed_until: datetime,
        *,
        expect_by: str | None,
        expect_until: datetime | None,
    ) -> bool:
        found = self._pending.get(run_id)
        if found is None or (found.claimed_by, found.claimed_until) != (expect_by, expect_until):
            return False
        self._pending[run_id] = dataclasses.replace(
            found, claimed_by=claimed_by, claimed_until=claimed_until
        )
        return True

    async def renew_pending_claims(self, claimed_by: str, claimed_until: datetime) -> list[str]:
        held = [p.run_id for p in self._pending.values() if p.claimed_by == claimed_by]
        for run_id in held:
            self._pending[run_id] = dataclasses.replace(
                self._pending[run_id], claimed_until=claimed_until
            )
        return held

    async def delete_pending_run(self, run_id: str) -> bool:
        return self._pending.pop(run_id, None) is not None

    # events --------------------------------------------------------------------------
    async def append_events(
        self, session_id: str, events: Sequence[NewEvent], at: datetime
    ) -> bool:
        if session_id not in self._sessions:
            return False
        self._append_events(session_id, events, at)
        return True

    async def list_events(
        self, session_id: str, *, after_id: int | None = None, limit: int = 100
    ) -> list[Event]:
        log = self._events.get(session_id, [])
        return [e.model_copy() for e in log if e.id > (after_id or 0)][:limit]

    # messages ------------------------------------------------------------------------
    async def append_messages(
        self, session_id: str, messages: Sequence[NewMessage], at: datetime | None = None
    ) -> list[int]:
        stamp = at or utcnow()
        log = self._messages.setdefault(session_id, [])
        ids = []
        for m in messages:
            mid = next(self._message_ids)
            log.append(
                Message(
                    id=mid,
                    session_id=session_id,
                    role=m.role,
                    content=copy.deepcopy(m.content),
                    data=dict(m.data),
                    created_at=stamp,
                )
            )
            ids.append(mid)
        return ids

    async def load_messages(
        self, session_id: str, *, limit: int | None = None, before_id: int | None = None
    ) -> list[Message]:
        log = [
            m for m in self._messages.get(session_id, []) if before_id is None or m.id < before_id
        ]
        if limit is not None:
            log = log[-limit:] if limit > 0 else []
        return [m.model_copy(deep=True) for m in log]

    async def clear_messages(self, session_id: str) -> int:
        return len(self._messages.pop(session_id, []))

    async def message_summary(self, session_id: str) -> MessageSummary:
        log = self._messages.get(session_id, [])
        return MessageSummary(
            count=len(log),
            by_role=dict(Counter(m.role for m in log)),
            first_at=log[0].created_at if log else None,
            last_at=log[-1].created_at if log else None,
            last_message=log[-1].model_copy(deep=True) if log else None,
        )

    # checkpoints ---------------------------------------------------------------------
    async def latest_checkpoint_id(self, session_id: str) -> str | None:
        return self.admin.latest_id(None, session_id)

    async def delete_checkpoints_after(
        self, session_id: str, checkpoint_id: str | None, *, writes_mark: int | None = None
    ) -> None:
        self.check_fence(session_id)  # a rollback must still hold the session
        self.admin.delete_after(None, session_id, checkpoint_id, writes_mark=writes_mark)

    # assistants ----------------------------------------------------------------------
    async def create_assistant(self, info: AssistantInfo) -> bool:
        if info.assistant_id in self._assistant_versions:
            return False
        self._assistant_versions[info.assistant_id] = {info.version: info.model_copy(deep=True)}
        self._assistant_current[info.assistant_id] = info.version
        return True

    def _current(self, assistant_id: str) -> AssistantInfo | None:
        versions = self._assistant_versions.get(assistant_id)
        if versions is None:
            return None
        return versions[self._assistant_current[assistant_id]]

    async def get_assistant(self, assistant_id: str) -> AssistantInfo | None:
        found = self._current(assistant_id)
        return found.model_copy(deep=True) if found else None

    async def list_assistants(self) -> list[AssistantInfo]:
        rows = [self._current(a) for a in self._assistant_versions]
        found = [r.model_copy(deep=True) for r in rows if r is not None]
        return sorted(found, key=lambda a: (a.created_at, a.assistant_id))

    async def add_assistant_version(self, info: AssistantInfo) -> bool:
        versions = self._assistant_versions.get(info.assistant_id)
        if versions is None or max(versions) != info.version - 1:
            return False
        versions[info.version] = info.model_copy(deep=True)
        self._assistant_current[info.assistant_id] = info.version
        return True

    async def set_assistant_version(
        self, assistant_id: str, version: int, updated_at: datetime
    ) -> AssistantInfo | None:
        versions = self._assistant_versions.get(assistant_id)
        if versions is None or version not in versions:
            return None
        versions[version] = versions[version].model_copy(update={"updated_at": updated_at})
        self._assistant_current[assistant_id] = version
        return versions[version].model_copy(deep=True)

    async def list_assistant_versions(self, assistant_id: str) -> list[AssistantInfo]:
        versions = self._assistant_versions.get(assistant_id, {})
        return [versions[v].model_copy(deep=True) for v in sorted(versions, reverse=True)]

    async def delete_assistant(self, assistant_id: str) -> bool:
        self._assistant_current.pop(assistant_id, None)
        return self._assistant_versions.pop(assistant_id, None) is not None

    # crons ---------------------------------------------------------------------------
    async def create_cron(self, info: CronInfo) -> bool:
        if info.cron_id in self._crons:
            return False
        self._crons[info.cron_id] = info.model_copy(deep=True)
        return True

    async def get_cron(self, cron_id: str) -> CronInfo | None:
        found = self._crons.get(cron_id)
        return found.model_copy(deep=True) if found is not None else None

    async def list_crons(
        self, *, owner: str | None = None, thread_id: str | None = None
    ) -> list[CronInfo]:
        rows = [
            c.model_copy(deep=True)
            for c in self._crons.values()
            if (owner is None or c.owner == owner)
            and (thread_id is None or c.thread_id == thread_id)
        ]
        return sorted(rows, key=lambda c: (c.created_at, c.cron_id))

    async def update_cron(self, info: CronInfo) -> bool:
        if info.cron_id not in self._crons:
            return False
        self._crons[info.cron_id] = info.model_copy(deep=True)
        return True

    async def delete_cron(self, cron_id: str) -> bool:
        return self._crons.pop(cron_id, None) is not None

    async def due_crons(self, now: datetime, limit: int = 100) -> list[CronInfo]:
        rows = [
            c.model_copy(deep=True)
            for c in self._crons.values()
            if c.enabled and c.next_run_date <= now and (c.end_time is None or c.end_time >= now)
        ]
        rows.sort(key=lambda c: (c.next_run_date, c.cron_id))
        return rows[:limit]

    async def claim_cron(self, cron_id: str, seen: datetime, next_run_date: datetime) -> bool:
        found = self._crons.get(cron_id)
        if found is None or found.next_run_date != seen:
            return False
        found.next_run_date = next_run_date
        return True

    async def copy_checkpoints(self, source_id: str, target_id: str) -> None:
        self.admin.copy_thread(None, source_id, target_id)

    async def prune_checkpoints(self, session_id: str, keep: int) -> int:
        return self.admin.keep_newest(None, session_id, keep)

    # restore (export/import) ---------------------------------------------------------
    async def restore_session(self, record: SessionRecord) -> bool:
        sid = record.info.session_id
        if sid in self._sessions:
            return False
        for log in (self._events, self._messages):
            log.pop(sid, None)
        for run_id in [r.run_id for r in self._runs.values() if r.session_id == sid]:
            del self._runs[run_id]
        for run_id in [p.run_id for p in self._pending.values() if p.session_id == sid]:
            del self._pending[run_id]
        self._sessions[sid] = record.row().model_copy(deep=True)
        for run in record.runs:
            self._runs[run.run_id] = run.model_copy(update={"session_id": sid, "writes_mark": None})
        self._events[sid] = [
            Event(
                id=next(self._ids),
                session_id=sid,
                type=EventType(e.type),
                run_id=e.run_id,
                at=e.at,
                data=copy.deepcopy(e.data),
            )
            for e in record.events
        ]
        self._messages[sid] = [
            Message(
                id=next(self._message_ids),
                session_id=sid,
                role=m.role,
                content=copy.deepcopy(m.content),
                data=copy.deepcopy(m.data),
                created_at=m.created_at,
            )
            for m in record.messages
        ]
        return True
