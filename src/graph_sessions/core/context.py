"""The core context: what sessions, runs, the sweeper and lease repair share.

The manager builds one :class:`CoreContext` and hands it to its parts; none of them holds
the manager. It carries storage, the clock, the options, the served graphs, the
per-session gates and this manager's lease owner, and whether it is open.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from langgraph.pregel import Pregel

from graph_sessions.clock import Clock, to_utc, utcnow
from graph_sessions.core.gates import Gates
from graph_sessions.core.graph_registry import GraphRegistry
from graph_sessions.core.leases import new_lease_owner
from graph_sessions.core.queue_tickets import QueueTickets
from graph_sessions.errors import ManagerClosed, SessionExpired, SessionNotFound
from graph_sessions.models import SessionInfo, SessionStatus
from graph_sessions.storage.backend import Backend
from graph_sessions.vocabulary import (
    DEFAULT_DURABILITY,
    DEFAULT_EXPIRY,
    DEFAULT_MULTITASK,
    DEFAULT_TTL_MODE,
    Durability,
    ExpiryStrategy,
    MultitaskStrategy,
    TTLMode,
)


@dataclass
class CoreOptions:
    """The manager's options the core reads (validated by the manager; see DESIGN.md)."""

    ttl: float | None = None
    ttl_mode: TTLMode = DEFAULT_TTL_MODE
    on_expire: ExpiryStrategy = DEFAULT_EXPIRY
    sweep_interval: float | None = 60.0
    sweep_batch: int = 100
    checkpoint_retention: int | None = None
    multitask: MultitaskStrategy = DEFAULT_MULTITASK
    durability: Durability = DEFAULT_DURABILITY
    resume_key: str | None = None
    output_key: str | None = None
    recursion_limit: int | None = None
    lease_ttl: float = 15.0
    wait_timeout: float | None = 120.0

    @property
    def lease_delta(self) -> timedelta:
        """``lease_ttl`` as a timedelta."""
        return timedelta(seconds=self.lease_ttl)


@dataclass(eq=False)
class CoreContext:
    """Storage, clock, options, graphs, gates and lease owner of one manager.

    ``lease_owner`` identifies this manager's runs in the registry (``host:pid:instance``);
    ``is_open`` holds between the manager's open and close; ``closing`` makes runs still
    queued refuse to start."""

    backend: Backend
    options: CoreOptions
    graphs: GraphRegistry
    clock: Clock = utcnow
    gates: Gates = field(default_factory=Gates)
    lease_owner: str = field(default_factory=new_lease_owner)
    is_open: bool = False
    closing: bool = False
    #: this manager's queue tickets (``enqueue`` order across processes)
    tickets: QueueTickets = field(init=False)

    def __post_init__(self) -> None:
        self.tickets = QueueTickets(
            self.backend, self.lease_owner, lambda: self.options.lease_delta
        )

    def now(self) -> datetime:
        """The manager's clock (timezone-aware UTC)."""
        return to_utc(self.clock())

    def require_open(self) -> None:
        """``ManagerClosed`` unless the manager is open."""
        if not self.is_open:
            raise ManagerClosed(
                "the manager is not open: use 'async with manager:' or 'await manager.open()'"
            )

    def graph_for(self, graph_id: str | None, *, session_id: str | None = None) -> Pregel:
        """The bound graph with this id (the default for ``None``)."""
        self.require_open()
        return self.graphs.get(graph_id, session_id=session_id)

    def graph_identity(self, graph_id: str | None = None) -> str:
        """The stable identity of a served graph (the default for ``None``)."""
        self.graph_for(graph_id)
        identity = self.graphs.identity(graph_id)
        assert identity is not None  # every bound graph has one
        return identity

    async def load_info(self, session_id: str) -> SessionInfo:
        """The registry row; raises ``SessionNotFound`` or ``SessionExpired``."""
        self.require_open()
        info = await self.backend.get_session(session_id)
        if info is None:
            raise SessionNotFound(f"session {session_id!r} does not exist", session_id=session_id)
        if info.is_expired(self.now()) and info.status != SessionStatus.RUNNING:
            raise SessionExpired(f"session {session_id!r} has expired", session_id=session_id)
        return info
