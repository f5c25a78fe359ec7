"""The GraphQL object types, and how core models become them. A ``Session`` resolves its
state, history, events, runs and messages through its ``GraphSession``, lazily: a field
not asked for is not read."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from graph_sessions.core.session import GraphSession
from graph_sessions.errors import InvalidInput
from graph_sessions.models import (
    CheckpointInfo,
    Event,
    InvokeResult,
    Message,
    RunInfo,
    SessionInfo,
    SessionStatus,
)

#: the largest page any list field answers (``first``, ``last`` are capped to it)
MAX_PAGE = 100

SessionStatusEnum = strawberry.enum(SessionStatus, name="SessionStatus")


def js(value: Any) -> JSON:
    """``value`` as the ``JSON`` scalar (encoded by the router's JSON encoder)."""
    return JSON(value)


def page_size(first: int | None, default: int) -> int:
    """``first`` within 1..MAX_PAGE (``INVALID_INPUT`` below 1)."""
    if first is None:
        return default
    if first < 1:
        raise InvalidInput(f"first must be at least 1, not {first}")
    return min(first, MAX_PAGE)


@strawberry.type(description="One checkpoint of a session's history (newest first).")
class Checkpoint:
    checkpoint_id: str
    parent_checkpoint_id: str | None
    created_at: datetime | None
    step: int | None
    source: str | None
    next: list[str]
    interrupts: list[JSON]
    metadata: JSON
    values: JSON

    @staticmethod
    def of(c: CheckpointInfo) -> Checkpoint:
        """The GraphQL view of a checkpoint."""
        return Checkpoint(
            checkpoint_id=c.checkpoint_id,
            parent_checkpoint_id=c.parent_checkpoint_id,
            created_at=c.created_at,
            step=c.step,
            source=c.source,
            next=list(c.next),
            interrupts=[js(x) for x in c.interrupts],
            metadata=js(c.metadata),
            values=js(c.values),
        )


@strawberry.type(description="One entry of a session's execution log.")
class SessionEvent:
    id: int
    session_id: str
    type: str
    at: datetime
    run_id: str | None
    data: JSON

    @staticmethod
    def of(e: Event) -> SessionEvent:
        """The GraphQL view of an event."""
        return SessionEvent(
            id=e.id,
            session_id=e.session_id,
            type=str(e.type),
            at=e.at,
            run_id=e.run_id,
            data=js(e.data),
        )


@strawberry.type(description="One run of the graph in a session.")
class Run:
    run_id: str
    session_id: str
    status: str
    kind: str
    multitask: str
    started_at: datetime
    finished_at: datetime | None
    error: str | None
    checkpoint_before: str | None
    checkpoint_after: str | None

    @staticmethod
    def of(r: RunInfo) -> Run:
        """The GraphQL view of a run."""
        return Run(
            run_id=r.run_id,
            session_id=r.session_id,
            status=str(r.status),
            kind=r.kind,
            multitask=r.multitask,
            started_at=r.started_at,
            finished_at=r.finished_at,
            error=r.error,
            checkpoint_before=r.checkpoint_before,
            checkpoint_after=r.checkpoint_after,
        )


@strawberry.type(description="One message of a session's transcript.")
class TranscriptMessage:
    id: int
    role: str
    content: JSON
    data: JSON
    created_at: datetime

    @staticmethod
    def of(m: Message) -> TranscriptMessage:
        """The GraphQL view of a message."""
        return TranscriptMessage(
            id=m.id, role=m.role, content=js(m.content), data=js(m.data), created_at=m.created_at
        )


@strawberry.type(description="A session: who it belongs to, where it stands, what it holds.")
class Session:
    id: strawberry.ID
    graph_id: str
    owner: str | None
    task_id: str | None
    status: SessionStatusEnum  # type: ignore[valid-type]
    previous_status: SessionStatusEnum | None  # type: ignore[valid-type]
    metadata: JSON
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    ttl: float | None
    ttl_mode: str
    last_error: str | None
    run_count: int
    revision: int
    suspend_reason: str | None
    pending_interrupts: list[JSON]
    handle: strawberry.Private[GraphSession]

    @staticmethod
    def of(session: GraphSession) -> Session:
        """The GraphQL view of a live session."""
        i: SessionInfo = session.info
        return Session(
            id=strawberry.ID(i.session_id),
            graph_id=i.graph_id,
            owner=i.owner,
            task_id=i.task_id,
            status=i.status,
            previous_status=i.previous_status,
            metadata=js(i.metadata),
            created_at=i.created_at,
            updated_at=i.updated_at,
            expires_at=i.expires_at,
            ttl=i.ttl,
            ttl_mode=str(i.ttl_mode),
            last_error=i.last_error,
            run_count=i.run_count,
            revision=i.revision,
            suspend_reason=i.suspend_reason,
            pending_interrupts=[js(x) for x in i.interrupts],
            handle=session,
        )

    @strawberry.field(description="The state values at the head, or at checkpointId.")
    async def state(self, checkpoint_id: str | None = None) -> JSON:
        snap = await self.handle.snapshot(checkpoint_id)
        if snap is None:
            return js(await self.handle.get_state())
        return js(snap.values)

    @strawberry.field(description="The nodes that run next (empty when the graph ended).")
    async def next(self) -> list[str]:
        snap = await self.handle.snapshot()
        return list(snap.next) if snap is not None else []

    @strawberry.field(description="History, newest first; pass the last id as before.")
    async def checkpoints(
        self, first: int | None = None, before: str | None = None
    ) -> list[Checkpoint]:
        items = await self.handle.checkpoints(limit=page_size(first, 20), before=before)
        return [Checkpoint.of(c) for c in items]

    @strawberry.field(description="The execution log, oldest first, after event id after.")
    async def events(
        self, after: int | None = None, first: int | None = None
    ) -> list[SessionEvent]:
        items = await self.handle.events(after=after, limit=page_size(first, MAX_PAGE))
        return [SessionEvent.of(e) for e in items]

    @strawberry.field(description="The session's runs, newest first.")
    async def runs(self, first: int | None = None) -> list[Run]:
        return [Run.of(r) for r in await self.handle.runs(limit=page_size(first, 50))]

    @strawberry.field(description="The last messages of the transcript, oldest first.")
    async def messages(
        self, last: int | None = None, before: int | None = None
    ) -> list[TranscriptMessage]:
        items = await self.handle.messages.load(limit=page_size(last, MAX_PAGE), before=before)
        return [TranscriptMessage.of(m) for m in items]


@strawberry.type
class SessionEdge:
    node: Session
    cursor: str


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type(description="A page of sessions (Relay-style).")
class SessionConnection:
    edges: list[SessionEdge]
    page_info: PageInfo
    counter: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(
        description="How many sessions the filter matches in all (counted only when asked)."
    )
    async def total_count(self) -> int:
        return await self.counter()


@strawberry.input(description="Every filter of manager.list.")
class SessionFilter:
    status: list[SessionStatusEnum] | None = None  # type: ignore[valid-type]
    owner: str | None = strawberry.field(default=None, description="admins: any; users: their own")
    graph_id: str | None = None
    task_id: str | None = None
    id_prefix: str | None = strawberry.field(
        default=None, description="sessions whose id starts with this text"
    )
    metadata: JSON | None = strawberry.field(
        default=None, description="pairs the metadata contains"
    )
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    include_expired: bool = False
    sort: str = strawberry.field(
        default="created_at", description="created_at, updated_at or expires_at"
    )
    order: str = strawberry.field(default="desc", description="asc or desc")


@strawberry.type(description="What a run ended with (the REST InvokeResult).")
class InvokeOutcome:
    status: str
    output: JSON | None
    state: JSON
    interrupts: list[JSON]
    resume_key: str | None
    run_id: str | None
    checkpoint_id: str | None
    session_id: str | None

    @staticmethod
    def of(r: InvokeResult) -> InvokeOutcome:
        """The GraphQL view of a run's result."""
        return InvokeOutcome(
            status=r.status,
            output=js(r.output),
            state=js(r.state),
            interrupts=[js(x) for x in r.interrupts],
            resume_key=r.resume_key,
            run_id=r.run_id,
            checkpoint_id=r.checkpoint_id,
            session_id=r.session_id,
        )


@strawberry.type(description="Totals by status over the sessions the caller can see.")
class Stats:
    scope: str
    total: int
    by_status: JSON
    expired: int


@strawberry.type(description="The graphs sessions can be created for.")
class Graphs:
    graphs: list[str]
    default: str


@strawberry.type(description="A session whose status changed (sessionChanges).")
class SessionChange:
    session: Session
    previous_status: SessionStatusEnum | None  # type: ignore[valid-type]
    removed: bool


@strawberry.type(
    description="One chunk of a streamed run: event is its stream mode, then one "
    "final event result (data: the InvokeResult)."
)
class RunChunk:
    seq: int
    event: str
    data: JSON | None
