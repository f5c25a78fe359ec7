"""The one interface the core uses to reach storage.

A backend owns a LangGraph checkpointer and store living in the same database as the
sessions registry, runs, events and messages, so that one transaction can cover what
belongs together (starting a run, finishing it, deleting a session).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.store.base import BaseStore

from graph_sessions.crypto import KeyRing
from graph_sessions.errors import BackendError
from graph_sessions.models import (
    AssistantInfo,
    CronInfo,
    Event,
    EventType,
    Message,
    MessageSummary,
    RunInfo,
    SessionInfo,
    SessionStats,
    SessionStatus,
)
from graph_sessions.storage.records import (
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
from graph_sessions.storage.signals import EVENT_WRITERS, EventSignals, signalling
from graph_sessions.vocabulary import DEFAULT_SORT, SortField


@dataclass
class SessionQuery:
    """Filters, order and page of a registry listing."""

    status: Sequence[SessionStatus] | None = None
    owner: str | None = None
    graph_id: str | None = None
    task_id: str | None = None
    id_prefix: str | None = None  # sessions whose id starts with this text
    metadata: dict[str, Any] | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    include_expired: bool = False
    now: datetime | None = None
    sort: SortField = DEFAULT_SORT
    descending: bool = True
    limit: int = 50
    cursor: tuple[str | None, str] | None = None  # (sort value, session_id) of the last row seen

    def matches(self, info: SessionInfo) -> bool:
        """Whether ``info`` passes every filter of this query (not its cursor): what a
        backend that filters in Python (memory; Redis after its indexes) keeps."""
        if self.status and info.status not in self.status:
            expired_by_time = self.now is not None and info.is_expired(self.now)
            if not (SessionStatus.EXPIRED in self.status and expired_by_time):
                return False
        if self.owner is not None and info.owner != self.owner:
            return False
        if self.graph_id is not None and info.graph_id != self.graph_id:
            return False
        if self.task_id is not None and info.task_id != self.task_id:
            return False
        if self.id_prefix and not info.session_id.startswith(self.id_prefix):
            return False
        if self.created_after is not None and info.created_at < self.created_after:
            return False
        if self.created_before is not None and info.created_at >= self.created_before:
            return False
        if self.updated_after is not None and info.updated_at < self.updated_after:
            return False
        if self.updated_before is not None and info.updated_at >= self.updated_before:
            return False
        if self.metadata and not _contains(info.metadata, self.metadata):
            return False
        return self.include_expired or self.now is None or not info.is_expired(self.now)


def prefix_upper_bound(prefix: str) -> str | None:
    """The smallest text greater than every text starting with ``prefix`` in code point
    (= UTF-8 byte) order, or ``None`` when there is none: ``prefix`` with its last character
    moved one code point up (surrogates skipped; trailing U+10FFFF dropped). With it a
    prefix filter is the index-friendly range ``prefix <= id < bound``."""
    chars = list(prefix)
    while chars:
        last = ord(chars.pop()) + 1
        if last == 0xD800:
            last = 0xE000
        if last <= 0x10FFFF:
            return "".join(chars) + chr(last)
    return None


def like_prefix(prefix: str) -> str:
    """A LIKE pattern (escape character ``\\``) matching the texts starting with ``prefix``:
    its ``\\``, ``%`` and ``_`` escaped, then ``%``."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def _contains(actual: Any, expected: dict[str, Any]) -> bool:
    """Metadata containment: every key of ``expected`` is in ``actual`` with an equal value;
    nested dicts are compared key by key."""
    if not isinstance(actual, dict):
        return False
    for key, value in expected.items():
        if key not in actual:
            return False
        if isinstance(value, dict) and value:
            if not _contains(actual[key], value):
                return False
        elif actual[key] != value or type(actual[key]) is not type(value):
            return False
    return True


@dataclass
class NewEvent:
    """An event to append inside a backend transaction."""

    type: EventType
    run_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class NewMessage:
    """A message to append to a session's transcript."""

    role: str
    content: Any
    data: dict[str, Any] = field(default_factory=dict)


