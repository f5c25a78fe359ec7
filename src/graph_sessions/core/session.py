"""``GraphSession``: one durable thread of a graph."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from langchain_core.runnables import RunnableConfig
from langgraph.pregel import Pregel
from langgraph.types import StateSnapshot

from graph_sessions.core import sessions as registry
from graph_sessions.core.context import CoreContext
from graph_sessions.core.event_tail import follow_events
from graph_sessions.core.identity import check_same_graph
from graph_sessions.core.lifecycle import check_can_run, check_transition
from graph_sessions.core.messages import SessionMessages
from graph_sessions.core.repair import interrupts_to_dicts, status_from_checkpoint
from graph_sessions.core.runs import PreparedRun, RunExecutor, RunRequest
from graph_sessions.errors import (
    BackendError,
    CheckpointNotFound,
    InvalidInput,
    InvalidTransition,
    LeaseLost,
    RunCancelled,
    RunFailed,
    SessionBusy,
    SessionNotFound,
)
from graph_sessions.models import (
    CheckpointInfo,
    Event,
    EventType,
    InvokeResult,
    RunInfo,
    SessionInfo,
    SessionStatus,
)
from graph_sessions.storage.backend import NewEvent
from graph_sessions.storage.records import SessionUpdate
from graph_sessions.vocabulary import ON_DISCONNECT, Durability, MultitaskStrategy, choice_error

_MISSING: Any = object()
_DONE = object()


def snapshot_to_info(snapshot: StateSnapshot) -> CheckpointInfo:
    """Flatten a LangGraph ``StateSnapshot``."""
    conf = snapshot.config.get("configurable", {})
    parent = (snapshot.parent_config or {}).get("configurable", {})
    metadata = dict(snapshot.metadata or {})
    created = datetime.fromisoformat(snapshot.created_at) if snapshot.created_at else None
    return CheckpointInfo(
        checkpoint_id=conf.get("checkpoint_id", ""),
        parent_checkpoint_id=parent.get("checkpoint_id"),
        created_at=created,
        step=metadata.get("step"),  # type: ignore[arg-type]
        source=metadata.get("source"),  # type: ignore[arg-type]
        next=list(snapshot.next),
        values=dict(snapshot.values)
        if isinstance(snapshot.values, dict)
        else {"output": snapshot.values},
        interrupts=interrupts_to_dicts(snapshot.interrupts),
        metadata=metadata,
    )


def check_on_disconnect(on_disconnect: str, session_id: str | None = None) -> None:
    """``InvalidInput`` unless ``on_disconnect`` is one of :data:`ON_DISCONNECT`."""
    problem = choice_error("on_disconnect", on_disconnect, ON_DISCONNECT)
    if problem is not None:
        raise InvalidInput(problem, session_id=session_id)


class ContextOwner(Protocol):
    """What a session is made from: the manager, or anything that carries its context."""

    @property
    def context(self) -> CoreContext:
        """The core context sessions work with."""
        ...


class RunStream:
    """A streamed run: iterate it for LangGraph's chunks, then ``await stream.result()``.

    The run executes in its own task: if the consumer stops iterating early, the run goes
    on to the end (``on_disconnect="continue"``, the default) or is cancelled
    (``on_disconnect="cancel"``).

    At most :attr:`max_buffered` chunks wait for the consumer: a slow consumer slows the
    run down (backpressure) instead of letting chunks pile up in memory. Once the consumer
    has stopped iterating, the run goes on without keeping its chunks.

    With ``on_chunk``, the chunks are handed to that callback instead, in the run's own
    task as the graph makes them (no queue, no hop to a reader's task: the cheap way for a
    caller that keeps the chunks itself); the stream is then not iterable, await
    :meth:`result` or :meth:`finished`.
    """

    #: chunks produced but not yet taken by the consumer, at most
    max_buffered = 8

    def __init__(
        self,
        req: RunRequest,
        run: Callable[[], Awaitable[InvokeResult]],
        on_disconnect: str,
        on_chunk: Callable[[Any], Awaitable[None]] | None = None,
    ) -> None:
        """Start ``run`` (which executes ``req``) in a task of its own; the chunks of
        ``req`` come to this stream (to ``on_chunk`` when given)."""
        check_on_disconnect(on_disconnect)
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._room = asyncio.Semaphore(self.max_buffered)
        self._detached = on_chunk is not None
        self._iterating = False
        self._inline = on_chunk is not None
        req.on_chunk = on_chunk if on_chunk is not None else self._put
        self._on_disconnect = on_disconnect
        self._task = asyncio.ensure_future(run())
        self._task.add_done_callback(lambda _: self._queue.put_nowait(_DONE))

    async def _put(self, chunk: Any) -> None:
        if self._detached:
            return
        await self._room.acquire()  # waits while max_buffered chunks are unread
        if not self._detached:
            self._queue.put_nowait(chunk)

    def __aiter__(self) -> AsyncIterator[Any]:
        if self._inline:
            raise TypeError("this run hands its chunks to its on_chunk callback")
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        finished = False
        self._iterating = True
        try:
            while True:
                item = await self._queue.get()
                if item is _DONE:
                    finished = True
                    break
                self._room.release()
                yield item
            await self._task  # raises the run's error, if any
        finally:
            self._iterating = False
            if not finished:
                self.abandon()

    def abandon(self) -> None:
        """The reader is gone: cancel the run (``on_disconnect="cancel"``) or let it go on
        without keeping its chunks. Harmless once the run has ended. Idempotent."""
        if self._on_disconnect == "cancel" and not self._task.done():
            self._task.cancel()
        self.stop_buffering()

    def stop_buffering(self) -> None:
        """Nobody reads on: drop what is buffered and never wait for room again (the run
        goes on to its end without keeping its chunks). Idempotent."""
        self._detached = True
        while not self._queue.empty():
            if self._queue.get_nowait() is not _DONE:
                self._room.release()
            else:
                self._queue.put_nowait(_DONE)
                break

    async def result(self) -> InvokeResult:
        """Wait for the run to end and return its result (or raise its error).

        Awaited while nobody iterates the stream, the chunks not read yet are dropped, so
        a run whose chunks are never read does not wait for a reader."""
        if not self._iterating:
            self.stop_buffering()
        return await self._task

    async def finished(self) -> InvokeResult:
        """Like :meth:`result`, for an observer that runs beside the reader: it never
        drops chunks."""
        return await self._task

    @property
    def task(self) -> asyncio.Future[InvokeResult]:
        """The run's task: its result is the run's (cancelling it cancels the run)."""
        return self._task

    def cancel(self) -> None:
        """Cancel the run."""
        self._task.cancel()


class GraphSession:
    """One durable conversation or workflow with a graph. Get it from the manager.

    Subclass it (and pass ``session_class=`` to the manager) to add domain behaviour.
    """

    def __init__(self, manager: ContextOwner, info: SessionInfo) -> None:
        #: the manager that handed out this session (sessions work with its context only)
        self.manager = manager
        #: storage, clock, options, graphs and gates this session works with
        self.context = manager.context
        self._runs = RunExecutor(self.context)
        self.info = info
        self.last_result: InvokeResult | None = None
        self.messages = SessionMessages(self)

    # identity ------------------------------------------------------------------------
    @property
    def session_id(self) -> str:
        """The session's id (LangGraph's ``thread_id``)."""
        return self.info.session_id

    @property
    def thread_id(self) -> str:
        """Alias of :attr:`session_id` (the seed's name)."""
        return self.info.session_id

    @property
    def status(self) -> SessionStatus:
        """The status as last seen by this object (see :meth:`refresh`)."""
        return self.info.status

    @property
    def metadata(self) -> dict[str, Any]:
        """The session's metadata as last seen by this object."""
        return self.info.metadata

    @property
    def is_complete(self) -> bool:
        """True when the last run reached the end of the graph, or the state sets ``_complete``."""
        if self.last_result is not None and self.last_result.state.get("_complete"):
            return True
        return self.info.status == SessionStatus.COMPLETED

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.session_id!r}, status={self.info.status})"

    def _graph(self) -> Pregel:
        return self.context.graph_for(self.info.graph_id, session_id=self.session_id)

    def _config(self, checkpoint_id: str | None = None) -> RunnableConfig:
        conf: dict[str, Any] = {"thread_id": self.session_id, "checkpoint_ns": ""}
        if checkpoint_id:
            conf["checkpoint_id"] = checkpoint_id
        return {"configurable": conf}

    async def refresh(self) -> SessionInfo:
        """Re-read the registry row (raises ``SessionNotFound`` / ``SessionExpired``)."""
        self.info = await self.context.load_info(self.session_id)
        return self.info

    # runs ----------------------------------------------------------------------------
    async def _prepare(self, req: RunRequest) -> PreparedRun:
        """Check the run's preconditions (see :meth:`RunExecutor.prepare`)."""
        prepared = await self._runs.prepare(self.info, req)
        self.info = prepared.info
        return prepared

    async def _execute(self, prepared: PreparedRun) -> InvokeResult:
        try:
            result, info = await self._runs.execute(prepared)
        except (RunFailed, RunCancelled):
            # The run ended badly but the row moved on (failed, cancelled): show it, if the
            # storage still answers (a manager closing may have closed it): the run's own
            # error is what the caller gets either way.
            with contextlib.suppress(Exception):
                self.info = await self.context.backend.get_session(self.session_id) or self.info
            raise
        self.info = info
        self.last_result = result
        return result

    def _request(
        self,
        kind: str,
        input: Any,
        multitask: MultitaskStrategy | None,
        config: dict[str, Any] | None,
        durability: Durability | None,
        checkpoint_id: str | None = None,
        run_id: str | None = None,
        graph_options: dict[str, Any] | None = None,
    ) -> RunRequest:
        return RunRequest(
            kind=kind,
            input=input,
            multitask=multitask or self.context.options.multitask,
            config=config,
            durability=durability or self.context.options.durability,
            checkpoint_id=checkpoint_id,
            run_id=run_id,
            graph_options=graph_options,
        )

    async def invoke(
        self,
        input: Any = None,
        *,
        multitask: MultitaskStrategy | None = None,
        config: dict[str, Any] | None = None,
        durability: Durability | None = None,
        checkpoint_id: str | None = None,
        run_id: str | None = None,
        graph_options: dict[str, Any] | None = None,
    ) -> InvokeResult:
        """Run the graph with ``input`` and wait for it to finish or pause.

        On an interrupted session the input resumes the interrupt: the value under the
        interrupt's ``resume_key`` (or the manager's), else the whole input. ``None`` on a
        failed session re-runs what the failed run left pending. ``checkpoint_id`` runs from
        a past checkpoint (a fork: the new steps become the session's head).
        ``run_id`` names the run (a new id when not given); ``graph_options`` are LangGraph
        run options passed on to the graph (``interrupt_before``, ``interrupt_after``,
        ``context``; a stop at such a breakpoint leaves the session ``interrupted``).
        Raises ``RunFailed`` when the graph raises (the session becomes ``failed``).
        """
        req = self._request(
            "invoke", input, multitask, config, durability, checkpoint_id, run_id, graph_options
        )
        return await self._execute(await self._prepare(req))

    def stream(
        self,
        input: Any = None,
        *,
        mode: str | Sequence[str] = "values",
        subgraphs: bool = False,
        multitask: MultitaskStrategy | None = None,
        config: dict[str, Any] | None = None,
        durability: Durability | None = None,
        checkpoint_id: str | None = None,
        on_disconnect: str = "continue",
        run_id: str | None = None,
        graph_options: dict[str, Any] | None = None,
        literal_input: bool = False,
    ) -> RunStream:
        """Run the graph and stream LangGraph chunks of ``mode`` (values, updates, messages,
        custom, debug, or a list of them: then each chunk is ``(mode, data)``; ``events`` in
        a list adds LangGraph's ``astream_events`` events as ``GraphEvent`` chunks).
        ``literal_input``: the input goes to LangGraph as it is (on an interrupted session it
        starts a new turn instead of answering the interrupt).

        The run starts at once; an error that keeps it from starting comes out of the
        iteration (or :meth:`RunStream.result`). :meth:`start_stream` raises it first."""
        check_on_disconnect(on_disconnect, self.session_id)
        req = self._stream_request(
            input,
            mode,
            subgraphs,
            multitask,
            config,
            durability,
            checkpoint_id,
            run_id,
            graph_options,
            literal_input,
        )

        async def run() -> InvokeResult:
            return await self._execute(await self._prepare(req))

        return RunStream(req, run, on_disconnect)

    async def start_stream(
        self,
        input: Any = None,
        *,
        mode: str | Sequence[str] = "values",
        subgraphs: bool = False,
        multitask: MultitaskStrategy | None = None,
        config: dict[str, Any] | None = None,
        durability: Durability | None = None,
        checkpoint_id: str | None = None,
        on_disconnect: str = "continue",
        run_id: str | None = None,
        graph_options: dict[str, Any] | None = None,
        literal_input: bool = False,
        set_metadata: dict[str, Any] | None = None,
        on_chunk: Callable[[Any], Awaitable[None]] | None = None,
    ) -> RunStream:
        """:meth:`stream`, once the run's preconditions hold: a run that cannot start
        raises here the typed error :meth:`invoke` would raise (suspended, busy under
        ``reject``, a never-run session without input...), before any chunk exists.
        ``set_metadata``: keys the run merges into the session's metadata as it begins
        (one write with the run's start, not one of its own). ``on_chunk``: each chunk is
        awaited through it, in the run's task, instead of being queued for iteration (see
        :class:`RunStream`)."""
        check_on_disconnect(on_disconnect, self.session_id)
        req = self._stream_request(
            input,
            mode,
            subgraphs,
            multitask,
            config,
            durability,
            checkpoint_id,
            run_id,
            graph_options,
            literal_input,
        )
        if set_metadata:
            registry.check_metadata(set_metadata, self.session_id)
            req.set_metadata = dict(set_metadata)
        prepared = await self._prepare(req)
        return RunStream(req, lambda: self._execute(prepared), on_disconnect, on_chunk)

    def _stream_request(
        self,
        input: Any,
        mode: str | Sequence[str],
        subgraphs: bool,
        multitask: MultitaskStrategy | None,
        config: dict[str, Any] | None,
        durability: Durability | None,
        checkpoint_id: str | None,
        run_id: str | None,
        graph_options: dict[str, Any] | None,
        literal_input: bool,
    ) -> RunRequest:
        req = self._request(
            "stream", input, multitask, config, durability, checkpoint_id, run_id, graph_options
        )
        req.literal_input = literal_input
        req.stream_mode = list(mode) if not isinstance(mode, str) else mode
        req.subgraphs = subgraphs
        return req

    async def resume(
        self,
        value: Any = _MISSING,
        *,
        multitask: MultitaskStrategy | None = None,
        config: dict[str, Any] | None = None,
        durability: Durability | None = None,
    ) -> InvokeResult | None:
        """Resume what paused the session.

        On an interrupted session, ``value`` answers the interrupt (a dict of interrupt id to
        value answers several at once) and the run's result is returned. On a suspended
        session, ``resume()`` (no value) lifts the suspension and returns ``None``.
        """
        # A cached "interrupted" is checked by the run itself (revision guard), saving a read.
        info = self.info if self.info.status == SessionStatus.INTERRUPTED else await self.refresh()
        if info.status == SessionStatus.SUSPENDED:
            if value is not _MISSING:
                raise InvalidInput(
                    f"session {self.session_id!r} is suspended: call resume() without a value to lift "
                    "the suspension, then answer the interrupt",
                    session_id=self.session_id,
                )
            await self._unsuspend(info)
            return None
        if info.status != SessionStatus.INTERRUPTED:
            raise InvalidTransition(
                f"session {self.session_id!r} is {info.status}: there is no interrupt to resume",
                session_id=self.session_id,
            )
        req = self._request(
            "resume", None if value is _MISSING else value, multitask, config, durability
        )
        req.explicit_resume = True
        return await self._execute(await self._prepare(req))

    # lifecycle -----------------------------------------------------------------------
    async def suspend(self, reason: str | None = None) -> SessionInfo:
        """Pause on purpose: runs are refused until :meth:`resume`."""
        if self.context.gates.busy(self.session_id):
            raise SessionBusy(
                f"session {self.session_id!r} is running; suspend it after the run",
                session_id=self.session_id,
            )
        info = await self.refresh()
        check_transition(info, SessionStatus.SUSPENDED)
        return await self._pause_change(
            SessionUpdate(
                status=SessionStatus.SUSPENDED, previous_status=info.status, suspend_reason=reason
            ),
            NewEvent(EventType.SUSPENDED, None, {"reason": reason, "from": str(info.status)}),
            expect=info.status,
            doing="suspending",
        )

    async def _unsuspend(self, info: SessionInfo) -> SessionInfo:
        target = info.previous_status
        if target is None:  # e.g. revived after expiring while suspended: ask the checkpoint
            target, _ = await status_from_checkpoint(
                self.context, self.session_id, self.info.graph_id
            )
        target = target or SessionStatus.CREATED
        return await self._pause_change(
            SessionUpdate(status=target, previous_status=None, suspend_reason=None),
            NewEvent(EventType.UNSUSPENDED, None, {"to": str(target)}),
            expect=SessionStatus.SUSPENDED,
            doing="resuming",
        )

    async def _pause_change(
        self, update: SessionUpdate, event: NewEvent, *, expect: SessionStatus, doing: str
    ) -> SessionInfo:
        """Suspend or lift a suspension, only if the status is still ``expect``."""
        updated = await self.context.backend.update_session(
            self.session_id,
            replace(update, updated_at=self.context.now()),
            events=[event],
            expect_status=[expect],
        )
        if updated is None:
            raise SessionBusy(
                f"session {self.session_id!r} changed while {doing}; try again",
                session_id=self.session_id,
            )
        self.info = updated
        return updated

    # state and history ---------------------------------------------------------------
    async def get_state(self) -> dict[str, Any]:
        """The session's current state values (the latest checkpoint); ``{}`` before any run.

        A manager that does not serve the session's graph reads the raw checkpoint's values."""
        if self.info.graph_id not in self.context.graphs.ids:
            saved = await self.context.backend.checkpointer.aget_tuple(self._config())
            if saved is None:
                return {}
            return {
                k: v
                for k, v in saved.checkpoint["channel_values"].items()
                if not k.startswith(("__", "branch:"))
            }
        snapshot = await self._graph().aget_state(self._config())
        values = snapshot.values
        return dict(values) if isinstance(values, dict) else {"output": values}

    async def snapshot(self, checkpoint_id: str | None = None) -> CheckpointInfo | None:
        """The latest (or the given) checkpoint with its next nodes and pending interrupts."""
        snapshot = await self.state_snapshot(checkpoint_id)
        if snapshot.created_at is None:  # LangGraph echoes the config when nothing is saved
            if checkpoint_id is not None:
                raise CheckpointNotFound(
                    f"session {self.session_id!r} has no checkpoint {checkpoint_id!r}",
                    session_id=self.session_id,
                )
            return None
        return snapshot_to_info(snapshot)

    async def state_snapshot(
        self, checkpoint_id: str | None = None, *, checkpoint_ns: str = "", subgraphs: bool = False
    ) -> StateSnapshot:
        """LangGraph's own ``StateSnapshot`` of the head (or of ``checkpoint_id``), tasks and
        interrupts included (``subgraphs``: with the subgraphs' states in the tasks). Nothing
        saved yet: a snapshot with ``created_at=None`` and empty values, as LangGraph answers."""
        config = self._config(checkpoint_id)
        if checkpoint_ns:
            config["configurable"]["checkpoint_ns"] = checkpoint_ns
        return await self._graph().aget_state(config, subgraphs=subgraphs)

    async def state_history(
        self,
        *,
        limit: int | None = 10,
        before: str | None = None,
        metadata: dict[str, Any] | None = None,
        checkpoint_id: str | None = None,
        checkpoint_ns: str = "",
    ) -> list[StateSnapshot]:
        """LangGraph's ``StateSnapshot`` history, newest first: at most ``limit``, older than
        checkpoint ``before``, whose metadata contains ``metadata``, from ``checkpoint_id``
        (and older) in namespace ``checkpoint_ns``."""
        if limit is not None and limit < 1:
            raise InvalidInput("limit must be >= 1", session_id=self.session_id)
        if metadata is not None and not isinstance(metadata, dict):
            raise InvalidInput("metadata filter must be a dict", session_id=self.session_id)
        config = self._config(checkpoint_id)
        config["configurable"]["checkpoint_ns"] = checkpoint_ns
        kwargs: dict[str, Any] = {"limit": limit, "filter": metadata or None}
        if before:
            kwargs["before"] = self._config(before)
        return [s async for s in self._graph().aget_state_history(config, **kwargs)]

    async def checkpoints(self, limit: int = 20, before: str | None = None) -> list[CheckpointInfo]:
        """History, newest first; pass the last id you got as ``before`` for the next page."""
        return [snapshot_to_info(s) for s in await self.state_history(limit=limit, before=before)]

    async def _after_state_change(
        self, event: NewEvent, pending: list[dict[str, Any]]
    ) -> CheckpointInfo:
        """Set the status from the new head. ``pending``: the interrupts the head still
        answers to when LangGraph no longer lists them (they were asked before the change and
        the interrupted node has not run since)."""
        snapshot = await self._graph().aget_state(self._config())
        info = snapshot_to_info(snapshot)
        interrupts = info.interrupts or (pending if info.next else [])
        if interrupts:
            status = SessionStatus.INTERRUPTED
        elif self.info.status == SessionStatus.CREATED:
            status = SessionStatus.CREATED
        else:
            status = SessionStatus.COMPLETED
        updated = await self.context.backend.update_session(
            self.session_id,
            SessionUpdate(status=status, interrupts=interrupts, updated_at=self.context.now()),
            events=[event],
        )
        if updated is not None:
            self.info = updated
        return info

    async def _guard_mutation(self) -> SessionInfo:
        info = await self.refresh()
        check_can_run(info)
        if info.status == SessionStatus.RUNNING:
            raise SessionBusy(f"session {self.session_id!r} is running", session_id=self.session_id)
        self.check_graph()
        return info

    @contextlib.asynccontextmanager
    async def _fenced_change(self, info: SessionInfo) -> AsyncIterator[None]:
        """Checkpoint writes inside are fenced: refused if, meanwhile, another process
        started a run on the session or deleted it (``SessionBusy`` / ``SessionNotFound``)."""
        backend = self.context.backend
        backend.fence(self.session_id, None, info.lease_epoch)
        try:
            yield
        except LeaseLost as exc:
            if await backend.get_session(self.session_id) is None:
                raise SessionNotFound(
                    f"session {self.session_id!r} was deleted meanwhile", session_id=self.session_id
                ) from exc
            raise SessionBusy(
                f"session {self.session_id!r} started a run elsewhere meanwhile; nothing was "
                "written",
                session_id=self.session_id,
            ) from exc
        finally:
            backend.unfence(self.session_id)

    async def fork(self, checkpoint_id: str) -> CheckpointInfo:
        """Rewind: make a copy of past checkpoint ``checkpoint_id`` the session's head. The
        history after it stays readable; the next run continues from the copy."""
        async with self.context.gates.exclusive(self.session_id):
            info = await self._guard_mutation()
            target = await self.snapshot(checkpoint_id)  # raises CheckpointNotFound
            async with self._fenced_change(info):
                await self._graph().aupdate_state(self._config(checkpoint_id), None)
            return await self._after_state_change(
                NewEvent(EventType.FORKED, None, {"from_checkpoint": checkpoint_id}),
                target.interrupts if target else [],
            )

    async def update_state(
        self,
        values: dict[str, Any] | None,
        as_node: str | None = None,
        *,
        checkpoint_id: str | None = None,
    ) -> CheckpointInfo:
        """Write ``values`` into the state as if node ``as_node`` returned them; from past
        checkpoint ``checkpoint_id`` (a fork: the new checkpoint becomes the head) when
        given, else from the head."""
        if values is not None and not isinstance(values, dict):
            raise InvalidInput(
                "update_state takes a dict of state values", session_id=self.session_id
            )
        async with self.context.gates.exclusive(self.session_id):
            info = await self._guard_mutation()
            if checkpoint_id is not None:
                await self.snapshot(checkpoint_id)  # raises CheckpointNotFound
            try:
                async with self._fenced_change(info):
                    await self._graph().aupdate_state(
                        self._config(checkpoint_id), values, as_node=as_node
                    )
            except (SessionBusy, SessionNotFound, BackendError):  # not the update's fault
                raise
            except Exception as exc:  # LangGraph's InvalidUpdateError and friends
                raise InvalidInput(
                    f"update_state failed: {type(exc).__name__}: {exc}",
                    session_id=self.session_id,
                ) from exc
            return await self._after_state_change(
                NewEvent(EventType.STATE_UPDATED, None, {"as_node": as_node}), info.interrupts
            )

    async def prune_history(self, keep: int = 1) -> int:
        """Keep only the newest ``keep`` checkpoints (the state stays as it is); how many
        were removed. ``SessionBusy`` while a run holds the session."""
        if not isinstance(keep, int) or keep < 1:
            raise InvalidInput("keep must be an integer >= 1", session_id=self.session_id)
        async with self.context.gates.exclusive(self.session_id):
            info = await self.refresh()
            if info.status == SessionStatus.RUNNING:
                raise SessionBusy(
                    f"session {self.session_id!r} is running", session_id=self.session_id
                )
            return await self.context.backend.prune_checkpoints(self.session_id, keep)

    # logs ----------------------------------------------------------------------------
    async def events(self, after: int | None = None, limit: int = 100) -> list[Event]:
        """The execution log, oldest first; ``after`` an event id to page."""
        await self.refresh()
        return await self.context.backend.list_events(self.session_id, after_id=after, limit=limit)

    def follow_events(
        self,
        after: int | None = None,
        *,
        page: int = 100,
        stopped: Callable[[], bool] = lambda: False,
        wake: tuple[asyncio.Event, ...] = (),
    ) -> AsyncIterator[list[Event]]:
        """The execution log live: pages after ``after``, then each new page as it is
        logged, until ``stopped()`` (see ``core/event_tail.py``)."""
        return follow_events(self, after, page=page, stopped=stopped, wake=wake)

    async def runs(self, limit: int = 50) -> list[RunInfo]:
        """The session's runs, newest first."""
        await self.refresh()
        return await self.context.backend.list_runs(self.session_id, limit=limit)

    async def update_metadata(self, metadata: dict[str, Any], *, merge: bool = True) -> SessionInfo:
        """Merge ``metadata`` into the session's (or replace it with ``merge=False``)."""
        self.info = await registry.update_metadata(
            self.context, self.session_id, metadata, merge=merge
        )
        return self.info

    def check_graph(self) -> None:
        """Raise ``GraphMismatch`` when the session belongs to another graph than the one
        this manager would run it under (nothing is written; see :meth:`rebind`)."""
        check_same_graph(
            self.session_id,
            self.info.graph_identity,
            self.context.graph_identity(self.info.graph_id),
        )

    async def rebind(self, graph_id: str | None = None) -> SessionInfo:
        """Bind the session to this manager's graph (``graph_id``, else the default), so it
        runs under it although it belonged to another graph (``GraphMismatch`` otherwise)."""
        self.info = await registry.rebind(self.context, self.session_id, graph_id=graph_id)
        return self.info
