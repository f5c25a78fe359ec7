"""Request and response bodies of the HTTP API (the OpenAPI document is built from these)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator, model_validator

from graph_sessions.core.runs import check_configurable
from graph_sessions.models import InvokeResult, SessionStatus
from graph_sessions.vocabulary import (
    DEFAULT_ORDER,
    DEFAULT_SORT,
    DEFAULT_TTL_MODE,
    Durability,
    MultitaskStrategy,
    OnDisconnect,
    SortField,
    SortOrder,
    TTLMode,
)

Multitask = MultitaskStrategy  # the names the request bodies have always used
DurabilityMode = Durability
StreamMode = Literal["values", "updates", "messages", "custom", "debug", "tasks", "checkpoints"]
SessionId = Field(min_length=1, max_length=256)


_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1


def _check_text(value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            "strings must be valid Unicode: a lone surrogate escape (\\ud800-\\udfff) is not"
        ) from None


def _check_storable(value: Any, depth: int = 0) -> None:
    """Raise ValueError for what JSON can carry but storage cannot: integers outside the
    64-bit range, NaN and infinities, strings with lone surrogates (``"\\ud800"``, which
    UTF-8 cannot encode), nesting deeper than 100 levels."""
    if depth > 100:
        raise ValueError("the body is nested more than 100 levels deep")
    if isinstance(value, bool):
        return
    if isinstance(value, str):
        _check_text(value)
    elif isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            raise ValueError("integers must fit in 64 bits")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("numbers must be finite: JSON has no NaN or Infinity")
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                _check_text(key)
            _check_storable(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_storable(item, depth + 1)


class _Body(BaseModel):
    # strict: JSON true is not the number 1, "5" is not 5 (times and enums are parsed below)
    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        _check_storable(data)
        return data


class RunConfig(_Body):
    """The subset of a LangGraph ``RunnableConfig`` a client may set."""

    configurable: dict[str, Any] | None = Field(
        default=None, description="graph configuration; thread_id is always the session id"
    )
    recursion_limit: int | None = Field(default=None, ge=1, le=10_000)
    tags: list[str] | None = None
    metadata: dict[str, Any] | None = None
    max_concurrency: int | None = Field(default=None, ge=1, le=1_000)

    @field_validator("configurable")
    @classmethod
    def _no_reserved_keys(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        check_configurable({"configurable": value}, "")  # InvalidInput is a ValueError: 422
        return value


class CreateSessionRequest(_Body):
    """``POST /sessions``. Omit ``ttl`` for the server default; ``null`` never expires."""

    session_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        pattern=r"^[^/]+$",
        description="the id (generated when omitted); not '/', '.' or '..', since it "
        "becomes a URL path segment. Ids are global: one another owner holds answers 409",
    )
    graph_id: str | None = Field(default=None, min_length=1)
    metadata: dict[str, Any] | None = None
    task_id: str | None = None
    ttl: float | None = Field(default=None, gt=0, le=10 * 365 * 86400)
    initial_state: dict[str, Any] | None = None
    owner: str | None = Field(
        default=None, min_length=1, description="admins only: create on behalf of this owner"
    )

    @field_validator("session_id")
    @classmethod
    def _addressable(cls, value: str | None) -> str | None:
        if value in (".", ".."):  # clients normalise /sessions/.. away: unreachable
            raise ValueError("a session id cannot be '.' or '..'")
        return value


class UpdateSessionRequest(_Body):
    """``PATCH /sessions/{id}``: metadata (merged unless ``merge`` is false) and/or ``ttl``
    (seconds from now; ``null`` never expires)."""

    metadata: dict[str, Any] | None = None
    merge: bool = True
    ttl: float | None = Field(default=None, gt=0, le=10 * 365 * 86400)


class SearchRequest(_Body):
    """``POST /sessions/search``: every filter of ``manager.list``."""

    status: list[Annotated[SessionStatus, Strict(False)]] | None = None
    owner: str | None = Field(default=None, description="admins only (users see their own)")
    graph_id: str | None = None
    task_id: str | None = None
    id_prefix: str | None = Field(
        default=None, max_length=256, description="sessions whose id starts with this text"
    )
    metadata: dict[str, Any] | None = Field(
        default=None, description="sessions whose metadata contains these pairs"
    )
    created_after: datetime | None = Field(default=None, strict=False)
    created_before: datetime | None = Field(default=None, strict=False)
    updated_after: datetime | None = Field(default=None, strict=False)
    updated_before: datetime | None = Field(default=None, strict=False)
    include_expired: bool = False
    sort: SortField = DEFAULT_SORT
    order: SortOrder = DEFAULT_ORDER
    limit: int = Field(default=50, ge=1, le=1000)
    cursor: str | None = Field(default=None, max_length=2048)

    @field_validator("created_after", "created_before", "updated_after", "updated_before")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        try:  # naive times are UTC; the extremes of the range cannot move to UTC
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except (OverflowError, ValueError):
            raise ValueError("the time is out of range") from None


class InvokeRequest(_Body):
    """``POST /sessions/{id}/invoke``. On an interrupted session, ``resume`` answers the
    interrupt (any JSON value, as LangGraph's ``Command(resume=...)``); an ``input`` answers
    it only when it carries the interrupt's ``resume_key`` (else 409)."""

    input: dict[str, Any] | None = Field(
        default=None, description="graph input; null re-runs what a failed run left pending"
    )
    resume: Any = Field(
        default=None,
        description="the answer to the pending interrupt, any JSON value (not with input)",
    )
    multitask: Multitask | None = Field(
        default=None, description="what to do when the session is busy (server default)"
    )
    config: RunConfig | None = None
    durability: DurabilityMode | None = None
    checkpoint_id: str | None = Field(
        default=None, min_length=1, description="run from this past checkpoint (a fork)"
    )
    graph_id: str | None = Field(
        default=None, min_length=1, description="graph of the session if this call creates it"
    )

    @model_validator(mode="after")
    def _input_or_resume(self) -> InvokeRequest:
        if "resume" in self.model_fields_set:
            if self.input is not None:
                raise ValueError("give input or resume, not both")
            if self.resume is None:
                raise ValueError("resume needs a value (null is not an answer)")
            if self.checkpoint_id is not None:
                raise ValueError("resume answers the pending interrupt: no checkpoint_id")
        return self

    @property
    def has_resume(self) -> bool:
        """Whether the body answers the pending interrupt explicitly."""
        return "resume" in self.model_fields_set


class StreamRequest(InvokeRequest):
    """``POST /sessions/{id}/stream``: an invoke whose LangGraph chunks arrive as SSE."""

    mode: StreamMode | list[StreamMode] = Field(
        default="values", description="LangGraph stream mode(s); each chunk is one SSE event"
    )
    subgraphs: bool = False
    on_disconnect: OnDisconnect | None = Field(
        default=None,
        description="what happens to the run if the client goes away (server default: continue)",
    )


class ResumeRequest(_Body):
    """``POST /sessions/{id}/resume``. With ``value``: answers the pending interrupt. Without
    (on a suspended session): lifts the suspension."""

    value: Any = Field(default=None, description="the answer to the interrupt")
    multitask: Multitask | None = None
    config: RunConfig | None = None
    durability: DurabilityMode | None = None


class SuspendRequest(_Body):
    """``POST /sessions/{id}/suspend``."""

    reason: str | None = Field(default=None, max_length=1000)


class ForkRequest(_Body):
    """``POST /sessions/{id}/fork``: make a copy of this past checkpoint the head."""

    checkpoint_id: str = Field(min_length=1)


class UpdateStateRequest(_Body):
    """``POST /sessions/{id}/state``: write values as if node ``as_node`` returned them."""

    values: dict[str, Any] | None = None
    as_node: str | None = Field(default=None, min_length=1)


class MessageIn(_Body):
    """One message to append to the transcript."""

    role: str = Field(min_length=1, max_length=64)
    content: Any = None
    data: dict[str, Any] = Field(default_factory=dict)


class AppendMessagesRequest(_Body):
    """``POST /sessions/{id}/messages``."""

    messages: list[MessageIn] = Field(min_length=1, max_length=1000)


class SessionOut(BaseModel):
    """A session: who it belongs to and where it stands."""

    session_id: str
    graph_id: str
    owner: str | None = None
    task_id: str | None = None
    status: SessionStatus
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None = None
    ttl: float | None = None
    ttl_mode: TTLMode = DEFAULT_TTL_MODE
    last_error: str | None = None
    run_count: int = 0
    revision: int = 0
    previous_status: SessionStatus | None = None
    suspend_reason: str | None = None
    interrupts: list[dict[str, Any]] = Field(default_factory=list)


class SessionPageOut(BaseModel):
    """One page of sessions; pass ``next_cursor`` back as ``cursor`` for the next."""

    sessions: list[SessionOut]
    next_cursor: str | None = None


class ResumeOut(BaseModel):
    """What ``/resume`` did: answered an interrupt (``result`` set) or lifted a suspension."""

    resumed: Literal["interrupt", "suspension"]
    session: SessionOut
    result: InvokeResult | None = None


class StateOut(BaseModel):
    """The session's state at its head (or at ``checkpoint_id``)."""

    session_id: str
    values: dict[str, Any]
    next: list[str] = Field(default_factory=list)
    checkpoint_id: str | None = None
    created_at: datetime | None = None
    interrupts: list[dict[str, Any]] = Field(default_factory=list)


class StatsOut(BaseModel):
    """Totals over the sessions the caller can see (``scope``: all for admins, else owner)."""

    scope: Literal["all", "owner"]
    total: int
    by_status: dict[str, int]
    expired: int
    oldest_created_at: datetime | None = None
    newest_created_at: datetime | None = None
    runs_total: int | None = Field(default=None, description="all scope only")


class SweepOut(BaseModel):
    """What one sweep did."""

    deleted: int
    archived: int
    skipped_running: int
    batches: int
    expired: int


class ClearedOut(BaseModel):
    """How many messages were deleted."""

    deleted: int


class HealthOut(BaseModel):
    """Liveness / readiness."""

    status: Literal["ok", "unavailable"]
    storage: bool | None = None
    detail: str | None = None


class GraphsOut(BaseModel):
    """The graph ids this server serves, the default first."""

    graphs: list[str]
    default: str


class GraphNodeOut(BaseModel):
    """A node of a graph's drawing (``__start__`` and ``__end__`` included)."""

    id: str
    name: str


class GraphEdgeOut(BaseModel):
    """An edge of a graph's drawing; ``conditional`` when a routing function picks it."""

    source: str
    target: str
    conditional: bool = False


class GraphOut(BaseModel):
    """A served graph's nodes and edges (``graph.get_graph()`` of the compiled graph)."""

    graph_id: str
    nodes: list[GraphNodeOut]
    edges: list[GraphEdgeOut]
