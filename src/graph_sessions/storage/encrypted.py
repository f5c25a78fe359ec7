"""Encryption at rest of the registry, runs, events, transcripts and pending runs: a
:class:`EncryptedBackend` in front of any backend.

What a user told the graph is sealed (``graph_sessions.crypto``) before it reaches the
inner backend, and opened on the way back, so every backend gets it the same way:

- session metadata **values** (keys stay readable; the keys named in
  ``indexable_metadata`` keep their values readable too, so ``list(metadata=...)`` can
  filter on them in the database), the pending interrupts and the last error;
- event payloads, transcript messages (content and data), a run's error, a pending run's
  payload (its input).

The checkpoints are sealed by the inner backend's saver (``Backend.use_encryption``).
Ids, owners, statuses, graph ids and timestamps stay readable: listing, sorting, TTL and
leases work on them. A sealed JSON value is stored as the string ``"gse1:" + base64``,
bound to its session and field, so it fits every backend's JSON columns.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from graph_sessions.crypto import KeyRing, aad_of, is_sealed_json, open_json, seal_json
from graph_sessions.errors import InvalidInput
from graph_sessions.models import (
    AssistantInfo,
    CronInfo,
    Event,
    Message,
    MessageSummary,
    RunInfo,
    SessionInfo,
    SessionStats,
    SessionStatus,
)
from graph_sessions.storage.backend import Backend, NewEvent, NewMessage, SessionQuery
from graph_sessions.storage.encrypted_relay import EncryptedRelay
from graph_sessions.storage.encrypted_store import EncryptedStore
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
from graph_sessions.storage.rekey import RekeySource
from graph_sessions.storage.run_streams import RunStreamRelay

T = TypeVar("T")


def _ev(event: NewEvent | Event | Any) -> tuple[str, str]:
    """What an event's sealed payload is bound to besides its session: type and run."""
    kind = event.type
    return str(getattr(kind, "value", kind)), event.run_id or ""


