"""``GraphSessionManager``: the façade over the core. It opens storage and binds the
graphs, hands out sessions, lists, deletes and expires them; the work itself is done by
the core's modules on a shared :class:`~graph_sessions.core.context.CoreContext`
(:mod:`~graph_sessions.core.sessions`, :mod:`~graph_sessions.core.listing`,
:mod:`~graph_sessions.core.repair`, :mod:`~graph_sessions.core.runs`,
:mod:`~graph_sessions.core.sweeper`)."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar, overload

from langgraph.pregel import Pregel
from typing_extensions import Unpack

from graph_sessions.clock import Clock, to_utc, utcnow
from graph_sessions.config import ProjectConfig, load_config
from graph_sessions.core import listing, repair
from graph_sessions.core import sessions as registry
from graph_sessions.core.assistants import Assistants
from graph_sessions.core.cancel_watch import CancelWatch, request_cancel_elsewhere, running_run_id
from graph_sessions.core.context import CoreContext, CoreOptions
from graph_sessions.core.graph_registry import GraphRegistry
from graph_sessions.core.lease_watch import LeaseWatch
from graph_sessions.core.leases import mark_dead, mark_live
from graph_sessions.core.listing import SessionFilters
from graph_sessions.core.session import GraphSession
from graph_sessions.core.sweeper import Sweeper, SweepReport
from graph_sessions.crypto import ENCRYPTION_KEY_VARIABLE, KeyRing, parse_keys
from graph_sessions.errors import InvalidInput
from graph_sessions.graphs.references import GraphSource
from graph_sessions.models import (
    EventType,
    SessionInfo,
    SessionPage,
    SessionStats,
    SessionStatus,
)
from graph_sessions.storage.backend import Backend, NewEvent
from graph_sessions.storage.encrypted import with_encryption
from graph_sessions.storage.encryption import check_encryption_marker
from graph_sessions.storage.urls import backend_from_url
from graph_sessions.vocabulary import (
    DEFAULT_DURABILITY,
    DEFAULT_EXPIRY,
    DEFAULT_MULTITASK,
    DEFAULT_ORDER,
    DEFAULT_SORT,
    DEFAULT_TTL_MODE,
    DURABILITIES,
    EXPIRY_STRATEGIES,
    MULTITASK_STRATEGIES,
    TTL_MODES,
    Durability,
    ExpiryStrategy,
    MultitaskStrategy,
    SortField,
    SortOrder,
    TTLMode,
    choice_error,
)

__all__ = ["GraphSessionManager", "SessionFilters"]

log = logging.getLogger("graph_sessions")

_DEFAULT: Any = registry.DEFAULT_TTL
T = TypeVar("T")


class _Option(Generic[T]):
    """A manager attribute that reads and writes the context's option of the same name."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> _Option[T]: ...
    @overload
    def __get__(self, obj: GraphSessionManager, objtype: type | None = None) -> T: ...
    def __get__(self, obj: GraphSessionManager | None, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        return getattr(obj.context.options, self.name)

    def __set__(self, obj: GraphSessionManager, value: T) -> None:
        setattr(obj.context.options, self.name, value)


def _backend_from_checkpointer_config(config: dict[str, Any]) -> tuple[str, float | None]:
    """The seed's ``checkpointer_config={"type", "path"|"url", "ttl"}`` spelling."""
    if not isinstance(config, dict):
        raise InvalidInput(
            "checkpointer_config must be a dict like {'type': 'sqlite', 'path': 'sessions.db'}"
        )
    kind = str(config.get("type", "sqlite")).lower()
    ttl = config.get("ttl")
    if kind == "memory":
        return "memory://", ttl
    if kind == "sqlite":
        path = config.get("path") or config.get("url") or "sessions.db"
        return (path if "://" in str(path) else f"sqlite:///{path}"), ttl
    if kind in ("redis", "postgres", "postgresql"):
        url = config.get("url")
        if not url:
            raise InvalidInput(f"checkpointer_config of type {kind!r} needs a 'url'")
        return str(url), ttl
    raise InvalidInput(
        f"unknown checkpointer_config type {kind!r}; use 'sqlite', 'postgres' or 'memory'"
    )


class GraphSessionManager:
    """Durable sessions of one graph (or several, by graph id) over one storage backend.

    ``graph`` is a compiled graph, a ``StateGraph`` builder, ``"file.py:attr"``,
    ``"package.module:attr"``, ``"graph.yaml"`` or a zero-argument factory; or a mapping of
    graph ids to those, in which case sessions are created for ``graph_id`` (the first id
    unless given) or the ``graph_id=`` passed to :meth:`create`. ``backend`` is a URL
    (``sqlite:///sessions.db`` by default, ``memory://``) or a ``Backend``. Use it as
    ``async with manager:``; see DESIGN.md for every option.
    """

    ttl = _Option[float | None]()
    ttl_mode = _Option[TTLMode]()
    on_expire = _Option[ExpiryStrategy]()
    sweep_interval = _Option[float | None]()
    sweep_batch = _Option[int]()
    checkpoint_retention = _Option[int | None]()
    multitask = _Option[MultitaskStrategy]()
    durability = _Option[Durability]()
    resume_key = _Option[str | None]()
    output_key = _Option[str | None]()
    recursion_limit = _Option[int | None]()
    lease_ttl = _Option[float]()
    wait_timeout = _Option[float | None]()

    def __init__(
        self,
        graph: GraphSource | Mapping[str, GraphSource] = None,
        backend: str | Path | Backend | None = None,
        *,
        graph_path: str | Path | None = None,
        checkpointer_config: dict[str, Any] | None = None,
        output_key: str | None = None,
        ttl: float | None = None,
        ttl_mode: TTLMode = DEFAULT_TTL_MODE,
        on_expire: ExpiryStrategy = DEFAULT_EXPIRY,
        sweep_interval: float | None = 60.0,
        sweep_batch: int = 100,
        checkpoint_retention: int | None = None,
        multitask: MultitaskStrategy = DEFAULT_MULTITASK,
        durability: Durability = DEFAULT_DURABILITY,
        resume_key: str | None = None,
        recursion_limit: int | None = None,
        graph_id: str | None = None,
        clock: Clock | None = None,
        session_class: type[GraphSession] = GraphSession,
        shutdown_timeout: float = 30.0,
        lease_ttl: float = 15.0,
        wait_timeout: float | None = 120.0,
        encryption_key: str | bytes | KeyRing | None = None,
        indexable_metadata: Sequence[str] = (),
    ) -> None:
        if graph is not None and graph_path is not None:
            raise InvalidInput("pass graph= or graph_path=, not both")
        source = graph if graph is not None else graph_path
        if checkpointer_config is not None:
            if backend is not None:
                raise InvalidInput("pass backend= or checkpointer_config=, not both")
            backend, config_ttl = _backend_from_checkpointer_config(checkpointer_config)
            if ttl is None and config_ttl is not None:
                ttl = config_ttl
        for problem in (
            choice_error("multitask", multitask, MULTITASK_STRATEGIES),
            choice_error("durability", durability, DURABILITIES),
            choice_error("ttl_mode", ttl_mode, TTL_MODES),
            choice_error("on_expire", on_expire, EXPIRY_STRATEGIES),
        ):
            if problem is not None:
                raise InvalidInput(problem)
        if checkpoint_retention is not None and checkpoint_retention < 1:
            raise InvalidInput("checkpoint_retention must be >= 1 or None")
        if sweep_batch < 1:
            raise InvalidInput("sweep_batch must be >= 1")
        if not isinstance(lease_ttl, int | float) or lease_ttl <= 0:
            raise InvalidInput(f"lease_ttl must be a positive number of seconds, not {lease_ttl!r}")
        if wait_timeout is not None and (
            not isinstance(wait_timeout, int | float) or wait_timeout <= 0
        ):
            raise InvalidInput(
                f"wait_timeout must be a positive number of seconds or None, not {wait_timeout!r}"
            )
        graphs = GraphRegistry(source, graph_id)  # None: list, inspect, delete, sweep; no runs
        options = CoreOptions(
            ttl=registry.check_ttl(ttl, None),
            ttl_mode=ttl_mode,
            on_expire=on_expire,
            sweep_interval=sweep_interval,
            sweep_batch=sweep_batch,
            checkpoint_retention=checkpoint_retention,
            multitask=multitask,
            durability=durability,
            resume_key=resume_key,
            output_key=output_key,
            recursion_limit=recursion_limit,
            lease_ttl=float(lease_ttl),
            wait_timeout=wait_timeout,
        )
        if encryption_key is None:
            encryption_key = os.environ.get(ENCRYPTION_KEY_VARIABLE) or None
        storage = with_encryption(
            backend_from_url(backend), parse_keys(encryption_key), indexable_metadata
        )
        #: what sessions, runs, the sweeper and lease repair work with
        self.context = CoreContext(storage, options, graphs, clock or utcnow)
        self.session_class = session_class
        self.shutdown_timeout = shutdown_timeout
        self._sweeper = Sweeper(self.context)
        self._lease_watch = LeaseWatch(self.context)
        self._cancel_watch = CancelWatch(self.context)
        #: the assistants (a served graph with its own config, versioned) of this storage
        self.assistants = Assistants(self.context)
        #: ids of the sessions repaired when this manager opened
        self.repaired: list[str] = []
        self._opened_once = False
        self._first_open: asyncio.Lock | None = None

    @classmethod
    def from_config(
        cls, path: str | Path | ProjectConfig | None = None, **overrides: Any
    ) -> GraphSessionManager:
        """A manager configured by a ``langgraph.json`` file (``None``: ``$GRAPH_SESSIONS_CONFIG``
        or ``./langgraph.json``; none: defaults), environment overrides (``GRAPH_SESSIONS_*``)
        applied, then ``overrides`` (keyword arguments of this class) on top."""
        config = path if isinstance(path, ProjectConfig) else load_config(path)
        return cls(**config.manager_kwargs(**overrides))

    # configuration -------------------------------------------------------------------
    @property
    def backend(self) -> Backend:
        """The storage backend."""
        return self.context.backend

    @property
    def graph_id(self) -> str:
        """The default graph's id."""
        return self.context.graphs.default_id

    @property
    def lease_delta(self) -> timedelta:
        """``lease_ttl`` as a timedelta."""
        return self.context.options.lease_delta

    @property
    def closing(self) -> bool:
        """True while the manager closes (runs still queued refuse to start)."""
        return self.context.closing

    def now(self) -> datetime:
        """The manager's clock (timezone-aware UTC)."""
        return self.context.now()

    # graphs --------------------------------------------------------------------------
    @property
    def graph(self) -> Pregel:
        """The default graph (``graph_id``), bound to this manager's checkpointer and store."""
        return self.graph_for(None)

    @property
    def graph_ids(self) -> list[str]:
        """The ids of the graphs this manager serves, the default first."""
        return self.context.graphs.ids

    def graph_for(self, graph_id: str | None, *, session_id: str | None = None) -> Pregel:
        """The bound graph with this id (the default for ``None``); ``InvalidInput`` when this
        manager does not serve it."""
        return self.context.graph_for(graph_id, session_id=session_id)

    def graph_identity(self, graph_id: str | None = None) -> str:
        """The stable identity of a served graph (the default for ``None``), as stored with
        its sessions: ``"<fingerprint> <label>"``, the fingerprint a hash of its node names
        and state keys (see docs/lifecycle.md)."""
        return self.context.graph_identity(graph_id)

    def has_static_breakpoints(self, graph_id: str) -> bool:
        """True when that graph was compiled with ``interrupt_before``/``interrupt_after``."""
        return self.context.graphs.has_static_breakpoints(graph_id)

    # lifecycle -----------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        """True between :meth:`open` and :meth:`close`."""
        return self.context.is_open

    async def open(self) -> GraphSessionManager:
        """Open storage, bind the graph, repair sessions a dead process left running, start
        the sweeper. A manager never opened also opens at its first session call."""
        ctx = self.context
        if ctx.is_open:
            return self
        await ctx.backend.open()
        try:
            await check_encryption_marker(ctx.backend, ctx.backend.encryption)
            ctx.graphs.bind(ctx.backend.checkpointer, ctx.backend.store)
        except Exception:
            await ctx.backend.close()
            raise
        ctx.is_open = True
        ctx.closing = False
        self._opened_once = True
        mark_live(ctx.lease_owner)
        self.repaired.extend(await repair.repair_stale(ctx))
        if self.repaired:
            log.warning(
                "repaired %d session(s) left running by a process that died: %s",
                len(self.repaired),
                self.repaired,
            )
        self._sweeper.start()
        if ctx.options.sweep_interval:  # background work on: repair lapsed leases too
            self._lease_watch.start()
        self._cancel_watch.start()  # cancels asked by other processes reach our runs
        return self

    async def close(self) -> None:
        """Let running runs finish (up to ``shutdown_timeout``), cancel the rest, stop the
        sweeper and close storage. Nothing is left ``running``."""
        ctx = self.context
        if not ctx.is_open:
            return
        ctx.closing = True  # runs still queued for a session now refuse to start
        await self._sweeper.stop()
        await self._lease_watch.stop()
        await ctx.gates.drain(self.shutdown_timeout)
        await self._cancel_watch.stop()
        await ctx.tickets.stop()
        mark_dead(ctx.lease_owner)
        ctx.is_open = False
        ctx.graphs.unbind()
        await ctx.backend.close()

    async def cleanup(self) -> None:
        """The seed's name for :meth:`close`."""
        await self.close()

    async def _ensure_open(self) -> None:
        # The founding document's spelling: a manager made at start-up is used at once
        # (`await manager.get_or_create(...)`) with no `open()`. A manager that was never
        # opened opens at its first call; one that was closed stays closed (ManagerClosed).
        if self._opened_once:
            return
        if self._first_open is None:
            self._first_open = asyncio.Lock()
        async with self._first_open:
            if not self._opened_once:
                await self.open()

    async def __aenter__(self) -> GraphSessionManager:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # repair --------------------------------------------------------------------------
    async def repair_stale(self) -> list[str]:
        """Repair the running sessions of this manager's graphs whose lease lapsed (holder
        killed, paused or gone with its host); sessions of other graphs are left for a
        manager that serves them. Returns the ids repaired."""
        await self._ensure_open()
        return await repair.repair_stale(self.context)

    async def repair_if_stale(self, info: SessionInfo) -> bool:
        """If ``info`` is ``running`` but its lease no longer holds (expired unrenewed, or its
        process is gone), set its status from its latest checkpoint (interrupted / completed
        / failed with the reason) and close its run."""
        await self._ensure_open()
        return await repair.repair_if_stale(self.context, info)

    # sessions ------------------------------------------------------------------------
    def session(self, info: SessionInfo) -> GraphSession:
        """A session object (of ``session_class``) for a registry row."""
        return self.session_class(self, info)

    async def load_info(self, session_id: str) -> SessionInfo:
        """The registry row; raises ``SessionNotFound`` or ``SessionExpired``."""
        await self._ensure_open()
        return await self.context.load_info(session_id)

    async def create(
        self,
        session_id: str | None = None,
        *,
        owner: str | None = None,
        metadata: dict[str, Any] | None = None,
        task_id: str | None = None,
        ttl: float | None = _DEFAULT,
        initial_state: dict[str, Any] | None = None,
        graph_id: str | None = None,
    ) -> GraphSession:
        """Register a new session (id generated when not given); ``SessionExists`` if taken.
        ``initial_state`` is written into the graph state before the first run; ``graph_id``
        picks one of the manager's graphs (the default when not given)."""
        await self._ensure_open()
        info = await registry.create(
            self.context,
            session_id,
            owner=owner,
            metadata=metadata,
            task_id=task_id,
            ttl=ttl,
            initial_state=initial_state,
            graph_id=graph_id,
        )
        return self.session(info)

    async def copy(
        self, session_id: str, *, new_id: str | None = None, owner: str | None = None
    ) -> GraphSession:
        """A copy of the session under a new id (generated unless ``new_id``): same graph,
        owner, metadata, TTL and status, every checkpoint copied; its runs, events and
        messages are not. ``SessionNotFound`` when ``owner`` may not see the session."""
        await self._ensure_open()
        return self.session(
            await registry.copy(self.context, session_id, new_id=new_id, owner=owner)
        )

    async def get(self, session_id: str, *, owner: str | None = None) -> GraphSession | None:
        """The session, or ``None`` when it does not exist, has expired, or is another owner's."""
        await self._ensure_open()
        info = await registry.get(self.context, session_id, owner)
        return self.session(info) if info is not None else None

    async def get_or_create(
        self,
        session_id: str | None = None,
        *,
        thread_id: str | None = None,
        owner: str | None = None,
        metadata: dict[str, Any] | None = None,
        task_id: str | None = None,
        ttl: float | None = _DEFAULT,
        initial_state: dict[str, Any] | None = None,
        graph_id: str | None = None,
    ) -> GraphSession:
        """The existing session (its state, status and pending interrupt as left), or a new one.

        An expired session reads as gone: a new one is created in its place, except with
        ``on_expire="keep_latest"`` where the archived session is revived with its latest state.
        Another owner's session id raises ``SessionNotFound``.
        """
        await self._ensure_open()
        info = await registry.get_or_create(
            self.context,
            session_id,
            thread_id=thread_id,
            owner=owner,
            metadata=metadata,
            task_id=task_id,
            ttl=ttl,
            initial_state=initial_state,
            graph_id=graph_id,
        )
        return self.session(info)

    async def info(self, session_id: str, *, owner: str | None = None) -> SessionInfo:
        """The registry row of a live session (raises ``SessionNotFound``/``SessionExpired``)."""
        await self._ensure_open()
        return await registry.owned_info(self.context, session_id, owner)

    async def delete(self, session_id: str, *, owner: str | None = None) -> bool:
        """Delete everything of the session (registry, checkpoints, writes, runs, events,
        messages). A run in progress in this process is cancelled first. False if absent."""
        await self._ensure_open()
        return await registry.delete(self.context, session_id, owner)

    async def update_metadata(
        self,
        session_id: str,
        metadata: dict[str, Any],
        *,
        merge: bool = True,
        owner: str | None = None,
    ) -> SessionInfo:
        """Merge (or replace) the session's metadata."""
        await self._ensure_open()
        return await registry.update_metadata(
            self.context, session_id, metadata, merge=merge, owner=owner
        )

    async def set_ttl(
        self, session_id: str, ttl: float | None, *, owner: str | None = None
    ) -> SessionInfo:
        """Give the session a new lifetime: ``ttl`` seconds from now (``None``: it never
        expires). Later activity slides it as the session's ``ttl_mode`` says."""
        await self._ensure_open()
        return await registry.set_ttl(self.context, session_id, ttl, owner=owner)

    async def rebind(
        self, session_id: str, *, graph_id: str | None = None, owner: str | None = None
    ) -> SessionInfo:
        """Bind the session to this manager's graph (``graph_id``, the default when not
        given): its next runs use it even though it belonged to another graph. The state is
        kept as it is; keys the new graph does not know stay in it."""
        await self._ensure_open()
        return await registry.rebind(self.context, session_id, graph_id=graph_id, owner=owner)

    async def cancel_run(
        self, session_id: str, run_id: str, *, rollback: bool = False, wait: bool = False
    ) -> bool:
        """Cancel run ``run_id`` of the session while it executes, in this process or in
        another one on the same storage (a replica: asked through the backend, see
        ``core/cancel_watch.py``): its finished steps stay (``rollback=True``: the state
        goes back to where the run began). Its run row ends ``cancelled``. ``wait``: return
        once its end is recorded. False when that run is not executing."""
        await self._ensure_open()
        active = self.context.gates.active_run(session_id)
        if active is None or active.run_id != run_id:
            action = "cancel-rollback" if rollback else "cancel"
            if not await request_cancel_elsewhere(self.context, session_id, action, run_id):
                return False
            while wait and await running_run_id(self.context, session_id) == run_id:
                await asyncio.sleep(0.05)
            return True
        active.cancel("rollback" if rollback else "cancelled by request")
        if wait:
            await active.finished.wait()
        return True

    async def record_event(
        self,
        session_id: str,
        kind: EventType,
        *,
        run_id: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> bool:
        """Append one entry to the session's event log, now, leaving its registry row as
        it is (no revision bump, so it never races a run's updates): for what happens
        beside a run, such as its webhook's delivery. False when the session is gone."""
        await self._ensure_open()
        event = NewEvent(kind, run_id=run_id, data=dict(data or {}))
        return await self.context.backend.append_events(session_id, [event], self.context.now())

    def is_busy(self, session_id: str) -> bool:
        """True while a run (or a state change) holds the session in this process."""
        return self.context.gates.busy(session_id)

    async def ping(self) -> bool:
        """True when the manager is open and its storage answers (for readiness probes)."""
        if not self.context.is_open or self.context.closing:
            return False
        try:
            return bool(await self.backend.ping())
        except Exception:
            return False

    async def unready_reason(self) -> str | None:
        """``None`` when the manager is open and its storage answers and takes writes;
        otherwise why not (for readiness probes)."""
        if not await self.ping():
            if self.context.is_open and not self.context.closing:
                return "storage does not answer"
            return "closed"
        try:
            problem = await self.backend.write_problem()
        except Exception as exc:
            problem = str(exc) or type(exc).__name__
        return f"storage cannot be written: {problem}" if problem else None

    # listing -------------------------------------------------------------------------
    async def list(
        self,
        status: SessionStatus | str | Sequence[SessionStatus | str] | None = None,
        *,
        sort: SortField = DEFAULT_SORT,
        order: SortOrder = DEFAULT_ORDER,
        limit: int = 50,
        cursor: str | None = None,
        **filters: Unpack[SessionFilters],
    ) -> SessionPage:
        """One page of sessions matching ``status`` and every filter given (see
        :class:`SessionFilters`); ``metadata`` matches sessions whose metadata contains
        those key/value pairs. Pass ``next_cursor`` back for the next page."""
        await self._ensure_open()
        return await listing.list_page(
            self.context, status, filters, sort=sort, order=order, limit=limit, cursor=cursor
        )

    async def count(
        self,
        status: SessionStatus | str | Sequence[SessionStatus | str] | None = None,
        **filters: Unpack[SessionFilters],
    ) -> int:
        """How many sessions match (the filters of :meth:`list`)."""
        await self._ensure_open()
        return await listing.count(self.context, status, filters)

    async def stats(self) -> SessionStats:
        """Totals by status, expired (not yet swept), oldest and newest, runs."""
        await self._ensure_open()
        self.context.require_open()
        return await self.backend.stats(self.now())

    async def sweep(
        self,
        now: datetime | None = None,
        *,
        on_batch: Callable[[SweepReport], None] | None = None,
    ) -> SweepReport:
        """Expire every session whose TTL has passed, now (the background sweeper does this
        every ``sweep_interval`` seconds); ``on_batch`` sees the totals after each batch."""
        await self._ensure_open()
        self.context.require_open()
        return await self._sweeper.run_once(to_utc(now) if now else None, on_batch=on_batch)

    def __repr__(self) -> str:
        state = "open" if self.context.is_open else "closed"
        return f"GraphSessionManager(backend={self.backend.url!r}, {state})"
