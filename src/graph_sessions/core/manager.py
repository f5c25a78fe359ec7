"""``GraphSessionManager``: opens storage, hands out sessions, lists, deletes and expires them."""

from __future__ import annotations

import base64
import logging
import os
import socket
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import orjson
from langgraph.pregel import Pregel
from typing_extensions import TypedDict, Unpack

from graph_sessions.clock import Clock, to_utc, utcnow
from graph_sessions.core.filters import check_metadata_filter
from graph_sessions.core.identity import graph_identity
from graph_sessions.core.runs import (
    DURABILITIES,
    MULTITASK_STRATEGIES,
    RunExecutor,
    lease_clock,
)
from graph_sessions.core.session import GraphSession
from graph_sessions.core.sweeper import Sweeper, SweepReport
from graph_sessions.errors import (
    GraphLoadError,
    InvalidInput,
    ManagerClosed,
    SessionBusy,
    SessionExists,
    SessionExpired,
    SessionNotFound,
)
from graph_sessions.graphs.config import ProjectConfig, load_config
from graph_sessions.graphs.references import GraphSource, bind_graph, load_graph
from graph_sessions.models import (
    Durability,
    EventType,
    ExpiryStrategy,
    MultitaskStrategy,
    RunStatus,
    SessionInfo,
    SessionPage,
    SessionStats,
    SessionStatus,
    TTLMode,
)
from graph_sessions.storage.backend import Backend, NewEvent, SessionQuery
from graph_sessions.storage.codec import dump_json
from graph_sessions.storage.urls import backend_from_url

log = logging.getLogger("graph_sessions")

_DEFAULT: Any = object()
_LIVE_LEASES: set[str] = set()  # lease owners of managers open in this process
_MAX_LIMIT = 1000
_SORTS = ("created_at", "updated_at", "expires_at")


class SessionFilters(TypedDict, total=False):
    """Filters of :meth:`GraphSessionManager.list` and :meth:`GraphSessionManager.count`."""

    owner: str | None
    graph_id: str | None
    task_id: str | None
    metadata: dict[str, Any] | None
    created_after: datetime | None
    created_before: datetime | None
    updated_after: datetime | None
    updated_before: datetime | None
    include_expired: bool


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
    raise InvalidInput(f"unknown checkpointer_config type {kind!r}; use 'sqlite' or 'memory'")


