"""Typed records of what a Backend write changes: the registry row's new values
(:class:`SessionUpdate`), the start of a run (:class:`RunStart`, answered by
:class:`RunBegun`), its end (:class:`RunFinish`), and a run waiting to start
(:class:`PendingRun`).

A field left out is :data:`UNCHANGED`; a nullable field given ``None`` is set to NULL. A
name that is not a field (or one that cannot change, ``session_id``, ``created_at``) is a
``TypeError`` where the record is built, before any storage is reached.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Final, Literal

from graph_sessions.models import RunInfo, RunStatus, SessionInfo, SessionStatus, TTLMode


class Unchanged(Enum):
    """The type of :data:`UNCHANGED` (an enum so that type checkers narrow on ``is``)."""

    UNCHANGED = "UNCHANGED"

    def __repr__(self) -> str:
        return "UNCHANGED"


#: a record field's default: the column keeps its value (``None`` would set it to NULL)
UNCHANGED: Final = Unchanged.UNCHANGED
_U = Literal[Unchanged.UNCHANGED]


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionUpdate:
    """New values for a registry row (``SessionInfo`` fields but ``session_id`` and
    ``created_at``). ``revision`` is bumped by one unless given, and then kept as given."""

    graph_id: str | _U = UNCHANGED
    owner: str | None | _U = UNCHANGED
    task_id: str | None | _U = UNCHANGED
    status: SessionStatus | _U = UNCHANGED
    metadata: dict[str, Any] | _U = UNCHANGED
    updated_at: datetime | _U = UNCHANGED
    expires_at: datetime | None | _U = UNCHANGED
    ttl: float | None | _U = UNCHANGED
    ttl_mode: TTLMode | _U = UNCHANGED
    last_error: str | None | _U = UNCHANGED
    run_count: int | _U = UNCHANGED
    revision: int | _U = UNCHANGED
    previous_status: SessionStatus | None | _U = UNCHANGED
    suspend_reason: str | None | _U = UNCHANGED
    interrupts: list[dict[str, Any]] | _U = UNCHANGED
    lease_owner: str | None | _U = UNCHANGED
    lease_expires_at: datetime | None | _U = UNCHANGED
    lease_epoch: int | _U = UNCHANGED
    graph_identity: str | None | _U = UNCHANGED

    def changes(self) -> dict[str, Any]:
        """The fields this update sets, by name (``SessionInfo`` order)."""
        return {
            name: value
            for name in SESSION_UPDATE_FIELDS
            if (value := getattr(self, name)) is not UNCHANGED
        }


#: the fields of :class:`SessionUpdate`, in order
SESSION_UPDATE_FIELDS: Final = tuple(f.name for f in dataclasses.fields(SessionUpdate))


#: the ticket of a run that holds none: behind every live ticket of another owner
NO_TICKET: Final = 2**62


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueCheck:
    """``begin_run``'s FIFO check across processes: begin only if no live ticket (its
    ``expires_at`` after ``now``) of the session held by another ``owner`` has a lower seq
    than ``position`` (the owner's place in the queue: its lowest live ticket of the
    session; :data:`NO_TICKET` when it holds none: behind every live ticket of another
    owner), and delete ``ticket`` (the run's own, if any) in the same transaction."""

    owner: str
    now: datetime
    position: int = NO_TICKET
    ticket: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunStart:
    """What ``begin_run`` sets on the session row besides status ``running`` and a lease
    epoch one more than before: the new lease and, optionally, a few other fields."""

    lease_owner: str
    lease_expires_at: datetime | None | _U = UNCHANGED
    updated_at: datetime | _U = UNCHANGED
    graph_identity: str | None | _U = UNCHANGED
    #: the session's whole new metadata (a run that marks its session as it begins)
    metadata: dict[str, Any] | _U = UNCHANGED

    def changes(self) -> dict[str, Any]:
        """The row's new values by name (without the lease epoch, which the backend
        increments)."""
        changes: dict[str, Any] = {
            "status": SessionStatus.RUNNING,
            "lease_owner": self.lease_owner,
        }
        for name in ("lease_expires_at", "updated_at", "graph_identity", "metadata"):
            if (value := getattr(self, name)) is not UNCHANGED:
                changes[name] = value
        return changes


@dataclass(frozen=True, slots=True)
class RunBegun:
    """What ``begin_run`` recorded: the session row as it is now, and the run row as
    inserted (the caller's ``RunInfo`` with ``checkpoint_before`` and ``writes_mark``)."""

    session: SessionInfo
    run: RunInfo


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFinish:
    """How a run ended (its row: ``run_status``, ``error``, finished at ``updated_at``) and
    what its end sets on the session row, whose lease it releases.

    With ``slide_ttl``, a sliding session's ``expires_at`` becomes ``updated_at`` plus its
    TTL as it is when the run ends; without it, ``expires_at`` stays as it is."""

    run_status: RunStatus
    error: str | None = None
    updated_at: datetime
    status: SessionStatus | _U = UNCHANGED
    run_count: int | _U = UNCHANGED
    interrupts: list[dict[str, Any]] | _U = UNCHANGED
    last_error: str | None | _U = UNCHANGED
    slide_ttl: bool = False

    def changes(self) -> dict[str, Any]:
        """The row's new values by name, lease released (``expires_at``: see
        ``slide_ttl``)."""
        changes: dict[str, Any] = {
            "updated_at": self.updated_at,
            "lease_owner": None,
            "lease_expires_at": None,
        }
        for name in ("status", "run_count", "interrupts", "last_error"):
            if (value := getattr(self, name)) is not UNCHANGED:
                changes[name] = value
        return changes

    def session_update(self) -> SessionUpdate:
        """:meth:`changes` as a :class:`SessionUpdate` (the same end without a run row)."""
        return SessionUpdate(**self.changes())


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingRun:
    """A run accepted but not begun yet (queued behind another run, or waiting for its
    ``not_before``), kept so that it survives its server: ``payload`` is what a surface
    needs to launch it again (JSON), ``owner`` the session owner it runs for.

    ``claimed_by``/``claimed_until``: the process that holds it (will launch it) and until
    when that claim holds unless renewed (``None``: nobody holds it)."""

    run_id: str
    session_id: str
    owner: str | None
    created_at: datetime
    payload: dict[str, Any]
    not_before: datetime | None = None
    claimed_by: str | None = None
    claimed_until: datetime | None = None


__all__ = [
    "SESSION_UPDATE_FIELDS",
    "PendingRun",
    "UNCHANGED",
    "RunBegun",
    "RunFinish",
    "RunStart",
    "SessionUpdate",
    "Unchanged",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class RestoredEvent:
    """One event of a restored session's log, as it was (its id is the target's)."""

    type: str
    at: datetime
    run_id: str | None = None
    data: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class RestoredMessage:
    """One message of a restored session's transcript, as it was (its id is the target's)."""

    role: str
    content: Any
    created_at: datetime
    data: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionRecord:
    """A session's rows as another storage held them, for :meth:`Backend.restore_session`
    (``graph-sessions import``): the registry row (status, revision, timestamps and TTL as
    given; the lease is cleared on write), its runs (oldest first), its event log and its
    transcript (both in order). Checkpoints are not part of it: they go through the
    backend's checkpointer."""

    info: SessionInfo
    runs: tuple[RunInfo, ...] = ()
    events: tuple[RestoredEvent, ...] = ()
    messages: tuple[RestoredMessage, ...] = ()

    def row(self) -> SessionInfo:
        """The registry row to write: ``info`` with no lease held."""
        return self.info.model_copy(update={"lease_owner": None, "lease_expires_at": None})
