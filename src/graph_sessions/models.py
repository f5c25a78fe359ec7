"""Public data models: session info, statuses, run results, runs, events, messages."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from graph_sessions.vocabulary import (
    DEFAULT_MULTITASK,
    DEFAULT_TTL_MODE,
    Durability,
    ExpiryStrategy,
    MultitaskStrategy,
    TTLMode,
)


class SessionStatus(StrEnum):
    """Where a session stands. See DESIGN.md "Session status" for the transitions."""

    CREATED = "created"
    RUNNING = "running"
    INTERRUPTED = "interrupted"
    COMPLETED = "completed"
    FAILED = "failed"
    SUSPENDED = "suspended"
    EXPIRED = "expired"


class RunStatus(StrEnum):
    """Outcome of one run (one invocation of the graph inside a session)."""

    RUNNING = "running"
    SUCCESS = "success"
    INTERRUPTED = "interrupted"
    ERROR = "error"
    CANCELLED = "cancelled"


class EventType(StrEnum):
    """Kinds of entries in a session's execution log.

    There is no "deleted" kind: deleting a session deletes its log with it (an event
    stream that follows the session ends instead)."""

    CREATED = "created"
    RUN_STARTED = "run_started"
    RUN_COMPLETED = "run_completed"
    RUN_FAILED = "run_failed"
    RUN_CANCELLED = "run_cancelled"
    INTERRUPTED = "interrupted"
    RESUMED = "resumed"
    SUSPENDED = "suspended"
    UNSUSPENDED = "unsuspended"
    STATE_UPDATED = "state_updated"
    FORKED = "forked"
    METADATA_UPDATED = "metadata_updated"
    EXPIRED = "expired"
    REPAIRED = "repaired"
    #: a run's webhook was answered 2xx (data: url host, status code, attempts)
    WEBHOOK_DELIVERED = "webhook_delivered"
    #: a run's webhook gave up or was refused (data: url host, status code or error,
    #: attempts; ``refused`` when the URL policy forbade the request)
    WEBHOOK_FAILED = "webhook_failed"


class SessionInfo(BaseModel):
    """One row of the sessions registry: who a session belongs to and where it stands."""

    model_config = ConfigDict(frozen=False, use_enum_values=False)

    session_id: str
    graph_id: str = "default"
    owner: str | None = None
    task_id: str | None = None
    status: SessionStatus = SessionStatus.CREATED
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None = None
    ttl: float | None = None
    ttl_mode: TTLMode = DEFAULT_TTL_MODE
    last_error: str | None = None
    run_count: int = 0
    revision: int = 0
    previous_status: SessionStatus | None = None  # before suspension or expiry; restored after
    suspend_reason: str | None = None
    interrupts: list[dict[str, Any]] = Field(default_factory=list)
    lease_owner: str | None = None
    # The lease of the run holding the session: it lapses at ``lease_expires_at`` unless the
    # holder's heartbeat renews it; ``lease_epoch`` grows with every lease taken (fencing).
    lease_expires_at: datetime | None = None
    lease_epoch: int = 0
    # Stable identity of the graph the session belongs to (see docs/lifecycle.md); ``None``
    # for sessions of files written before identities existed: the first graph adopts them.
    graph_identity: str | None = None

    def is_expired(self, now: datetime) -> bool:
        """True when the TTL has passed at ``now`` (or the sweeper marked it expired). A
        running session is never expired: its run renews it when it ends."""
        if self.status == SessionStatus.EXPIRED:
            return True
        if self.status == SessionStatus.RUNNING:
            return False
        return self.expires_at is not None and self.expires_at <= now


@dataclass
class InvokeResult:
    """What one run returns.

    ``status`` keeps the seed's words: ``"complete"`` or ``"interrupted"``. ``output`` is
    ``state[output_key]`` when the manager has an ``output_key``. ``resume_key`` names the
    input key whose value resumes the pending interrupt, when the interrupt (or the manager)
    names one.
    """

    status: Literal["complete", "interrupted"]
    state: dict[str, Any]
    output: Any = None
    resume_key: str | None = None
    interrupts: list[dict[str, Any]] = field(default_factory=list)
    run_id: str | None = None
    checkpoint_id: str | None = None
    session_id: str | None = None

    @property
    def is_interrupted(self) -> bool:
        """True when the run paused at an interrupt."""
        return self.status == "interrupted"

    @property
    def interrupt(self) -> Any:
        """The value of the first pending interrupt, or ``None``."""
        return self.interrupts[0]["value"] if self.interrupts else None

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (JSON-ready when the state is)."""
        return asdict(self)