def _encode_cursor(info: SessionInfo, sort: str) -> str:
    from graph_sessions.storage.codec import dump_time

    raw = orjson.dumps([dump_time(getattr(info, sort)), info.session_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _decode_cursor(cursor: str) -> tuple[str | None, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, session_id = orjson.loads(raw)
        if not isinstance(session_id, str) or not (value is None or isinstance(value, str)):
            raise ValueError
        return value, session_id
    except Exception:
        raise InvalidInput(f"cursor {cursor!r} is not one this API returned") from None


def _graph_label(source: Any, graph_id: str) -> str:
    """How a graph is named in messages: its reference as given, else its id."""
    if isinstance(source, str | Path):
        return str(source)
    return graph_id


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class GraphSessionManager:
    """Durable sessions of one graph (or several, by graph id) over one storage backend.

    ``graph`` is a compiled graph, a ``StateGraph`` builder, ``"file.py:attr"``,
    ``"package.module:attr"``, ``"graph.yaml"`` or a zero-argument factory; or a mapping of
    graph ids to those, in which case sessions are created for ``graph_id`` (the first id
    unless given) or the ``graph_id=`` passed to :meth:`create`. ``backend`` is a URL
    (``sqlite:///sessions.db`` by default, ``memory://``) or a ``Backend``. Use it as
    ``async with manager:``; see DESIGN.md for every option.
    """

    def __init__(
        self,
        graph: GraphSource | Mapping[str, GraphSource] = None,
        backend: str | Path | Backend | None = None,
        *,
        graph_path: str | Path | None = None,
        checkpointer_config: dict[str, Any] | None = None,
        output_key: str | None = None,
        ttl: float | None = None,
        ttl_mode: TTLMode = "sliding",
        on_expire: ExpiryStrategy = "delete",
        sweep_interval: float | None = 60.0,
        sweep_batch: int = 100,
        checkpoint_retention: int | None = None,
        multitask: MultitaskStrategy = "enqueue",
        durability: Durability = "async",
        resume_key: str | None = None,
        recursion_limit: int | None = None,
        graph_id: str | None = None,
        clock: Clock | None = None,
        session_class: type[GraphSession] = GraphSession,
        shutdown_timeout: float = 30.0,
        lease_ttl: float = 30.0,
        wait_timeout: float | None = 120.0,
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
        if multitask not in MULTITASK_STRATEGIES:
            raise InvalidInput(
                f"multitask must be one of {', '.join(MULTITASK_STRATEGIES)}, not {multitask!r}"
            )
        if durability not in DURABILITIES:
            raise InvalidInput(
                f"durability must be one of {', '.join(DURABILITIES)}, not {durability!r}"
            )
        if ttl_mode not in ("sliding", "absolute"):
            raise InvalidInput(f"ttl_mode must be 'sliding' or 'absolute', not {ttl_mode!r}")
        if on_expire not in ("delete", "keep_latest"):
            raise InvalidInput(f"on_expire must be 'delete' or 'keep_latest', not {on_expire!r}")
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
        if isinstance(source, Mapping):
            if not source:
                raise InvalidInput("graph mapping is empty: give at least one graph id")
            graph_id = graph_id or next(iter(source))
            if graph_id not in source:
                raise InvalidInput(
                    f"graph_id {graph_id!r} is not one of the graphs given: {', '.join(source)}"
                )
            self._sources = {str(k): load_graph(v) for k, v in source.items()}
            self._labels = {str(k): _graph_label(v, str(k)) for k, v in source.items()}
        elif source is None:  # inspect, list, delete and sweep sessions; runs need a graph
            graph_id = graph_id or "default"
            self._sources = {}
            self._labels = {}
        else:
            graph_id = graph_id or "default"
            self._sources = {graph_id: load_graph(source)}
            self._labels = {graph_id: _graph_label(source, graph_id)}
        self.backend: Backend = backend_from_url(backend)
        self.output_key = output_key
        self.ttl: float | None = None
        self.ttl = self._ttl(ttl)
        self.ttl_mode: TTLMode = ttl_mode
        self.on_expire: ExpiryStrategy = on_expire
        self.sweep_interval = sweep_interval
        self.sweep_batch = sweep_batch
        self.checkpoint_retention = checkpoint_retention
        self.multitask: MultitaskStrategy = multitask
        self.durability: Durability = durability
        self.resume_key = resume_key
        self.recursion_limit = recursion_limit
        self.graph_id = graph_id
        self.session_class = session_class
        self.shutdown_timeout = shutdown_timeout
        self.lease_ttl = float(lease_ttl)
        self.lease_delta = timedelta(seconds=self.lease_ttl)
        self.wait_timeout = wait_timeout
        self._identities: dict[str, str] = {}
        self._clock = clock or utcnow
        self._opened = False
        self._graphs: dict[str, Pregel] = {}
        self._breakpoints: dict[str, bool] = {}
        self.closing = False
        self._runner = RunExecutor(self)
        self._sweeper = Sweeper(self)
        self.repaired: list[str] = []

    @classmethod
    def from_config(
        cls, path: str | Path | ProjectConfig | None = None, **overrides: Any
    ) -> GraphSessionManager:
        """A manager configured by a ``langgraph.json`` file (``None``: ``$GRAPH_SESSIONS_CONFIG``
        or ``./langgraph.json``; none: defaults), environment overrides (``GRAPH_SESSIONS_*``)
        applied, then ``overrides`` (keyword arguments of this class) on top."""
        config = path if isinstance(path, ProjectConfig) else load_config(path)
        return cls(**config.manager_kwargs(**overrides))

    # lifecycle -----------------------------------------------------------------------
    def now(self) -> datetime:
        """The manager's clock (timezone-aware UTC)."""
        return to_utc(self._clock())

    @property
    def graph(self) -> Pregel:
        """The default graph (``graph_id``), bound to this manager's checkpointer and store."""
        return self.graph_for(None)

    @property
    def graph_ids(self) -> list[str]:
        """The ids of the graphs this manager serves, the default first."""
        if not self._sources:
            return []
        return [self.graph_id, *(g for g in self._sources if g != self.graph_id)]

    def graph_for(self, graph_id: str | None, *, session_id: str | None = None) -> Pregel:
        """The bound graph with this id (the default for ``None``); ``InvalidInput`` when this
        manager does not serve it."""
        self._require_open()
        graph = self._graphs.get(graph_id or self.graph_id)
        if graph is None and not self._graphs:
            raise GraphLoadError(
                "this manager was opened without a graph: it can list, inspect, delete and "
                "sweep sessions; pass graph= (or a config file's graphs) to run them",
                session_id=session_id,
            )
        if graph is None:
            whose = f"session {session_id!r} uses graph" if session_id else "graph"
            raise InvalidInput(
                f"{whose} {graph_id!r}, which this manager does not serve "
                f"(graphs: {', '.join(self.graph_ids)})",
                session_id=session_id,
            )
        return graph

    def graph_identity(self, graph_id: str | None = None) -> str:
        """The stable identity of a served graph (the default for ``None``), as stored with
        its sessions: ``"<fingerprint> <label>"``, the fingerprint a hash of its node names
        and state keys (see docs/lifecycle.md)."""
        self.graph_for(graph_id)
        return self._identities[graph_id or self.graph_id]

    def has_static_breakpoints(self, graph_id: str) -> bool:
        """True when that graph was compiled with ``interrupt_before``/``interrupt_after``."""
        return self._breakpoints.get(graph_id, False)

    @property
    def is_open(self) -> bool:
        """True between :meth:`open` and :meth:`close`."""
        return self._opened

    async def open(self) -> GraphSessionManager:
        """Open storage, bind the graph, repair sessions a dead process left running, start
        the sweeper."""
        if self._opened:
            return self
        await self.backend.open()
        try:
            graphs = {
                gid: bind_graph(src, self.backend.checkpointer, self.backend.store)
                for gid, src in self._sources.items()
            }
        except Exception:
            await self.backend.close()
            raise
        self._breakpoints = {
            gid: bool(g.interrupt_before_nodes or g.interrupt_after_nodes)
            for gid, g in graphs.items()
        }
        self._identities = {
            gid: graph_identity(g, self._labels.get(gid, gid)) for gid, g in graphs.items()
        }
        self._graphs = graphs
        self._opened = True
        self.closing = False
        _LIVE_LEASES.add(self._runner.lease_owner)
        self.repaired.extend(await self.repair_stale())
        if self.repaired:
            log.warning(
                "repaired %d session(s) left running by a process that died: %s",
                len(self.repaired),
                self.repaired,
            )
        self._sweeper.start()
        return self

    async def close(self) -> None:
        """Let running runs finish (up to ``shutdown_timeout``), cancel the rest, stop the
        sweeper and close storage. Nothing is left ``running``."""
        if not self._opened:
            return
        self.closing = True  # runs still queued for a session now refuse to start
        await self._sweeper.stop()
        await self._runner.drain(self.shutdown_timeout)
        _LIVE_LEASES.discard(self._runner.lease_owner)
        self._opened = False
        self._graphs = {}
        await self.backend.close()

    async def cleanup(self) -> None:
        """The seed's name for :meth:`close`."""
        await self.close()

    async def __aenter__(self) -> GraphSessionManager:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _require_open(self) -> None:
        if not self._opened:
            raise ManagerClosed(
                "the manager is not open: use 'async with manager:' or 'await manager.open()'"
            )

    # repair --------------------------------------------------------------------------
    def _stale_reason(self, info: SessionInfo) -> str | None:
        """Why the lease of a running session no longer holds, or ``None`` while it does.

        A lease lapses at its expiry whatever the holder's host or pid (killed, paused,
        another container); on this host a holder whose pid is gone loses it at once, and in
        this process a manager that is no longer open does."""
        lease_owner = info.lease_owner
        if not lease_owner:
            return "no process held it"
        host, _, rest = lease_owner.partition(":")
        pid_text, _, _instance = rest.partition(":")
        try:
            pid: int | None = int(pid_text)
        except ValueError:
            pid = None
        here = host == socket.gethostname()
        if here and pid == os.getpid():
            return None if lease_owner in _LIVE_LEASES else "its manager in this process closed"
        expires = info.lease_expires_at
        if expires is None:
            # Written by a version without lease expiry: no heartbeat will ever renew it.
            if not here or pid is None or not _pid_alive(pid):
                return "the process holding it died"
            return None
        if expires <= lease_clock():
            return f"its lease expired at {expires.isoformat()} without being renewed"
        if here and pid is not None and not _pid_alive(pid):
            return "the process holding it died"
        return None

    async def repair_stale(self) -> list[str]:
        """Repair the running sessions of this manager's graphs whose lease lapsed (holder
        killed, paused or gone with its host); sessions of other graphs are left for a
        manager that serves them. Returns the ids repaired."""
        served = set(self.graph_ids)
        return [
            info.session_id
            for info in await self.backend.find_running()
            if info.graph_id in served and await self.repair_if_stale(info)
        ]

    async def repair_if_stale(self, info: SessionInfo) -> bool:
        """If ``info`` is ``running`` but its lease no longer holds (expired unrenewed, or its
        process is gone), set its status from its latest checkpoint (interrupted / completed
        / failed with the reason) and close its run."""
        if info.status != SessionStatus.RUNNING:
            return False
        why = self._stale_reason(info)
        if why is None:
            return False
        status, interrupts = await self._runner.status_from_checkpoint(
            info.session_id, info.graph_id
        )
        runs = await self.backend.list_runs(info.session_id, limit=1)
        run = runs[0] if runs and runs[0].status == RunStatus.RUNNING else None
        reason = (
            f"the process running run {run.run_id if run else '?'} ({info.lease_owner}) "
            f"stopped: {why}; the session was repaired from its last checkpoint"
        )
        if status is None:
            status = SessionStatus.FAILED
        fields = {
            "status": status,
            "updated_at": self.now(),
            "interrupts": interrupts,
            "last_error": reason if status == SessionStatus.FAILED else None,
        }
        event = NewEvent(
            EventType.REPAIRED,
            run.run_id if run else None,
            {"reason": reason, "status": str(status)},
        )
        if run is not None:
            repaired, _ = await self.backend.finish_run(
                info.session_id,
                run.run_id,
                run_status=RunStatus.ERROR,
                error=reason,
                fields=fields,
                events=[event],
                expect_lease=info.lease_owner,
                expect_epoch=info.lease_epoch,
            )
        else:
            repaired = await self.backend.update_session(
                info.session_id,
                {**fields, "lease_owner": None, "lease_expires_at": None},
                events=[event],
                expect_revision=info.revision,
            )
        if repaired is None:  # someone else repaired it (or ran it) first
            return False
        log.warning("session %s: %s (now %s)", info.session_id, reason, status)
        return True

    # sessions ------------------------------------------------------------------------
    async def load_info(self, session_id: str) -> SessionInfo:
        """The registry row; raises ``SessionNotFound`` or ``SessionExpired``."""
        self._require_open()
        info = await self.backend.get_session(session_id)
        if info is None:
            raise SessionNotFound(f"session {session_id!r} does not exist", session_id=session_id)
        if info.is_expired(self.now()) and info.status != SessionStatus.RUNNING:
            raise SessionExpired(f"session {session_id!r} has expired", session_id=session_id)
        return info

    def _check_id(self, session_id: Any) -> str:
        if not isinstance(session_id, str) or not session_id.strip():
            raise InvalidInput(f"session id must be a non-empty string, not {session_id!r}")
        if len(session_id) > 256:
            raise InvalidInput(
                "session id must be at most 256 characters", session_id=session_id[:64]
            )
        if not _is_utf8(session_id):
            raise InvalidInput(f"session id {session_id!r} is not valid Unicode text")
        return session_id

    @staticmethod
    def _check_metadata(metadata: Any, session_id: str) -> None:
        if not isinstance(metadata, dict):
            raise InvalidInput("metadata must be a dict", session_id=session_id)
        try:
            dump_json(metadata)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(
                f"metadata must be JSON-serializable: {exc}",
                session_id=session_id,
            ) from None

    def _ttl(self, ttl: Any) -> float | None:
        if ttl is _DEFAULT:
            return self.ttl
        if ttl is not None and (not isinstance(ttl, int | float) or ttl <= 0):
            raise InvalidInput(f"ttl must be a positive number of seconds or None, not {ttl!r}")
        return float(ttl) if ttl is not None else None

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
        self._require_open()
        graph = self.graph_for(graph_id)
        graph_id = graph_id or self.graph_id
        session_id = self._check_id(session_id) if session_id is not None else str(uuid.uuid4())
        if metadata is not None:
            self._check_metadata(metadata, session_id)
        if initial_state is not None and not isinstance(initial_state, dict):
            raise InvalidInput("initial_state must be a dict", session_id=session_id)
        ttl_s = self._ttl(ttl)
        now = self.now()
        info = SessionInfo(
            session_id=session_id,
            graph_id=graph_id,
            owner=owner,
            task_id=task_id,
            status=SessionStatus.CREATED,
            metadata=dict(metadata or {}),
            created_at=now,
            updated_at=now,
            expires_at=now + timedelta(seconds=ttl_s) if ttl_s else None,
            ttl=ttl_s,
            ttl_mode=self.ttl_mode,
            graph_identity=self._identities.get(graph_id),
        )
        created = await self.backend.create_session(
            info, NewEvent(EventType.CREATED, None, {"owner": owner})
        )
        if not created:
            raise SessionExists(f"session {session_id!r} already exists", session_id=session_id)
        if initial_state:
            try:
                await graph.aupdate_state(
                    {"configurable": {"thread_id": session_id}}, initial_state, as_node="__start__"
                )
            except Exception as exc:
                await self.backend.delete_session(session_id)
                raise InvalidInput(
                    f"initial_state does not fit the graph: {type(exc).__name__}: {exc}",
                    session_id=session_id,
                ) from exc
        return self.session_class(self, info)

    def _owned(self, info: SessionInfo, owner: str | None) -> bool:
        return owner is None or info.owner == owner

    async def get(self, session_id: str, *, owner: str | None = None) -> GraphSession | None:
        """The session, or ``None`` when it does not exist, has expired, or is another owner's."""
        self._require_open()
        info = await self.backend.get_session(self._check_id(session_id))
        if info is None or not self._owned(info, owner) or info.is_expired(self.now()):
            return None
        return self.session_class(self, info)

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
        self._require_open()
        if session_id is not None and thread_id is not None and session_id != thread_id:
            raise InvalidInput("pass session_id or thread_id, not both")
        sid = session_id if session_id is not None else thread_id
        if sid is None:
            return await self.create(
                owner=owner,
                metadata=metadata,
                task_id=task_id,
                ttl=ttl,
                initial_state=initial_state,
                graph_id=graph_id,
            )
        sid = self._check_id(sid)
        info = await self.backend.get_session(sid)
        if info is not None and not self._owned(info, owner):
            raise SessionNotFound(
                f"session {sid!r} does not exist for owner {owner!r}", session_id=sid
            )
        now = self.now()
        if info is not None and info.is_expired(now) and info.status != SessionStatus.RUNNING:
            if self.on_expire == "keep_latest":
                return self.session_class(self, await self._revive(info, now))
            # Only if still expired: another task may have replaced it meanwhile.
            await self.backend.delete_session(sid, only_if_expired_at=now)
            info = None
        if info is None:
            try:
                return await self.create(
                    sid,
                    owner=owner,
                    metadata=metadata,
                    task_id=task_id,
                    ttl=ttl,
                    initial_state=initial_state,
                    graph_id=graph_id,
                )
            except SessionExists:  # created meanwhile by another task
                info = await self.backend.get_session(sid)
                if info is None or not self._owned(info, owner):
                    raise
        if graph_id is not None and info.graph_id != graph_id:
            raise InvalidInput(
                f"session {sid!r} uses graph {info.graph_id!r}, not {graph_id!r}", session_id=sid
            )
        return self.session_class(self, info)

    async def _revive(self, info: SessionInfo, now: datetime) -> SessionInfo:
        fields: dict[str, Any] = {"updated_at": now}
        if info.status == SessionStatus.EXPIRED:  # archived by the sweeper
            fields["status"] = info.previous_status or SessionStatus.COMPLETED
            fields["previous_status"] = None
        # (expired by time only: the row still holds its real status and previous_status)
        if info.ttl:
            fields["expires_at"] = now + timedelta(seconds=info.ttl)
        updated = await self.backend.update_session(
            info.session_id,
            fields,
            events=[NewEvent(EventType.UNSUSPENDED, None, {"revived_from": "expired"})],
            expect_status=[info.status],
        )
        if updated is None:  # the sweeper or another task moved it meanwhile: read again
            fresh = await self.backend.get_session(info.session_id)
            if fresh is None:
                raise SessionNotFound(
                    f"session {info.session_id!r} does not exist", session_id=info.session_id
                )
            return fresh if not fresh.is_expired(now) else await self._revive(fresh, now)
        return updated

    async def info(self, session_id: str, *, owner: str | None = None) -> SessionInfo:
        """The registry row of a live session (raises ``SessionNotFound``/``SessionExpired``)."""
        info = await self.load_info(self._check_id(session_id))
        if not self._owned(info, owner):
            raise SessionNotFound(f"session {session_id!r} does not exist", session_id=session_id)
        return info

    async def delete(self, session_id: str, *, owner: str | None = None) -> bool:
        """Delete everything of the session (registry, checkpoints, writes, runs, events,
        messages). A run in progress in this process is cancelled first. False if absent."""
        self._require_open()
        sid = self._check_id(session_id)
        if owner is not None:
            info = await self.backend.get_session(sid)
            if info is None or info.owner != owner:
                return False
        gate = self._runner.gates.enter(sid)
        try:
            # Queued callers (and one waiting for another process's lease) give up too.
            gate.cancel_runs("deleted")
            async with gate.lock:
                return await self.backend.delete_session(sid)
        finally:
            self._runner.gates.leave(sid, gate)

    async def update_metadata(
        self,
        session_id: str,
        metadata: dict[str, Any],
        *,
        merge: bool = True,
        owner: str | None = None,
    ) -> SessionInfo:
        """Merge (or replace) the session's metadata."""
        self._check_metadata(metadata, session_id)
        while True:  # merge against the row we read; another writer in between: read again
            info = await self.info(session_id, owner=owner)
            new = {**info.metadata, **metadata} if merge else dict(metadata)
            updated = await self.backend.update_session(
                session_id,
                {"metadata": new, "updated_at": self.now()},
                events=[NewEvent(EventType.METADATA_UPDATED, None, {"keys": sorted(metadata)})],
                expect_revision=info.revision,
            )
            if updated is not None:
                return updated

    async def set_ttl(
        self, session_id: str, ttl: float | None, *, owner: str | None = None
    ) -> SessionInfo:
        """Give the session a new lifetime: ``ttl`` seconds from now (``None``: it never
        expires). Later activity slides it as the session's ``ttl_mode`` says."""
        ttl_s = self._ttl(ttl)
        while True:
            info = await self.info(session_id, owner=owner)
            now = self.now()
            updated = await self.backend.update_session(
                session_id,
                {
                    "ttl": ttl_s,
                    "expires_at": now + timedelta(seconds=ttl_s) if ttl_s else None,
                    "updated_at": now,
                },
                events=[NewEvent(EventType.METADATA_UPDATED, None, {"ttl": ttl_s})],
                expect_revision=info.revision,
            )
            if updated is not None:
                return updated

    async def rebind(
        self, session_id: str, *, graph_id: str | None = None, owner: str | None = None
    ) -> SessionInfo:
        """Bind the session to this manager's graph (``graph_id``, the default when not
        given): its next runs use it even though it belonged to another graph. The state is
        kept as it is; keys the new graph does not know stay in it."""
        self._require_open()
        gid = graph_id or self.graph_id
        identity = self.graph_identity(gid)
        async with self._runner.exclusive(session_id):
            while True:
                info = await self.info(session_id, owner=owner)
                if info.status == SessionStatus.RUNNING:
                    raise SessionBusy(
                        f"session {session_id!r} is running; re-bind it after the run",
                        session_id=session_id,
                    )
                if info.graph_identity == identity and info.graph_id == gid:
                    return info
                updated = await self.backend.update_session(
                    session_id,
                    {"graph_identity": identity, "graph_id": gid, "updated_at": self.now()},
                    events=[
                        NewEvent(
                            EventType.METADATA_UPDATED,
                            None,
                            {"rebound": {"from": info.graph_identity, "to": identity}},
                        )
                    ],
                    expect_revision=info.revision,
                )
                if updated is not None:
                    return updated

    def is_busy(self, session_id: str) -> bool:
        """True while a run (or a state change) holds the session in this process."""
        return self._runner.gates.busy(session_id)

    async def ping(self) -> bool:
        """True when the manager is open and its storage answers (for readiness probes)."""
        if not self._opened or self.closing:
            return False
        try:
            return bool(await self.backend.ping())
        except Exception:
            return False

    async def unready_reason(self) -> str | None:
        """``None`` when the manager is open and its storage answers and takes writes;
        otherwise why not (for readiness probes)."""
        if not await self.ping():
            return "storage does not answer" if self._opened and not self.closing else "closed"
        try:
            problem = await self.backend.write_problem()
        except Exception as exc:
            problem = str(exc) or type(exc).__name__
        return f"storage cannot be written: {problem}" if problem else None

    # listing -------------------------------------------------------------------------
    def _query(
        self,
        status: SessionStatus | str | Sequence[SessionStatus | str] | None,
        filters: SessionFilters,
    ) -> SessionQuery:
        unknown = set(filters) - set(SessionFilters.__annotations__)
        if unknown:
            known = ", ".join(SessionFilters.__annotations__)
            raise InvalidInput(f"unknown filter(s) {sorted(unknown)}; known: status, {known}")
        include_expired = bool(filters.get("include_expired", False))
        statuses: list[SessionStatus] | None = None
        if status is not None:
            raw = [status] if isinstance(status, str) else list(status)
            try:
                statuses = [SessionStatus(s) for s in raw]
            except ValueError:
                known = ", ".join(s.value for s in SessionStatus)
                raise InvalidInput(f"unknown status in {raw!r}; known: {known}") from None
            if SessionStatus.EXPIRED in statuses:
                include_expired = True
        metadata = filters.get("metadata")
        if metadata is not None:
            check_metadata_filter(metadata)

        def moment(name: str) -> datetime | None:
            value = filters.get(name)
            if value is not None and not isinstance(value, datetime):
                raise InvalidInput(f"{name} must be a datetime, not {type(value).__name__}")
            return to_utc(value) if value is not None else None

        return SessionQuery(
            status=statuses,
            owner=filters.get("owner"),
            graph_id=filters.get("graph_id"),
            task_id=filters.get("task_id"),
            metadata=metadata,
            created_after=moment("created_after"),
            created_before=moment("created_before"),
            updated_after=moment("updated_after"),
            updated_before=moment("updated_before"),
            include_expired=include_expired,
            now=self.now(),
        )

    async def list(
        self,
        status: SessionStatus | str | Sequence[SessionStatus | str] | None = None,
        *,
        sort: Literal["created_at", "updated_at", "expires_at"] = "created_at",
        order: Literal["asc", "desc"] = "desc",
        limit: int = 50,
        cursor: str | None = None,
        **filters: Unpack[SessionFilters],
    ) -> SessionPage:
        """One page of sessions matching ``status`` and every filter given (see
        :class:`SessionFilters`); ``metadata`` matches sessions whose metadata contains
        those key/value pairs. Pass ``next_cursor`` back for the next page."""
        self._require_open()
        if sort not in _SORTS:
            raise InvalidInput(f"sort must be one of {', '.join(_SORTS)}, not {sort!r}")
        if order not in ("asc", "desc"):
            raise InvalidInput(f"order must be 'asc' or 'desc', not {order!r}")
        if not isinstance(limit, int) or not 1 <= limit <= _MAX_LIMIT:
            raise InvalidInput(f"limit must be between 1 and {_MAX_LIMIT}, not {limit!r}")
        query = self._query(status, filters)
        query.sort = sort
        query.descending = order == "desc"
        query.limit = limit + 1
        query.cursor = _decode_cursor(cursor) if cursor else None
        rows = await self.backend.list_sessions(query)
        more = len(rows) > limit
        rows = rows[:limit]
        return SessionPage(
            sessions=rows, next_cursor=_encode_cursor(rows[-1], sort) if more and rows else None
        )

    async def count(
        self,
        status: SessionStatus | str | Sequence[SessionStatus | str] | None = None,
        **filters: Unpack[SessionFilters],
    ) -> int:
        """How many sessions match (the filters of :meth:`list`)."""
        self._require_open()
        return await self.backend.count_sessions(self._query(status, filters))

    async def stats(self) -> SessionStats:
        """Totals by status, expired (not yet swept), oldest and newest, runs."""
        self._require_open()
        return await self.backend.stats(self.now())

    async def sweep(
        self,
        now: datetime | None = None,
        *,
        on_batch: Callable[[SweepReport], None] | None = None,
    ) -> SweepReport:
        """Expire every session whose TTL has passed, now (the background sweeper does this
        every ``sweep_interval`` seconds); ``on_batch`` sees the totals after each batch."""
        self._require_open()
        return await self._sweeper.run_once(to_utc(now) if now else None, on_batch=on_batch)

    def __repr__(self) -> str:
        state = "open" if self._opened else "closed"
        return f"GraphSessionManager(backend={self.backend.url!r}, {state})"
