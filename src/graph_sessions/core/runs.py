"""Executing runs: preconditions, one writer per session, multitask strategies, the run's
bookkeeping.

A run is first *prepared* (:meth:`RunExecutor.prepare`: every check that can be made
before it waits for its turn; ``invoke`` and ``stream`` both await it before anything is
sent), then *executed* (:meth:`RunExecutor.execute`). Each session has a
:class:`~graph_sessions.core.gates.Gate` in this process: a FIFO lock and the run holding
it. Across processes the registry row is the guard: a run starts only if the row's
revision is the one this process last saw, so two processes can never both mark the same
session running.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import traceback
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from langgraph.types import Command

from graph_sessions.core.cancel_watch import request_cancel_elsewhere
from graph_sessions.core.context import CoreContext
from graph_sessions.core.final_state import FinalState, values_match_state
from graph_sessions.core.gates import ActiveRun, Gate
from graph_sessions.core.identity import check_same_graph
from graph_sessions.core.leases import lease_clock
from graph_sessions.core.lifecycle import check_can_run
from graph_sessions.core.queue_tickets import QueueSpot
from graph_sessions.core.repair import interrupts_to_dicts, repair_if_stale, status_from_checkpoint
from graph_sessions.errors import (
    CheckpointNotFound,
    InvalidInput,
    InvalidTransition,
    LeaseLost,
    LeaseWaitTimeout,
    ManagerClosed,
    RunCancelled,
    RunFailed,
    SessionBusy,
    SessionNotFound,
)
from graph_sessions.models import (
    EventType,
    InvokeResult,
    RunInfo,
    RunStatus,
    SessionInfo,
    SessionStatus,
)
from graph_sessions.storage.backend import NewEvent
from graph_sessions.storage.records import UNCHANGED, RunFinish, RunStart, Unchanged
from graph_sessions.vocabulary import DURABILITIES, MULTITASK_STRATEGIES, choice_error

log = logging.getLogger("graph_sessions.runs")
#: a failed run's event keeps at most this many characters of its traceback (the end)
TRACEBACK_LIMIT = 8192
_POLL_SECONDS = 0.05  # how often a run waits for a session another process is running


# Keys LangGraph reserves in ``config["configurable"]``: set by a caller they replace the
# runtime's own (``__pregel_checkpointer`` and friends) and silently disable persistence.
_RESERVED_CONFIGURABLE = ("checkpoint_ns", "checkpoint_map")


def check_configurable(config: Any, session_id: str) -> None:
    """``InvalidInput`` for a run config that is not a dict or whose ``configurable`` sets
    a key LangGraph reserves (``__pregel_*``, any ``__…``, ``checkpoint_ns``, ``checkpoint_map``)."""
    if config is None:
        return
    if not isinstance(config, dict):
        raise InvalidInput(
            f"config must be a dict, not {type(config).__name__}", session_id=session_id
        )
    configurable = config.get("configurable")
    if configurable is None:
        return
    if not isinstance(configurable, dict):
        raise InvalidInput(
            f"config['configurable'] must be a dict, not {type(configurable).__name__}",
            session_id=session_id,
        )
    reserved = sorted(
        str(k)
        for k in configurable
        if not isinstance(k, str) or k.startswith("__") or k in _RESERVED_CONFIGURABLE
    )
    if reserved:
        raise InvalidInput(
            f"config.configurable sets key(s) LangGraph reserves for its runtime: "
            f"{', '.join(reserved)}; they would replace the session's checkpointer or "
            "namespace (keys starting with '__', checkpoint_ns and checkpoint_map are refused)",
            session_id=session_id,
        )


#: LangGraph run options a request may pass on to the graph (``RunRequest.graph_options``)
GRAPH_OPTIONS = ("interrupt_before", "interrupt_after", "context")


def check_graph_options(options: Any, session_id: str) -> None:
    """``InvalidInput`` for graph options that are not a dict of :data:`GRAPH_OPTIONS`."""
    if options is None:
        return
    if not isinstance(options, dict):
        raise InvalidInput("graph options must be a dict", session_id=session_id)
    unknown = sorted(str(k) for k in options if k not in GRAPH_OPTIONS)
    if unknown:
        raise InvalidInput(
            f"unknown graph option(s) {', '.join(unknown)}; known: {', '.join(GRAPH_OPTIONS)}",
            session_id=session_id,
        )
    for key in ("interrupt_before", "interrupt_after"):
        value = options.get(key)
        if (
            value is not None
            and value != "*"
            and not (isinstance(value, list) and all(isinstance(v, str) for v in value))
        ):
            raise InvalidInput(f"{key} must be a list of node names or '*'", session_id=session_id)


def interrupt_resume_key(value: Any) -> str | None:
    """The ``resume_key`` an interrupt payload names (YAML-style), if any."""
    if isinstance(value, dict):
        key = value.get("resume_key")
        return key if isinstance(key, str) and key else None
    return None


#: the stream mode that asks for LangGraph's ``astream_events`` events besides the others
EVENTS_MODE = "events"


class GraphEvent(dict[str, Any]):
    """One ``astream_events`` (v2) event of a run streamed with mode ``events``."""


@dataclass
class RunRequest:
    """What one run was asked to do."""

    kind: str
    input: Any
    multitask: str
    config: dict[str, Any] | None
    durability: str
    checkpoint_id: str | None = None
    stream_mode: Any = None
    subgraphs: bool = False
    on_chunk: Callable[[Any], Awaitable[None]] | None = None
    explicit_resume: bool = False
    #: the id the run gets (a new one when not given), e.g. one a surface announced already
    run_id: str | None = None
    #: LangGraph run options passed on to ``ainvoke``/``astream`` (see :data:`GRAPH_OPTIONS`)
    graph_options: dict[str, Any] | None = None
    #: give the input to LangGraph as it is: on an interrupted session it starts a new turn
    #: (LangGraph's own semantics) instead of answering the interrupt
    literal_input: bool = False
    #: metadata keys the run sets on its session as it begins (in the same transaction)
    set_metadata: dict[str, Any] | None = None

    @property
    def breakpoints(self) -> bool:
        """True when the request sets breakpoints of its own (``interrupt_before/after``)."""
        opts = self.graph_options or {}
        return bool(opts.get("interrupt_before") or opts.get("interrupt_after"))


@dataclass
class PreparedRun:
    """A run whose preconditions held when :meth:`RunExecutor.prepare` checked them."""

    session_id: str
    info: SessionInfo  # the row the checks read
    request: RunRequest


@dataclass
class _HeldElsewhere:
    """A run's wait for a session another process holds."""

    since: float | None = None  # loop time of the first wait
    asked_epoch: int | None = None  # the lease whose run this run asked to cancel