class RunInfo(BaseModel):
    """One run of the graph inside a session."""

    run_id: str
    session_id: str
    status: RunStatus
    kind: str = "invoke"
    multitask: str = DEFAULT_MULTITASK
    started_at: datetime
    finished_at: datetime | None = None
    error: str | None = None
    checkpoint_before: str | None = None
    checkpoint_after: str | None = None
    # Where the thread's pending writes stood when the run began (backend-specific), so a
    # rollback can drop the writes the run added on `checkpoint_before` itself.
    writes_mark: int | None = Field(default=None, exclude=True, repr=False)


class Event(BaseModel):
    """One entry of a session's execution log."""

    id: int
    session_id: str
    type: EventType
    at: datetime
    run_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class Message(BaseModel):
    """One entry of a session's append-only chat transcript."""

    id: int
    session_id: str
    role: str
    content: Any
    data: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime


class MessageSummary(BaseModel):
    """Counts and bounds of a session's transcript."""

    count: int
    by_role: dict[str, int]
    first_at: datetime | None = None
    last_at: datetime | None = None
    last_message: Message | None = None


class CheckpointInfo(BaseModel):
    """One saved step of a session's history (a LangGraph ``StateSnapshot``, flattened)."""

    checkpoint_id: str
    parent_checkpoint_id: str | None = None
    created_at: datetime | None = None
    step: int | None = None
    source: str | None = None
    next: list[str] = Field(default_factory=list)
    values: dict[str, Any] = Field(default_factory=dict)
    interrupts: list[dict[str, Any]] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)


class AssistantInfo(BaseModel):
    """One version of an assistant: a served graph with its own config, context, metadata
    and name (LangGraph's assistants). The registry keeps every version; ``version`` of the
    current one is the assistant's."""

    assistant_id: str
    graph_id: str
    owner: str | None = None
    name: str = "Untitled"
    description: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    version: int = 1
    created_at: datetime
    updated_at: datetime


class CronInfo(BaseModel):
    """A scheduled run (LangGraph's crons): at every ``next_run_date`` the scheduler starts
    a run from ``payload`` on ``thread_id`` (on a new thread each time when ``None``), as
    ``owner``, then moves ``next_run_date`` to the schedule's next time."""

    cron_id: str
    assistant_id: str
    thread_id: str | None = None
    owner: str | None = None
    schedule: str
    timezone: str | None = None
    end_time: datetime | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    on_run_completed: str | None = None
    enabled: bool = True
    next_run_date: datetime
    created_at: datetime
    updated_at: datetime


class SessionStats(BaseModel):
    """Totals over the registry."""

    total: int
    by_status: dict[str, int]
    expired: int
    oldest_created_at: datetime | None = None
    newest_created_at: datetime | None = None
    runs_total: int = 0


class SessionPage(BaseModel):
    """One page of ``manager.list``; pass ``next_cursor`` back to get the next."""

    sessions: list[SessionInfo]
    next_cursor: str | None = None

    def __iter__(self) -> Iterator[SessionInfo]:  # type: ignore[override]
        # Iterating a page yields its sessions, not pydantic's (field, value) pairs.
        return iter(self.sessions)

    def __len__(self) -> int:
        return len(self.sessions)


__all__ = [
    "AssistantInfo",
    "CheckpointInfo",
    "CronInfo",
    "Durability",
    "Event",
    "EventType",
    "ExpiryStrategy",
    "InvokeResult",
    "Message",
    "MessageSummary",
    "MultitaskStrategy",
    "RunInfo",
    "RunStatus",
    "SessionInfo",
    "SessionPage",
    "SessionStats",
    "SessionStatus",
    "TTLMode",
]