class Backend(ABC):
    """Storage for sessions. One instance per manager; open before use, close after.

    The methods that append events (``signals.EVENT_WRITERS``) wake the session's watchers
    in :attr:`event_signals` when they return, in every subclass."""

    url: str
    checkpointer: BaseCheckpointSaver[Any]
    store: BaseStore
    # Threads whose checkpoint writes are fenced: session id -> (lease owner, lease epoch).
    fences: dict[str, tuple[str | None, int]]
    #: the keys what this backend stores is encrypted with (``use_encryption``)
    encryption: KeyRing | None = None
    #: whether ``use_encryption`` is supported by this kind of backend
    supports_encryption: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in EVENT_WRITERS:
            method = cls.__dict__.get(name)
            if method is not None:
                setattr(cls, name, signalling(method))

    @property
    def event_signals(self) -> EventSignals:
        """Wake-ups for live readers of a session's event log, in this process."""
        signals: EventSignals | None = self.__dict__.get("_event_signals")
        if signals is None:
            signals = self.__dict__.setdefault("_event_signals", EventSignals())
        return signals

    async def change_token(self) -> Any:
        """A value that changes when another process commits to the storage (``None``:
        no other process can write to it). Cheap: polled by live event tails."""
        return None

    def run_stream_relay(self) -> RunStreamRelay | None:
        """The table through which a run's events reach followers on other processes
        (``storage/run_streams.py``), or ``None`` when no other process can use this
        storage (memory). One instance per backend: ask again, get the same."""
        return None

    def rekey_source(self) -> RekeySource | None:
        """Batched reading and re-sealing of what this backend stores at rest, for
        ``graph-sessions rekey`` (``storage/rekey.py``); ``None`` when it cannot (memory:
        nothing at rest)."""
        return None

    async def read_setting(self, name: str) -> str | None:
        """A database-wide setting kept in the storage itself (``storage/encryption.py``
        keeps whether it is encrypted); ``None`` when unset or nothing persists (memory)."""
        return None

    async def write_setting(self, name: str, value: str) -> None:
        """Keep a database-wide setting (see :meth:`read_setting`; memory: a no-op)."""
        return None

    def use_encryption(self, ring: KeyRing | None) -> None:
        """Encrypt what this backend stores with ``ring`` (call before ``open``): the
        checkpointer's bodies, values and writes (``graph_sessions.crypto``). ``None``: no
        encryption (sealed rows then raise ``EncryptionError`` naming their key)."""
        if ring is not None and not self.supports_encryption:
            raise BackendError(
                f"{type(self).__name__} does not support encryption at rest yet; "
                "use SQLite or Postgres, or leave encryption_key unset"
            )
        self.encryption = ring

    # lifecycle -----------------------------------------------------------------------
    @abstractmethod
    async def open(self) -> None:
        """Connect, create or migrate the schema, build the checkpointer and store."""

    @abstractmethod
    async def close(self) -> None:
        """Flush and release every resource."""

    async def ping(self) -> bool:
        """True when the storage answers."""
        return True

    # fencing -------------------------------------------------------------------------
    def fence(self, session_id: str, lease_owner: str | None, epoch: int) -> None:
        """From now on, every checkpoint write of ``session_id`` through this backend's
        checkpointer checks, in its own transaction, that the session still exists under
        this lease (owner and epoch; owner ``None``: no run holds it and none has started
        since epoch ``epoch``), and raises ``LeaseLost`` instead of writing if not."""
        self.fences[session_id] = (lease_owner, epoch)

    def unfence(self, session_id: str) -> None:
        """Stop checking the writes of ``session_id`` (its run has ended)."""
        self.fences.pop(session_id, None)

    async def write_problem(self) -> str | None:
        """Why the storage cannot take writes now (read-only file, query_only…), or
        ``None`` when it can. Cheap: for readiness probes."""
        return None

    # registry ------------------------------------------------------------------------
    @abstractmethod
    async def create_session(self, info: SessionInfo, event: NewEvent | None = None) -> bool:
        """Insert ``info`` (and its creation event). False when the id already exists."""

    @abstractmethod
    async def get_session(self, session_id: str) -> SessionInfo | None:
        """The registry row, or ``None``."""

    @abstractmethod
    async def update_session(
        self,
        session_id: str,
        update: SessionUpdate,
        *,
        events: Sequence[NewEvent] = (),
        expect_status: Sequence[SessionStatus] | None = None,
        expect_revision: int | None = None,
    ) -> SessionInfo | None:
        """Set the fields ``update`` gives (bumping ``revision`` unless given) and append
        ``events`` (at ``update.updated_at``, else the row's), in one transaction. With
        ``expect_status``/``expect_revision``, only when the current status is one of them /
        the revision is still that one. Returns the new row, or ``None`` when missing or the
        expectation did not hold."""

    @abstractmethod
    async def list_sessions(self, query: SessionQuery) -> list[SessionInfo]:
        """Rows matching ``query``, at most ``query.limit``."""

    @abstractmethod
    async def count_sessions(self, query: SessionQuery) -> int:
        """How many rows match ``query`` (limit and cursor ignored)."""

    @abstractmethod
    async def stats(self, now: datetime) -> SessionStats:
        """Totals by status, expired count, oldest and newest."""

    @abstractmethod
    async def delete_session(
        self, session_id: str, *, only_if_expired_at: datetime | None = None
    ) -> bool:
        """Remove every row of the session (registry, checkpoints, writes, runs, pending runs,
        events, messages) in one transaction. With ``only_if_expired_at``, only when the session
        is expired at that time and not running. True when something was deleted."""

    # restore (export/import) -------------------------------------------------------------
    @abstractmethod
    async def restore_session(self, record: SessionRecord) -> bool:
        """Write a session as another storage held it (``graph-sessions import``), in one
        transaction: the registry row exactly as ``record.row()`` gives it (status,
        revision, run count, timestamps, TTL; no lease), its runs as given, its events and
        messages in order at their own times (with new ids of this storage, increasing in
        that order). False, and nothing written, when a session with that id exists. Its
        checkpoints are neither written nor removed (the caller writes them through
        :attr:`checkpointer`, before, so the row appears with its history)."""

    @abstractmethod
    async def find_expired(self, now: datetime, limit: int) -> list[SessionInfo]:
        """Non-running sessions whose TTL passed by ``now`` and not yet marked expired."""

    @abstractmethod
    async def find_running(self, lapsed_at: datetime | None = None) -> list[SessionInfo]:
        """Sessions whose registry status is ``running``; with ``lapsed_at``, only those
        whose lease expired at or before it (or has no expiry): the candidates of a repair
        pass, one indexed query."""

    # runs ----------------------------------------------------------------------------
    @abstractmethod
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
        """With ``queue``, only when its FIFO check holds (see :class:`QueueCheck`; its
        ticket is deleted in the same transaction). If the row's revision is still ``expect_revision``, in one transaction: mark the
        session running under a new lease (``start``; ``lease_epoch`` one more than before),
        insert the run row with the latest checkpoint as ``checkpoint_before`` (and the
        writes mark), delete the pending run of the same id if there is one (so a run is
        never both pending and begun, nor neither), and append ``events`` (at
        ``run.started_at``). Returns the new row and
        the run as recorded (``run`` itself is left as given); ``None`` when the revision
        changed or the session is gone."""

    @abstractmethod
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
        """Record the run's end (``finish``), the session's new fields and ``events`` (at
        ``finish.updated_at``), in one transaction, and release the lease (see
        :class:`RunFinish` for ``slide_ttl``). With ``expect_lease`` (and ``expect_epoch``),
        only while the session is still held under that lease (a run repaired or taken over
        by someone else records nothing; a repair does not end the holder's next run).
        Returns the updated row (``None`` when nothing was recorded) and the id of the
        session's latest checkpoint."""

    @abstractmethod
    async def renew_lease(
        self, session_id: str, lease_owner: str, epoch: int, expires_at: datetime
    ) -> bool:
        """Push the lease's expiry to ``expires_at`` if the session is still running under
        that lease (owner and epoch); False when the lease is gone. No revision bump."""

    @abstractmethod
    async def list_runs(self, session_id: str, limit: int = 50) -> list[RunInfo]:
        """The session's runs, newest first."""

    # cancel requests (a run executing in another process) -------------------------
    @abstractmethod
    async def request_cancel(
        self, session_id: str, run_id: str, action: str, requested_at: datetime
    ) -> bool:
        """Ask whichever process executes run ``run_id`` of ``session_id`` to cancel it:
        record ``action`` (an opaque word of the core's) for that run, replacing an earlier
        request of the same run, and wake the processes waiting in
        :meth:`wait_cancel_request`. Requests of runs no longer running are dropped.
        False (nothing recorded) when that run is not running."""

    @abstractmethod
    async def take_cancel_requests(self, run_ids: Sequence[str]) -> dict[str, str]:
        """The requests recorded for any of ``run_ids`` (run id -> action), deleted as they
        are taken: each request is answered once."""

    async def wait_cancel_request(self, timeout: float) -> None:
        """Return when another process may have recorded a cancel request, or after at most
        ``timeout`` seconds (a backend without notifications just waits: the caller
        polls :meth:`take_cancel_requests`)."""
        await asyncio.sleep(timeout)

    #: seconds between two polls of :meth:`take_cancel_requests` when requests come
    #: without notification (see :meth:`wait_cancel_request`)
    cancel_poll_interval: float = 0.25

    # queue tickets (enqueue order across processes) ---------------------------------
    @abstractmethod
    async def take_ticket(self, session_id: str, owner: str, expires_at: datetime) -> int:
        """A new ticket in the session's queue: its seq, higher than every ticket taken
        before (in any process); it lives until ``expires_at`` unless renewed."""

    @abstractmethod
    async def renew_tickets(
        self, owner: str, expires_at: datetime, tickets: Sequence[int] | None = None
    ) -> int:
        """Move the expiry of the tickets of ``owner`` (only those in ``tickets`` when
        given: a ticket its process lost track of then lapses) to ``expires_at``; returns
        how many."""

    @abstractmethod
    async def drop_ticket(self, ticket: int) -> None:
        """Delete a ticket (its run gave up waiting); nothing if it is gone."""

    # pending runs ----------------------------------------------------------------------
    @abstractmethod
    async def add_pending_run(self, pending: PendingRun) -> bool:
        """Keep ``pending`` (with its claim as given), in one transaction, only while its
        session exists and no pending run has that id. False (nothing written) otherwise.
        It stays until :meth:`begin_run` begins a run of that id, :meth:`delete_pending_run`
        or :meth:`delete_session`."""

    @abstractmethod
    async def list_pending_runs(self, session_id: str | None = None) -> list[PendingRun]:
        """The pending runs (of ``session_id``, else of every session), oldest first
        (``created_at``, then ``run_id``)."""

    @abstractmethod
    async def claim_pending_run(
        self,
        run_id: str,
        claimed_by: str,
        claimed_until: datetime,
        *,
        expect_by: str | None,
        expect_until: datetime | None,
    ) -> bool:
        """Compare-and-set the claim: set it to (``claimed_by``, ``claimed_until``) only if
        the run is still pending and its claim is still (``expect_by``, ``expect_until``),
        as the caller read it. Of several processes claiming the same run from the same
        reading, exactly one gets True."""

    @abstractmethod
    async def renew_pending_claims(self, claimed_by: str, claimed_until: datetime) -> list[str]:
        """Push the expiry of every claim ``claimed_by`` holds to ``claimed_until`` (one
        transaction); returns the ids of the runs it still holds."""

    @abstractmethod
    async def delete_pending_run(self, run_id: str) -> bool:
        """Forget a pending run (cancelled, or it can never start). False if absent."""

    # events --------------------------------------------------------------------------
    @abstractmethod
    async def append_events(
        self, session_id: str, events: Sequence[NewEvent], at: datetime
    ) -> bool:
        """Append ``events`` (at ``at``) to an existing session's log, in one transaction,
        leaving its registry row alone (no revision bump: for records made beside a run,
        such as webhook deliveries, which must not race the run's compare-and-set
        updates). False, and nothing written, when the session does not exist."""

    @abstractmethod
    async def list_events(
        self, session_id: str, *, after_id: int | None = None, limit: int = 100
    ) -> list[Event]:
        """Execution log entries, oldest first, with ids greater than ``after_id``."""

    # messages ------------------------------------------------------------------------
    @abstractmethod
    async def append_messages(
        self, session_id: str, messages: Sequence[NewMessage], at: datetime | None = None
    ) -> list[int]:
        """Append to the transcript; returns the new message ids in order."""

    @abstractmethod
    async def load_messages(
        self, session_id: str, *, limit: int | None = None, before_id: int | None = None
    ) -> list[Message]:
        """The last ``limit`` messages with id below ``before_id``, oldest first."""

    @abstractmethod
    async def clear_messages(self, session_id: str) -> int:
        """Delete the transcript; returns how many were removed."""

    @abstractmethod
    async def message_summary(self, session_id: str) -> MessageSummary:
        """Count by role, first and last timestamps, the last message."""

    # assistants ----------------------------------------------------------------------
    @abstractmethod
    async def create_assistant(self, info: AssistantInfo) -> bool:
        """Register an assistant as its version ``info.version``; False (nothing written)
        if the id is taken."""

    @abstractmethod
    async def get_assistant(self, assistant_id: str) -> AssistantInfo | None:
        """The assistant at its current version."""

    @abstractmethod
    async def list_assistants(self) -> list[AssistantInfo]:
        """Every assistant at its current version, oldest first."""

    @abstractmethod
    async def add_assistant_version(self, info: AssistantInfo) -> bool:
        """Store ``info`` as a new version of its assistant and make it current, in one
        transaction, only if ``info.version`` is one more than the highest version stored
        (a compare-and-set: False, nothing written, otherwise or when the assistant is
        gone)."""

    @abstractmethod
    async def set_assistant_version(
        self, assistant_id: str, version: int, updated_at: datetime
    ) -> AssistantInfo | None:
        """Make stored ``version`` the current one; ``None`` when there is no such version."""

    @abstractmethod
    async def list_assistant_versions(self, assistant_id: str) -> list[AssistantInfo]:
        """Every stored version of the assistant, newest first."""

    @abstractmethod
    async def delete_assistant(self, assistant_id: str) -> bool:
        """Delete the assistant and all its versions; False if absent."""

    # crons ---------------------------------------------------------------------------
    @abstractmethod
    async def create_cron(self, info: CronInfo) -> bool:
        """Store a new cron; False (nothing written) if the id is taken."""

    @abstractmethod
    async def get_cron(self, cron_id: str) -> CronInfo | None:
        """The cron, or ``None``."""

    @abstractmethod
    async def list_crons(
        self, *, owner: str | None = None, thread_id: str | None = None
    ) -> list[CronInfo]:
        """Every cron of ``owner`` (all owners when ``None``) and, when given, of
        ``thread_id``, oldest first (``created_at``, then id)."""

    @abstractmethod
    async def update_cron(self, info: CronInfo) -> bool:
        """Replace the stored cron ``info.cron_id`` by ``info``; False if absent."""

    @abstractmethod
    async def delete_cron(self, cron_id: str) -> bool:
        """Delete the cron; False if absent. (``delete_session`` deletes the crons of its
        thread in its own transaction.)"""

    @abstractmethod
    async def due_crons(self, now: datetime, limit: int = 100) -> list[CronInfo]:
        """Enabled crons whose ``next_run_date`` is at or before ``now`` and whose
        ``end_time`` (if any) is not before ``now``, soonest first."""

    @abstractmethod
    async def claim_cron(self, cron_id: str, seen: datetime, next_run_date: datetime) -> bool:
        """Move the cron's ``next_run_date`` from ``seen`` to ``next_run_date`` in one
        compare-and-set (``UPDATE ... WHERE cron_id = ? AND next_run_date = ?``): True for
        the one caller that moved it, so schedulers sharing the storage fire a due cron
        once; False when another claimed it first, or it changed or is gone."""

    # checkpoints ---------------------------------------------------------------------
    @abstractmethod
    async def latest_checkpoint_id(self, session_id: str) -> str | None:
        """Id of the newest root-namespace checkpoint of the session, cheaply."""

    @abstractmethod
    async def delete_checkpoints_after(
        self, session_id: str, checkpoint_id: str | None, *, writes_mark: int | None = None
    ) -> None:
        """Drop checkpoints (and their writes) newer than ``checkpoint_id``, all when None;
        with ``writes_mark`` (from ``begin_run``), also the writes added since on it."""

    @abstractmethod
    async def copy_checkpoints(self, source_id: str, target_id: str) -> None:
        """Copy every checkpoint and pending write of session ``source_id`` to session
        ``target_id`` (one transaction where the storage has them)."""

    @abstractmethod
    async def prune_checkpoints(self, session_id: str, keep: int) -> int:
        """Keep only the newest ``keep`` root checkpoints (and the subgraph checkpoints
        written alongside); returns how many root checkpoints were removed."""