def _reject_busy(session_id: str) -> SessionBusy:
    return SessionBusy(
        f"session {session_id!r} is running a run; multitask='reject' refuses a second one",
        session_id=session_id,
    )


class RunExecutor:
    """Runs the graph for sessions of one manager (its core context)."""

    def __init__(self, ctx: CoreContext) -> None:
        self.ctx = ctx

    async def require_checkpoint(self, session_id: str, checkpoint_id: str) -> None:
        """Raise ``CheckpointNotFound`` unless the session has that checkpoint."""
        found = await self.ctx.backend.checkpointer.aget_tuple(
            {
                "configurable": {
                    "thread_id": session_id,
                    "checkpoint_ns": "",
                    "checkpoint_id": checkpoint_id,
                }
            }
        )
        if found is None:
            raise CheckpointNotFound(
                f"session {session_id!r} has no checkpoint {checkpoint_id!r}", session_id=session_id
            )

    # entry ---------------------------------------------------------------------------
    async def prepare(self, info: SessionInfo, req: RunRequest) -> PreparedRun:
        """Check what a run needs before it waits for its turn, raising the typed error that
        explains why it cannot run: the request's options and input, the manager open,
        ``multitask="reject"`` with the session busy here or running elsewhere, the
        session's status (suspended, expired), and a never-run session's first input.
        ``invoke`` and ``stream`` both await this before anything reaches their caller.

        A run queued behind another one in this process is checked again when its turn
        comes (:meth:`execute`): the run ahead may change the session."""
        session_id = info.session_id
        for problem in (
            choice_error("multitask", req.multitask, MULTITASK_STRATEGIES),
            choice_error("durability", req.durability, DURABILITIES),
        ):
            if problem is not None:
                raise InvalidInput(problem, session_id=session_id)
        ctx = self.ctx
        ctx.require_open()
        if (
            not req.explicit_resume
            and req.input is not None
            and not isinstance(req.input, dict | Command)
        ):
            raise InvalidInput(
                f"graph input must be a dict, a langgraph Command or None, not {type(req.input).__name__}",
                session_id=session_id,
            )
        check_configurable(req.config, session_id)
        check_graph_options(req.graph_options, session_id)
        busy_here = ctx.gates.busy(session_id)
        if req.multitask == "reject":
            if busy_here:
                raise _reject_busy(session_id)
            info = await self._not_held_elsewhere(info)
        info = await self._current(info)
        check_can_run(info)
        if not busy_here and req.checkpoint_id is None:  # nothing ahead of it here
            await self._check_first_input(info, req)
            if info.status != SessionStatus.RUNNING:
                # A resume needs an interrupt; the row may still change only while a run
                # elsewhere holds it, so the answer here is the one the turn would give.
                self._graph_input(info, req)
        return PreparedRun(session_id, info, req)

    async def execute(self, prepared: PreparedRun) -> tuple[InvokeResult, SessionInfo]:
        """Wait for the session's turn (by the request's multitask strategy), run the graph
        and record the run's end; returns the result and the row the run left."""
        session_id, info, req = prepared.session_id, prepared.info, prepared.request
        gate = self.ctx.gates.enter(session_id)
        spot = QueueSpot()
        try:
            if req.multitask == "reject" and gate.lock.locked():
                raise _reject_busy(session_id)
            if req.multitask in ("interrupt", "rollback"):
                # Every run queued before this one is cancelled too, not only the running one.
                gate.cancel_runs(req.multitask)
            ticket = gate.generation
            if req.multitask == "enqueue" and (
                gate.lock.locked()
                or gate.arrival.locked()
                or (
                    info.status == SessionStatus.RUNNING
                    and info.lease_owner != self.ctx.lease_owner
                )
            ):
                # It waits: a queue ticket now keeps its place among runs of other processes.
                async with gate.arrival:
                    await self.ctx.tickets.take(session_id, spot)
            async with gate.lock:
                gate.check_ticket(ticket, session_id)
                # Queued callers hold the row as it was when they called; the run before them
                # left a newer one here, which saves a re-read.
                if gate.info is not None and gate.info.revision > info.revision:
                    info = gate.info
                result, gate.info = await self._execute_locked(
                    session_id, info, req, gate, ticket, spot
                )
                return result, gate.info
        finally:
            await settle(self.ctx.tickets.release(spot))
            self.ctx.gates.leave(session_id, gate)

    async def _current(self, info: SessionInfo) -> SessionInfo:
        """``info``, or the row read again when ``info`` has expired: gone beats suspended,
        and the caller's row may predate a renewal by another session object."""
        if info.is_expired(self.ctx.now()):
            return await self.ctx.load_info(info.session_id)
        return info

    async def _not_held_elsewhere(self, info: SessionInfo) -> SessionInfo:
        """For ``multitask="reject"``: ``SessionBusy`` while another process's lease holds
        the session; a lapsed lease is repaired first (and the row read again)."""
        while info.status == SessionStatus.RUNNING and info.lease_owner != self.ctx.lease_owner:
            if not await repair_if_stale(self.ctx, info):
                raise SessionBusy(
                    f"session {info.session_id!r} is running in another process",
                    session_id=info.session_id,
                )
            info = await self.ctx.load_info(info.session_id)
        return info

    async def _check_first_input(self, info: SessionInfo, req: RunRequest) -> None:
        """``InvalidInput`` for a run without input on a session that has never run."""
        if (
            req.input is None
            and info.status == SessionStatus.CREATED
            and await self.ctx.backend.latest_checkpoint_id(info.session_id) is None
        ):
            raise InvalidInput(
                f"session {info.session_id!r} has never run: its first invoke needs an input",
                session_id=info.session_id,
            )

    # the run -------------------------------------------------------------------------
    async def _start(
        self,
        session_id: str,
        info: SessionInfo,
        req: RunRequest,
        gate: Gate,
        ticket: int,
        spot: QueueSpot,
    ) -> tuple[SessionInfo, RunInfo, Any, SessionInfo]:
        """Mark the session running under a new lease; returns (the row before, the run, the
        graph input, the row after)."""
        ctx = self.ctx
        wait = _HeldElsewhere()
        while True:
            gate.check_ticket(ticket, session_id)
            if ctx.closing:
                raise ManagerClosed(
                    f"the manager is closing; the run on session {session_id!r} was not started",
                    session_id=session_id,
                )
            now = ctx.now()
            info = await self._current(info)
            check_can_run(info)
            if info.status == SessionStatus.RUNNING and info.lease_owner != ctx.lease_owner:
                if not await repair_if_stale(ctx, info):
                    if req.multitask == "enqueue":
                        await ctx.tickets.take(session_id, spot)
                    await self._wait_held_elsewhere(info, req, wait)
                info = await ctx.load_info(session_id)
                continue
            graph_identity = self._graph_binding(session_id, info)
            if req.checkpoint_id is not None:
                await self.require_checkpoint(session_id, req.checkpoint_id)
            await self._check_first_input(info, req)
            graph_input, resuming = self._graph_input(info, req)
            run = RunInfo(
                run_id=req.run_id or str(uuid.uuid4()),
                session_id=session_id,
                status=RunStatus.RUNNING,
                kind=req.kind,
                multitask=req.multitask,
                started_at=now,
            )
            events = [NewEvent(EventType.RUN_STARTED, run.run_id, {"kind": req.kind})]
            if resuming:
                events.append(
                    NewEvent(
                        EventType.RESUMED,
                        run.run_id,
                        {"interrupts": [i["id"] for i in info.interrupts]},
                    )
                )
            marks = req.set_metadata or {}
            metadata: dict[str, Any] | Unchanged = UNCHANGED
            if any(info.metadata.get(k) != v for k, v in marks.items()):
                metadata = {**info.metadata, **marks}
                events.append(NewEvent(EventType.METADATA_UPDATED, None, {"keys": sorted(marks)}))
            begin = asyncio.ensure_future(
                ctx.backend.begin_run(
                    session_id,
                    run,
                    # updated_at moves when the run ends: one index less to touch
                    RunStart(
                        lease_owner=self.ctx.lease_owner,
                        lease_expires_at=lease_clock() + ctx.options.lease_delta,
                        graph_identity=graph_identity,
                        metadata=metadata,
                    ),
                    expect_revision=info.revision,
                    events=events,
                    queue=ctx.tickets.check(session_id, spot)
                    if req.multitask == "enqueue"
                    else None,
                )
            )
            try:
                # The transaction commits on the database thread even if our caller is
                # cancelled meanwhile; shielded, we learn whether it did and close the run.
                begun = await asyncio.shield(begin)
            except asyncio.CancelledError:
                begun = await begin
                if begun is not None:
                    await settle(self._finish_cancelled(session_id, info, begun.run, "cancelled"))
                raise
            if begun is not None:
                ctx.tickets.begun(spot)
                return info, begun.run, graph_input, begun.session
            fresh = await ctx.backend.get_session(session_id)
            if fresh is None:
                raise SessionNotFound(
                    f"session {session_id!r} does not exist", session_id=session_id
                )
            if fresh.revision == info.revision and req.multitask == "enqueue":
                # unchanged row: runs of other processes queued before this one go first
                await ctx.tickets.take(session_id, spot)
                await self._wait_held_elsewhere(fresh, req, wait)
            info = fresh

    async def _wait_held_elsewhere(
        self, info: SessionInfo, req: RunRequest, wait: _HeldElsewhere
    ) -> None:
        """One wait of a run for a session another process holds (its lease still valid):
        ``reject`` refuses, ``interrupt``/``rollback`` ask that process to cancel its run
        (once per lease), every strategy gives up after ``wait_timeout``."""
        ctx, session_id = self.ctx, info.session_id
        if req.multitask == "reject":
            raise SessionBusy(
                f"session {session_id!r} is running in another process", session_id=session_id
            )
        if req.multitask in ("interrupt", "rollback") and wait.asked_epoch != info.lease_epoch:
            wait.asked_epoch = info.lease_epoch
            await request_cancel_elsewhere(ctx, session_id, req.multitask)
        loop_now = asyncio.get_running_loop().time()
        if wait.since is None:
            wait.since = loop_now
        elif (
            ctx.options.wait_timeout is not None
            and loop_now - wait.since >= ctx.options.wait_timeout
        ):
            raise LeaseWaitTimeout(
                f"session {session_id!r} is held by another process "
                f"({info.lease_owner}, lease until {info.lease_expires_at}); gave up "
                f"waiting after {ctx.options.wait_timeout:g} s (wait_timeout)",
                session_id=session_id,
            )
        await asyncio.sleep(_POLL_SECONDS)

    def _graph_input(self, info: SessionInfo, req: RunRequest) -> tuple[Any, bool]:
        """Turn the caller's input into LangGraph's: an interrupted session is resumed.
        Returns (graph input, whether it resumes an interrupt)."""
        if req.literal_input and not isinstance(req.input, Command):
            return req.input, False
        if req.explicit_resume and info.status != SessionStatus.INTERRUPTED:
            raise InvalidTransition(
                f"session {info.session_id!r} is {info.status}: there is no interrupt to resume",
                session_id=info.session_id,
            )
        if isinstance(req.input, Command):
            if (
                req.input.resume is not None
                and info.status != SessionStatus.INTERRUPTED
                and req.checkpoint_id is None
            ):
                raise InvalidTransition(
                    f"session {info.session_id!r} is {info.status}: there is no interrupt to "
                    "resume",
                    session_id=info.session_id,
                )
            return self._resume_every_pending(info, req), req.input.resume is not None
        if info.status != SessionStatus.INTERRUPTED or req.checkpoint_id is not None:
            return req.input, False
        pending = info.interrupts
        default_key = self.ctx.options.resume_key
        if not pending:  # a static breakpoint (interrupt_before/after): continue from it
            return None, True
        keys = [interrupt_resume_key(p["value"]) or default_key for p in pending]
        value = req.input
        if not req.explicit_resume:
            self._refuse_stray_input(info, keys, value)

        def pick(key: str | None) -> Any:
            if not req.explicit_resume and key and isinstance(value, dict) and key in value:
                return value[key]
            return value

        if len(pending) == 1:
            answer = pick(keys[0])
            if answer is None:  # LangGraph reads Command(resume=None) as no command at all
                return Command(resume={pending[0]["id"]: None}), True
            return Command(resume=answer), True
        ids = [p["id"] for p in pending]
        if isinstance(value, dict) and value and set(value) <= set(ids):
            return Command(resume=dict(value)), True
        if not req.explicit_resume and isinstance(value, dict):
            # Interrupts that name their own resume key take only an answer under that key;
            # the others stay pending for a later invoke.
            named = {i: value[k] for i, k in zip(ids, keys, strict=True) if k and k in value}
            if named and len(set(keys)) == len(keys):
                return Command(resume=named), True
        return Command(resume={i: pick(k) for i, k in zip(ids, keys, strict=True)}), True

    @staticmethod
    def _resume_every_pending(info: SessionInfo, req: RunRequest) -> Command:
        """A ``Command(resume=value)`` on a session with several pending interrupts answers
        each of them with ``value`` (as ``resume(value)`` does); LangGraph itself would
        refuse a resume that names no interrupt id. A map of interrupt ids is kept."""
        cmd: Command = req.input
        pending = [p["id"] for p in info.interrupts]
        if (
            cmd.resume is None
            or len(pending) < 2
            or info.status != SessionStatus.INTERRUPTED
            or req.checkpoint_id is not None
            or (isinstance(cmd.resume, dict) and cmd.resume and set(cmd.resume) <= set(pending))
        ):
            return cmd
        return dataclasses.replace(cmd, resume={i: cmd.resume for i in pending})

    @staticmethod
    def _refuse_stray_input(info: SessionInfo, keys: list[str | None], value: Any) -> None:
        """A plain input answers a pending interrupt only when it carries the interrupt's
        resume key (or, with several, their ids): any other input (a message typed while
        another client's question is pending, ``None``) is refused instead of becoming the
        answer. ``resume(value)`` / ``Command(resume=...)`` answer explicitly."""
        ids = {p["id"] for p in info.interrupts}
        if (
            isinstance(value, dict)
            and value
            and (any(k and k in value for k in keys) or set(value) <= ids)
        ):
            return
        named = sorted({k for k in keys if k})
        hint = f"give the answer under {' or '.join(map(repr, named))}, or " if named else ""
        raise InvalidTransition(
            f"session {info.session_id!r} is waiting at an interrupt and this input does not "
            f"answer it: {hint}resume it explicitly (session.resume(value), "
            'Command(resume=value), or over HTTP {"resume": value})',
            session_id=info.session_id,
        )

    def _config(self, session_id: str, run_id: str, req: RunRequest) -> dict[str, Any]:
        config: dict[str, Any] = dict(req.config or {})
        configurable = dict(config.get("configurable") or {})
        configurable["thread_id"] = session_id
        if req.checkpoint_id is not None:
            configurable["checkpoint_id"] = req.checkpoint_id
        config["configurable"] = configurable
        config.setdefault("run_id", uuid.UUID(run_id))
        if self.ctx.options.recursion_limit is not None:
            config.setdefault("recursion_limit", self.ctx.options.recursion_limit)
        return config

    async def _run_graph(
        self,
        session_id: str,
        graph_id: str,
        graph_input: Any,
        config: dict[str, Any],
        req: RunRequest,
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        # LangGraph's overloads do not take our plain-str modes
        graph: Any = self.ctx.graph_for(graph_id, session_id=session_id)
        breakpoints = self.ctx.graphs.has_static_breakpoints(graph_id) or req.breakpoints
        options = req.graph_options or {}
        if req.on_chunk is None:
            out = await graph.ainvoke(graph_input, config, durability=req.durability, **options)
            if isinstance(out, dict):
                values = {k: v for k, v in out.items() if k != "__interrupt__"}
                interrupts = interrupts_to_dicts(out.get("__interrupt__"))
            else:
                values, interrupts = {"output": out}, []
            if not interrupts and breakpoints:
                snapshot = await graph.aget_state({"configurable": {"thread_id": session_id}})
                if snapshot.next:
                    interrupts = interrupts_to_dicts(snapshot.interrupts)
                    values["__breakpoint__"] = list(snapshot.next)
            return values, interrupts
        final = FinalState(req.stream_mode, req.subgraphs)
        on_chunk = req.on_chunk

        async def deliver(chunk: Any) -> None:
            wanted, shaped = final.observe(chunk)
            if wanted:
                await on_chunk(shaped)

        if EVENTS_MODE in final.modes:
            await self._stream_events(graph, graph_input, config, req, options, final, deliver)
        else:
            async for chunk in graph.astream(
                graph_input,
                config,
                stream_mode=final.modes,
                subgraphs=req.subgraphs,
                durability=req.durability,
                **options,
            ):
                await deliver(chunk)
        if final.known and not breakpoints and values_match_state(graph):
            state = final.values
            values = dict(state) if isinstance(state, dict) else {"output": state}
            return values, interrupts_to_dicts(final.interrupts)
        snapshot = await graph.aget_state({"configurable": {"thread_id": session_id}})
        values = (
            dict(snapshot.values)
            if isinstance(snapshot.values, dict)
            else {"output": snapshot.values}
        )
        interrupts = interrupts_to_dicts(snapshot.interrupts)
        if not interrupts and snapshot.next and breakpoints:
            values["__breakpoint__"] = list(snapshot.next)
        return values, interrupts

    @staticmethod
    async def _stream_events(
        graph: Any,
        graph_input: Any,
        config: dict[str, Any],
        req: RunRequest,
        options: Any,
        final: FinalState,
        deliver: Callable[[Any], Awaitable[None]],
    ) -> None:
        """Stream mode ``events``: LangGraph's ``astream_events`` (v2). The run's own
        stream chunks come as with ``astream`` (through ``deliver``); every other event as a
        :class:`GraphEvent`."""
        assert req.on_chunk is not None
        modes = [m for m in final.modes if m != EVENTS_MODE]
        root = str(config["run_id"])
        async for event in graph.astream_events(
            graph_input,
            config,
            version="v2",
            stream_mode=modes,
            subgraphs=req.subgraphs,
            durability=req.durability,
            **options,
        ):
            if event.get("event") == "on_chain_stream" and str(event.get("run_id")) == root:
                await deliver(event["data"]["chunk"])
            else:
                await req.on_chunk(GraphEvent(event))

    async def _execute_locked(
        self,
        session_id: str,
        info: SessionInfo,
        req: RunRequest,
        gate: Gate,
        ticket: int,
        spot: QueueSpot,
    ) -> tuple[InvokeResult, SessionInfo]:
        ctx = self.ctx
        ctx.graph_for(info.graph_id, session_id=session_id)  # served? before a run begins
        before, run, graph_input, after = await self._start(
            session_id, info, req, gate, ticket, spot
        )
        config = self._config(session_id, run.run_id, req)
        # Fencing: from here every checkpoint write of this session checks our lease.
        ctx.backend.fence(session_id, self.ctx.lease_owner, after.lease_epoch)
        task = asyncio.ensure_future(
            self._run_graph(session_id, after.graph_id, graph_input, config, req)
        )
        active = gate.active = ActiveRun(run.run_id, task)
        if ticket != gate.generation:  # an interrupt/rollback/delete came while it started
            active.cancel(gate.cancel_reason)
        heartbeat = asyncio.ensure_future(self._heartbeat(session_id, after.lease_epoch, active))
        try:
            return await self._await_run(session_id, before, run, req, active)
        finally:
            heartbeat.cancel()
            ctx.backend.unfence(session_id)
            gate.active = None
            active.finished.set()

    async def _heartbeat(self, session_id: str, epoch: int, active: ActiveRun) -> None:
        """Renew the run's lease every third of ``lease_ttl``; a lease found gone (the
        session deleted or repaired by another process) cancels the run."""
        ctx = self.ctx
        interval = ctx.options.lease_ttl / 3
        while True:
            await asyncio.sleep(interval)
            try:
                held = await ctx.backend.renew_lease(
                    session_id, self.ctx.lease_owner, epoch, lease_clock() + ctx.options.lease_delta
                )
            except Exception as exc:  # a storage hiccup: try again at the next beat
                log.warning("renewing the lease of session %s failed: %s", session_id, exc)
                continue
            if not held:
                log.warning("session %s: the run lost its lease; cancelling it", session_id)
                active.cancel("lease lost")
                return

    def _graph_binding(self, session_id: str, info: SessionInfo) -> str | Unchanged:
        """The graph identity that binds the session to the graph about to run it:
        ``UNCHANGED`` when it is already bound to it; adoption by a session with no identity
        yet (older files); ``GraphMismatch`` for another graph (``rebind`` is the explicit
        way)."""
        mine = self.ctx.graph_identity(info.graph_id)
        if info.graph_identity is None:
            return mine
        check_same_graph(session_id, info.graph_identity, mine)
        return UNCHANGED

    async def _await_run(
        self, session_id: str, before: SessionInfo, run: RunInfo, req: RunRequest, active: ActiveRun
    ) -> tuple[InvokeResult, SessionInfo]:
        ctx = self.ctx
        task = active.task
        try:
            values, interrupts = await task
        except asyncio.CancelledError:
            reason = active.cancel_reason
            outer_cancelled = (t := asyncio.current_task()) is not None and t.cancelling() > 0
            await settle(self._finish_cancelled(session_id, before, run, reason or "cancelled"))
            if outer_cancelled or reason is None:
                raise
            error = LeaseLost if reason == "lease lost" else RunCancelled
            raise error(
                f"run {run.run_id} of session {session_id!r} was cancelled ({reason})",
                session_id=session_id,
                run_id=run.run_id,
            ) from None
        except LeaseLost as exc:
            # Fenced: the session was deleted or taken over; nothing of ours was written.
            await settle(self._finish_cancelled(session_id, before, run, "lease lost"))
            raise LeaseLost(
                f"run {run.run_id} of session {session_id!r} lost its lease: {exc.message}",
                session_id=session_id,
                run_id=run.run_id,
            ) from exc
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            log.error(
                "run %s of session %r failed: %s", run.run_id, session_id, message, exc_info=exc
            )
            trace = "".join(traceback.format_exception(exc))
            if len(trace) > TRACEBACK_LIMIT:  # the end holds the raising frame
                trace = "…" + trace[-TRACEBACK_LIMIT:]
            await settle(self._finish_failed(session_id, before, run, message, trace))
            raise RunFailed(
                f"the graph raised in run {run.run_id} of session {session_id!r}: {message}",
                session_id=session_id,
                run_id=run.run_id,
                error=exc,
            ) from exc
        # A stop at a breakpoint the request set leaves the session waiting, as an interrupt
        # does: the next run continues from it (input ``None``).
        stopped = bool(interrupts) or (req.breakpoints and "__breakpoint__" in values)
        status = SessionStatus.INTERRUPTED if stopped else SessionStatus.COMPLETED
        finish = RunFinish(
            run_status=RunStatus.INTERRUPTED if stopped else RunStatus.SUCCESS,
            updated_at=ctx.now(),
            status=status,
            run_count=before.run_count + 1,
            interrupts=interrupts,
            last_error=None,
            slide_ttl=True,
        )
        event = (
            NewEvent(
                EventType.INTERRUPTED, run.run_id, {"interrupts": [i["id"] for i in interrupts]}
            )
            if stopped
            else NewEvent(EventType.RUN_COMPLETED, run.run_id)
        )
        after, checkpoint_id = await settle(
            ctx.backend.finish_run(
                session_id,
                run.run_id,
                finish,
                events=[event],
                expect_lease=self.ctx.lease_owner,
            )
        )
        if ctx.options.checkpoint_retention:
            await ctx.backend.prune_checkpoints(session_id, ctx.options.checkpoint_retention)
        new_resume_key = None
        if interrupts:
            new_resume_key = interrupt_resume_key(interrupts[0]["value"]) or ctx.options.resume_key
        result = InvokeResult(
            status="interrupted" if stopped else "complete",
            state=values,
            output=values.get(ctx.options.output_key) if ctx.options.output_key else None,
            resume_key=new_resume_key,
            interrupts=interrupts,
            run_id=run.run_id,
            checkpoint_id=checkpoint_id,
            session_id=session_id,
        )
        if after is None:
            raise SessionNotFound(
                f"session {session_id!r} was deleted during the run", session_id=session_id
            )
        return result, after

    async def _finish_failed(
        self,
        session_id: str,
        before: SessionInfo,
        run: RunInfo,
        message: str,
        trace: str | None = None,
    ) -> None:
        ctx = self.ctx
        finish = RunFinish(
            run_status=RunStatus.ERROR,
            error=message,
            updated_at=ctx.now(),
            status=SessionStatus.FAILED,
            run_count=before.run_count + 1,
            interrupts=[],
            last_error=message,
            slide_ttl=True,
        )
        await ctx.backend.finish_run(
            session_id,
            run.run_id,
            finish,
            events=[
                NewEvent(
                    EventType.RUN_FAILED,
                    run.run_id,
                    {"error": message, "traceback": trace} if trace else {"error": message},
                )
            ],
            expect_lease=self.ctx.lease_owner,
        )

    async def _finish_cancelled(
        self, session_id: str, before: SessionInfo, run: RunInfo, reason: str
    ) -> None:
        ctx = self.ctx
        if reason == "rollback":
            try:  # fenced: only while this run still holds the session
                await ctx.backend.delete_checkpoints_after(
                    session_id, run.checkpoint_before, writes_mark=run.writes_mark
                )
            except LeaseLost:
                log.warning(
                    "session %s: run %s lost its lease; its rollback deletes nothing",
                    session_id,
                    run.run_id,
                )
        now = ctx.now()
        status, interrupts = before.status, before.interrupts
        last_error: str | Unchanged = UNCHANGED
        if reason != "rollback":
            # The cancelled run's finished steps stay: the checkpoint says where it stands.
            try:
                found, interrupts = await status_from_checkpoint(
                    self.ctx, session_id, before.graph_id
                )
            except Exception as exc:  # the run's end must be recorded all the same
                log.exception("reading session %s after a cancelled run failed", session_id)
                found, interrupts = SessionStatus.FAILED, []
                reason = f"{reason}; its state could not be read: {type(exc).__name__}: {exc}"
            if found is not None:
                status = found
            if found == SessionStatus.FAILED:
                last_error = (
                    f"run {run.run_id} was cancelled ({reason}) before it finished; "
                    "invoke(None) continues it, a new input starts a new turn"
                )
        finish = RunFinish(
            run_status=RunStatus.CANCELLED,
            error=f"cancelled ({reason})",
            updated_at=now,
            status=status,
            run_count=before.run_count,
            interrupts=interrupts,
            last_error=last_error,
            slide_ttl=True,
        )
        await ctx.backend.finish_run(
            session_id,
            run.run_id,
            finish,
            events=[NewEvent(EventType.RUN_CANCELLED, run.run_id, {"reason": reason})],
            expect_lease=self.ctx.lease_owner,
        )


async def settle(awaitable: Any) -> Any:
    """Await ``awaitable`` to its end even if our task is cancelled meanwhile (then re-raise
    the cancellation): a run's end must be recorded before its session's gate opens."""
    future = asyncio.ensure_future(awaitable)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        while not future.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(future)
        raise