class EncryptedBackend(Backend):
    """``inner`` with what users wrote sealed by ``ring`` (see the module doc)."""

    supports_encryption = True

    def __init__(
        self, inner: Backend, ring: KeyRing, indexable_metadata: Sequence[str] = ()
    ) -> None:
        inner.use_encryption(ring)
        self.inner = inner
        self.encryption = ring
        self.indexable_metadata = frozenset(indexable_metadata)

    # what passes through --------------------------------------------------------------
    @property
    def url(self) -> str:
        return self.inner.url

    @url.setter
    def url(self, value: str) -> None:
        self.inner.url = value

    @property
    def checkpointer(self) -> Any:
        return self.inner.checkpointer

    @checkpointer.setter
    def checkpointer(self, value: Any) -> None:
        self.inner.checkpointer = value

    @property
    def store(self) -> Any:
        inner = self.inner.store
        if self.encryption is None or inner is None:
            return inner
        wrapped: EncryptedStore | None = self.__dict__.get("_store")
        if wrapped is None or wrapped.inner is not inner:
            wrapped = self.__dict__["_store"] = EncryptedStore(inner, self.encryption)
        return wrapped

    @store.setter
    def store(self, value: Any) -> None:
        self.inner.store = value

    @property
    def fences(self) -> dict[str, tuple[str | None, int]]:
        return self.inner.fences

    @fences.setter
    def fences(self, value: dict[str, tuple[str | None, int]]) -> None:
        self.inner.fences = value

    @property
    def event_signals(self) -> Any:
        return self.inner.event_signals

    @property
    def cancel_poll_interval(self) -> float:
        return self.inner.cancel_poll_interval

    @cancel_poll_interval.setter
    def cancel_poll_interval(self, value: float) -> None:
        self.inner.cancel_poll_interval = value

    def __getattr__(self, name: str) -> Any:  # backend-specific extras (admin, path…)
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def use_encryption(self, ring: KeyRing | None) -> None:
        self.inner.use_encryption(ring)
        self.encryption = ring

    async def change_token(self) -> Any:
        return await self.inner.change_token()

    def rekey_source(self) -> RekeySource | None:
        return self.inner.rekey_source()

    async def read_setting(self, name: str) -> str | None:
        return await self.inner.read_setting(name)

    async def write_setting(self, name: str, value: str) -> None:
        await self.inner.write_setting(name, value)

    def run_stream_relay(self) -> RunStreamRelay | None:
        inner = self.inner.run_stream_relay()
        if inner is None or self.encryption is None:
            return inner
        relay: EncryptedRelay | None = self.__dict__.get("_relay")
        if relay is None or relay.inner is not inner:
            relay = self.__dict__["_relay"] = EncryptedRelay(inner, self.encryption)
        return relay

    async def open(self) -> None:
        await self.inner.open()

    async def close(self) -> None:
        await self.inner.close()

    async def ping(self) -> bool:
        return await self.inner.ping()

    def fence(self, session_id: str, lease_owner: str | None, epoch: int) -> None:
        self.inner.fence(session_id, lease_owner, epoch)

    def unfence(self, session_id: str) -> None:
        self.inner.unfence(session_id)

    async def write_problem(self) -> str | None:
        return await self.inner.write_problem()

    # sealing ----------------------------------------------------------------------------
    def _seal(self, session_id: str, field: str, value: Any, *more: str) -> Any:
        if value is None or self.encryption is None:
            return value
        return seal_json(self.encryption, value, aad_of("registry", session_id, field, *more))

    def _open(self, session_id: str, field: str, value: Any, *more: str) -> Any:
        return open_json(self.encryption, value, aad_of("registry", session_id, field, *more))

    def _seal_metadata(self, session_id: str, metadata: dict[str, Any]) -> dict[str, Any]:
        return {
            k: v if k in self.indexable_metadata else self._seal(session_id, f"metadata.{k}", v)
            for k, v in metadata.items()
        }

    def _open_metadata(self, session_id: str, metadata: Any) -> Any:
        if not isinstance(metadata, dict):
            return metadata
        return {
            k: v if k in self.indexable_metadata else self._open(session_id, f"metadata.{k}", v)
            for k, v in metadata.items()
        }

    # interrupts keep their shape, a list of objects (backends may validate the row):
    # one object holding the sealed list
    def _seal_interrupts(self, session_id: str, value: Any) -> Any:
        if not value or self.encryption is None:
            return value
        return [{"sealed": self._seal(session_id, "interrupts", value)}]

    def _open_interrupts(self, session_id: str, value: Any) -> Any:
        if (
            isinstance(value, list)
            and len(value) == 1
            and isinstance(value[0], dict)
            and set(value[0]) == {"sealed"}
            and is_sealed_json(value[0]["sealed"])
        ):
            return self._open(session_id, "interrupts", value[0]["sealed"])
        return value

    def _seal_info(self, info: SessionInfo) -> SessionInfo:
        sid = info.session_id
        return info.model_copy(
            update={
                "metadata": self._seal_metadata(sid, info.metadata or {}),
                "interrupts": self._seal_interrupts(sid, info.interrupts),
                "last_error": self._seal(sid, "last_error", info.last_error),
                "suspend_reason": self._seal(sid, "suspend_reason", info.suspend_reason),
            }
        )

    def _open_info(self, info: SessionInfo | None) -> SessionInfo | None:
        if info is None:
            return None
        sid = info.session_id
        return info.model_copy(
            update={
                "metadata": self._open_metadata(sid, info.metadata),
                "interrupts": self._open_interrupts(sid, info.interrupts),
                "last_error": self._open(sid, "last_error", info.last_error),
                "suspend_reason": self._open(sid, "suspend_reason", info.suspend_reason),
            }
        )

    def _open_infos(self, infos: list[SessionInfo]) -> list[SessionInfo]:
        return [i for i in map(self._open_info, infos) if i is not None]

    def _seal_fields(self, session_id: str, record: T) -> T:
        """A record (``SessionUpdate``, ``RunStart``, ``RunFinish``) with its user fields sealed."""
        changes: dict[str, Any] = {}
        for name in ("metadata", "interrupts", "last_error", "suspend_reason"):
            value = getattr(record, name, UNCHANGED)
            if value is UNCHANGED:
                continue
            if name == "metadata":
                changes[name] = self._seal_metadata(session_id, value)
            elif name == "interrupts":
                changes[name] = self._seal_interrupts(session_id, value)
            else:
                changes[name] = self._seal(session_id, name, value)
        return dataclasses.replace(record, **changes) if changes else record  # type: ignore[type-var]

    def _seal_events(self, session_id: str, events: Sequence[NewEvent]) -> list[NewEvent]:
        return [
            NewEvent(e.type, e.run_id, {"sealed": self._seal(session_id, "event", e.data, *_ev(e))})
            if e.data
            else e
            for e in events
        ]

    def _open_event(self, event: Event) -> Event:
        data = event.data
        if isinstance(data, dict) and set(data) == {"sealed"}:
            data = self._open(event.session_id, "event", data["sealed"], *_ev(event))
        return event.model_copy(update={"data": data})

    def _open_run(self, run: RunInfo) -> RunInfo:
        error = self._open(run.session_id, "run.error", run.error, run.run_id)
        return run.model_copy(update={"error": error})

    def _check_query(self, query: SessionQuery) -> SessionQuery:
        sealed = sorted(set(query.metadata or {}) - self.indexable_metadata)
        if sealed:
            raise InvalidInput(
                f"metadata key(s) {sealed} are encrypted at rest, so sessions cannot be "
                "filtered by them; list them in indexable_metadata to keep their values "
                "readable and filterable"
            )
        return query

    # registry ---------------------------------------------------------------------------
    async def create_session(self, info: SessionInfo, event: NewEvent | None = None) -> bool:
        sealed_event = self._seal_events(info.session_id, [event])[0] if event else None
        return await self.inner.create_session(self._seal_info(info), sealed_event)

    async def get_session(self, session_id: str) -> SessionInfo | None:
        return self._open_info(await self.inner.get_session(session_id))

    async def update_session(
        self,
        session_id: str,
        update: SessionUpdate,
        *,
        events: Sequence[NewEvent] = (),
        expect_status: Sequence[SessionStatus] | None = None,
        expect_revision: int | None = None,
    ) -> SessionInfo | None:
        return self._open_info(
            await self.inner.update_session(
                session_id,
                self._seal_fields(session_id, update),
                events=self._seal_events(session_id, events),
                expect_status=expect_status,
                expect_revision=expect_revision,
            )
        )

    async def list_sessions(self, query: SessionQuery) -> list[SessionInfo]:
        return self._open_infos(await self.inner.list_sessions(self._check_query(query)))

    async def count_sessions(self, query: SessionQuery) -> int:
        return await self.inner.count_sessions(self._check_query(query))

    async def stats(self, now: datetime) -> SessionStats:
        return await self.inner.stats(now)

    async def delete_session(
        self, session_id: str, *, only_if_expired_at: datetime | None = None
    ) -> bool:
        return await self.inner.delete_session(session_id, only_if_expired_at=only_if_expired_at)

    async def restore_session(self, record: SessionRecord) -> bool:
        sid = record.info.session_id
        sealed = dataclasses.replace(
            record,
            info=self._seal_info(record.info),
            runs=tuple(
                r.model_copy(update={"error": self._seal(sid, "run.error", r.error, r.run_id)})
                for r in record.runs
            ),
            events=tuple(
                dataclasses.replace(e, data={"sealed": self._seal(sid, "event", e.data, *_ev(e))})
                if e.data
                else e
                for e in record.events
            ),
            messages=tuple(
                dataclasses.replace(
                    m,
                    content=self._seal(sid, "message.content", m.content, m.role),
                    data={"sealed": self._seal(sid, "message.data", m.data, m.role)}
                    if m.data
                    else {},
                )
                for m in record.messages
            ),
        )
        return await self.inner.restore_session(sealed)

    async def find_expired(self, now: datetime, limit: int) -> list[SessionInfo]:
        return self._open_infos(await self.inner.find_expired(now, limit))

    async def find_running(self, lapsed_at: datetime | None = None) -> list[SessionInfo]:
        return self._open_infos(await self.inner.find_running(lapsed_at))

    # runs ---------------------------------------------------------------------------------
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
        begun = await self.inner.begin_run(
            session_id,
            run,
            self._seal_fields(session_id, start),
            expect_revision=expect_revision,
            events=self._seal_events(session_id, events),
            queue=queue,
        )
        if begun is None:
            return None
        info = self._open_info(begun.session)
        assert info is not None
        return RunBegun(info, self._open_run(begun.run))

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
        sealed = self._seal_fields(session_id, finish)
        if finish.error is not None:
            error = self._seal(session_id, "run.error", finish.error, run_id)
            sealed = dataclasses.replace(sealed, error=error)
        info, checkpoint_after = await self.inner.finish_run(
            session_id,
            run_id,
            sealed,
            events=self._seal_events(session_id, events),
            expect_lease=expect_lease,
            expect_epoch=expect_epoch,
        )
        return self._open_info(info), checkpoint_after

    async def renew_lease(
        self, session_id: str, lease_owner: str, epoch: int, expires_at: datetime
    ) -> bool:
        return await self.inner.renew_lease(session_id, lease_owner, epoch, expires_at)

    async def list_runs(self, session_id: str, limit: int = 50) -> list[RunInfo]:
        return [self._open_run(r) for r in await self.inner.list_runs(session_id, limit)]

    async def request_cancel(
        self, session_id: str, run_id: str, action: str, requested_at: datetime
    ) -> bool:
        return await self.inner.request_cancel(session_id, run_id, action, requested_at)

    async def take_cancel_requests(self, run_ids: Sequence[str]) -> dict[str, str]:
        return await self.inner.take_cancel_requests(run_ids)

    async def wait_cancel_request(self, timeout: float) -> None:
        await self.inner.wait_cancel_request(timeout)

    async def take_ticket(self, session_id: str, owner: str, expires_at: datetime) -> int:
        return await self.inner.take_ticket(session_id, owner, expires_at)

    async def renew_tickets(
        self, owner: str, expires_at: datetime, tickets: Sequence[int] | None = None
    ) -> int:
        return await self.inner.renew_tickets(owner, expires_at, tickets)

    async def drop_ticket(self, ticket: int) -> None:
        await self.inner.drop_ticket(ticket)

    # pending runs -------------------------------------------------------------------------
    def _open_pending(self, pending: PendingRun) -> PendingRun:
        payload = pending.payload
        if set(payload) == {"sealed"}:
            payload = self._open(pending.session_id, "pending", payload["sealed"], pending.run_id)
        return dataclasses.replace(pending, payload=payload)

    async def add_pending_run(self, pending: PendingRun) -> bool:
        sealed = {
            "sealed": self._seal(pending.session_id, "pending", pending.payload, pending.run_id)
        }
        return await self.inner.add_pending_run(dataclasses.replace(pending, payload=sealed))

    async def list_pending_runs(self, session_id: str | None = None) -> list[PendingRun]:
        return [self._open_pending(p) for p in await self.inner.list_pending_runs(session_id)]

    async def claim_pending_run(
        self,
        run_id: str,
        claimed_by: str,
        claimed_until: datetime,
        *,
        expect_by: str | None,
        expect_until: datetime | None,
    ) -> bool:
        return await self.inner.claim_pending_run(
            run_id, claimed_by, claimed_until, expect_by=expect_by, expect_until=expect_until
        )

    async def renew_pending_claims(self, claimed_by: str, claimed_until: datetime) -> list[str]:
        return await self.inner.renew_pending_claims(claimed_by, claimed_until)

    async def delete_pending_run(self, run_id: str) -> bool:
        return await self.inner.delete_pending_run(run_id)

    # events and messages ------------------------------------------------------------------
    async def append_events(
        self, session_id: str, events: Sequence[NewEvent], at: datetime
    ) -> bool:
        return await self.inner.append_events(session_id, self._seal_events(session_id, events), at)

    async def list_events(
        self, session_id: str, *, after_id: int | None = None, limit: int = 100
    ) -> list[Event]:
        events = await self.inner.list_events(session_id, after_id=after_id, limit=limit)
        return [self._open_event(e) for e in events]

    async def append_messages(
        self, session_id: str, messages: Sequence[NewMessage], at: datetime | None = None
    ) -> list[int]:
        sealed = [
            NewMessage(
                m.role,
                self._seal(session_id, "message.content", m.content, m.role),
                {"sealed": self._seal(session_id, "message.data", m.data, m.role)}
                if m.data
                else {},
            )
            for m in messages
        ]
        return await self.inner.append_messages(session_id, sealed, at)

    async def load_messages(
        self, session_id: str, *, limit: int | None = None, before_id: int | None = None
    ) -> list[Message]:
        loaded = await self.inner.load_messages(session_id, limit=limit, before_id=before_id)
        return [self._open_message(m) for m in loaded]

    def _open_message(self, message: Message) -> Message:
        data = message.data
        if isinstance(data, dict) and set(data) == {"sealed"}:
            data = self._open(message.session_id, "message.data", data["sealed"], message.role)
        content = self._open(message.session_id, "message.content", message.content, message.role)
        return message.model_copy(update={"content": content, "data": data})

    async def clear_messages(self, session_id: str) -> int:
        return await self.inner.clear_messages(session_id)

    async def message_summary(self, session_id: str) -> MessageSummary:
        summary = await self.inner.message_summary(session_id)
        if summary.last_message is None:
            return summary
        return summary.model_copy(update={"last_message": self._open_message(summary.last_message)})

    # assistants and crons: configuration, passed through ------------------------------------
    async def create_assistant(self, info: AssistantInfo) -> bool:
        return await self.inner.create_assistant(info)

    async def get_assistant(self, assistant_id: str) -> AssistantInfo | None:
        return await self.inner.get_assistant(assistant_id)

    async def list_assistants(self) -> list[AssistantInfo]:
        return await self.inner.list_assistants()

    async def add_assistant_version(self, info: AssistantInfo) -> bool:
        return await self.inner.add_assistant_version(info)

    async def set_assistant_version(
        self, assistant_id: str, version: int, updated_at: datetime
    ) -> AssistantInfo | None:
        return await self.inner.set_assistant_version(assistant_id, version, updated_at)

    async def list_assistant_versions(self, assistant_id: str) -> list[AssistantInfo]:
        return await self.inner.list_assistant_versions(assistant_id)

    async def delete_assistant(self, assistant_id: str) -> bool:
        return await self.inner.delete_assistant(assistant_id)

    async def create_cron(self, info: CronInfo) -> bool:
        return await self.inner.create_cron(info)

    async def get_cron(self, cron_id: str) -> CronInfo | None:
        return await self.inner.get_cron(cron_id)

    async def list_crons(
        self, *, owner: str | None = None, thread_id: str | None = None
    ) -> list[CronInfo]:
        return await self.inner.list_crons(owner=owner, thread_id=thread_id)

    async def update_cron(self, info: CronInfo) -> bool:
        return await self.inner.update_cron(info)

    async def delete_cron(self, cron_id: str) -> bool:
        return await self.inner.delete_cron(cron_id)

    async def due_crons(self, now: datetime, limit: int = 100) -> list[CronInfo]:
        return await self.inner.due_crons(now, limit)

    async def claim_cron(self, cron_id: str, seen: datetime, next_run_date: datetime) -> bool:
        return await self.inner.claim_cron(cron_id, seen, next_run_date)

    # checkpoints ----------------------------------------------------------------------------
    async def latest_checkpoint_id(self, session_id: str) -> str | None:
        return await self.inner.latest_checkpoint_id(session_id)

    async def delete_checkpoints_after(
        self, session_id: str, checkpoint_id: str | None, *, writes_mark: int | None = None
    ) -> None:
        await self.inner.delete_checkpoints_after(
            session_id, checkpoint_id, writes_mark=writes_mark
        )

    async def copy_checkpoints(self, source_id: str, target_id: str) -> None:
        await self.inner.copy_checkpoints(source_id, target_id)

    async def prune_checkpoints(self, session_id: str, keep: int) -> int:
        return await self.inner.prune_checkpoints(session_id, keep)


def with_encryption(
    backend: Backend, ring: KeyRing | None, indexable_metadata: Sequence[str] = ()
) -> Backend:
    """``backend`` sealing what users wrote with ``ring``. ``None``, or a backend already
    wrapped: ``backend`` itself, as the caller configured it."""
    if isinstance(backend, EncryptedBackend) or ring is None:
        return backend  # as configured by the caller (a ring set on it is kept)
    return EncryptedBackend(backend, ring, indexable_metadata)
