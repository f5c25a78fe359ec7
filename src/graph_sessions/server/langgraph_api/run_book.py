"""The runs of the LangGraph API that this process executes: each one's Run JSON fields,
its LangGraph status while pending or running, its events (for streams that join it), and
its result (for ``/wait`` and ``/join``).

Every run executes the same way, through the core: ``GraphSession.start_stream`` (so the
run is our run: our run row, lease, multitask strategy), its chunks translated to
LangGraph's events (:mod:`.stream_events`) and published to whoever follows the run, as
the graph makes them, in the run's own task (``on_chunk``: no queue and no reader task in
between; an event nobody follows or can ask for later is not even framed). A ``wait``
waits for its end, a ``stream`` follows it from its first event, a ``join stream`` from
now or (``stream_resumable``) from any event id.

A background run is durable (:meth:`RunBook.persist`): from before it is answered until
the core begins it, it is a pending run in storage (``Backend.add_pending_run``; the
core's ``begin_run`` deletes that row in the same transaction), so a pending run survives
its server and is launched again by the next one (:mod:`.durable_runs`); once it began,
its run row and the core's crash repair take over. A finished run stays here a while
(:data:`RETAIN_SECONDS`) with its events when resumable; after that its Run JSON comes
from our run rows. Its wait body is held as JSON bytes, not as the state's objects
(:meth:`BookedRun.seal`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from graph_sessions.core.leases import lease_clock
from graph_sessions.core.manager import GraphSessionManager
from graph_sessions.core.session import RunStream
from graph_sessions.errors import GraphSessionError, ManagerClosed, RunCancelled, RunFailed
from graph_sessions.server.jsonable import dumps
from graph_sessions.server.langgraph_api.run_payloads import ResolvedRun
from graph_sessions.server.langgraph_api.run_shapes import error_json, run_json, wait_body
from graph_sessions.server.langgraph_api.sse import frame
from graph_sessions.server.langgraph_api.stream_events import StreamTranslator
from graph_sessions.server.metrics import ServerMetrics
from graph_sessions.settings import ServerSettings
from graph_sessions.storage.records import PendingRun

log = logging.getLogger("graph_sessions.server.langgraph_api")

#: seconds a finished resumable run (with its events) stays in memory for joins
RETAIN_SECONDS = 600.0
#: seconds any other finished run stays (then its Run JSON comes from our run rows)
RETAIN_PLAIN_SECONDS = 60.0
FINAL = ("success", "error", "timeout", "interrupted")
#: the shape of a pending run's payload (``BookedRun`` → storage → relaunch)
PAYLOAD_VERSION = 1


def _now() -> datetime:
    return datetime.now(UTC)


def _settle(future: asyncio.Future[bool], value: bool) -> None:
    if not future.done():
        future.set_result(value)


@dataclass
class BookedRun:
    """One run of the LangGraph API in this process."""

    run_id: str
    thread_id: str
    owner: str | None
    assistant_id: str
    graph_id: str
    metadata: dict[str, Any]
    kwargs: dict[str, Any]
    multitask: str
    resumable: bool
    temporary: bool
    keep_thread: bool
    created_at: datetime = field(default_factory=_now)
    updated_at: datetime = field(default_factory=_now)
    status: str = "pending"
    #: when the core began executing it (after ``after_seconds``)
    started_at: datetime | None = None
    #: the wait body once the run ended, until its end hooks ran; after that only an
    #: error body stays here (small), the rest lives on as :attr:`body` (see :meth:`seal`)
    result: dict[str, Any] | None = None
    #: the wait body encoded (JSON bytes), set when the run ends
    body: bytes | None = None
    deleted: bool = False
    #: set by a later run's ``interrupt``/``rollback`` or by a cancel: how it is cancelled
    cancel_action: str | None = None
    kind: str = "background"  # how it was asked for: background, wait, stream (metrics)
    timed_out: bool = False
    #: kept in storage as a pending run until the core begins it (background runs)
    durable: bool = False
    #: not started because the server is stopping: its pending row stays for the next
    stopped: bool = False
    stream: RunStream | None = None
    task: asyncio.Task[None] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    #: (id, frame bytes, event name, data): streams send the frame, a thread stream
    #: re-frames the event with ids of its own
    events: list[tuple[str | None, bytes, str, Any]] = field(default_factory=list)
    #: readers following the events now (streams, joins, thread streams)
    followers: int = 0
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    #: futures of the callers of :meth:`ended_within` waiting now
    _enders: list[asyncio.Future[bool]] = field(default_factory=list)
    _last_ms: int = 0
    _seq: int = 0

    # events --------------------------------------------------------------------------
    def _next_id(self) -> str:
        ms = int(time.time() * 1000)
        if ms <= self._last_ms:
            self._seq += 1
            ms = self._last_ms
        else:
            self._seq = 0
        self._last_ms = ms
        return f"{ms}-{self._seq}"

    def publish(self, event: str, data: Any) -> None:
        """Record one event and wake its followers. An event nobody can ask for is not
        kept (nor serialized): a run that is neither streamed nor resumable, with nobody
        following it now (a later join of such a run starts from its next event)."""
        if not (self.resumable or self.kind == "stream" or self.followers):
            return
        event_id = self._next_id() if self.resumable else None
        self.events.append((event_id, frame(event, data, event_id), event, data))
        self._signal()

    def _signal(self) -> None:
        wake, self._wake = self._wake, asyncio.Event()
        wake.set()

    async def ended_within(self, seconds: float) -> bool:
        """Wait until the run ends, ``seconds`` at most; whether it ended. (What
        ``wait_for(shield(done.wait()), seconds)`` does, without a task per call.)"""
        if self.done.is_set():
            return True
        loop = asyncio.get_running_loop()
        ender: asyncio.Future[bool] = loop.create_future()
        timer = loop.call_later(seconds, _settle, ender, False)
        self._enders.append(ender)
        try:
            return await ender
        finally:
            timer.cancel()
            self._enders.remove(ender)

    def index_after(self, last_event_id: str | None) -> int:
        """Where a follower that last saw ``last_event_id`` starts: ``None`` → from now,
        ``-1`` → from the first event (resumable runs), an id → after it."""
        if last_event_id is None:
            return len(self.events)
        if last_event_id == "-1":
            return 0
        for i, (event_id, *_) in enumerate(self.events):
            if event_id == last_event_id:
                return i + 1
        return 0

    async def follow(self, start: int) -> AsyncIterator[bytes]:
        """The run's event frames from index ``start`` until the run ends."""
        async with contextlib.aclosing(self._follow(start)) as items:
            async for item in items:
                yield item[1]

    async def follow_raw(self) -> AsyncIterator[tuple[str, Any]]:
        """The run's events, unframed, from its first until the run ends."""
        async with contextlib.aclosing(self._follow(0)) as items:
            async for item in items:
                yield item[2], item[3]

    async def _follow(self, start: int) -> AsyncGenerator[tuple[str | None, bytes, str, Any], None]:
        i = start
        events = self.events  # a non-resumable run drops its list at the end, not ours
        self.followers += 1
        try:
            while True:
                wake = self._wake
                while i < len(events):
                    yield events[i]
                    i += 1
                if self.done.is_set():
                    return
                await wake.wait()
        finally:
            self.followers -= 1

    async def batches(self, start: int) -> AsyncGenerator[list[tuple[str | None, str, Any]], None]:
        """The run's events from index ``start`` until the run ends, as lists of
        ``(event id, event, data)``: every event published meanwhile comes in one list
        (a follower that writes them elsewhere, :mod:`.run_mirror`, batches them so)."""
        i = start
        events = self.events
        self.followers += 1
        try:
            while True:
                wake = self._wake
                if i < len(events):
                    batch = [(e[0], e[2], e[3]) for e in events[i:]]
                    i = len(events)
                    yield batch
                    continue
                if self.done.is_set():
                    return
                await wake.wait()
        finally:
            self.followers -= 1

    # state ---------------------------------------------------------------------------
    def mark_running(self) -> None:
        """The core started the run."""
        if self.status == "pending":
            self.status = "running"
            self.updated_at = _now()

    def finish(self, status: str, result: dict[str, Any]) -> None:
        """Record the run's end; followers see the stream end."""
        self.status = status
        self.result = result
        self.body = dumps(result)
        self.updated_at = _now()
        if self.cancel_action == "rollback" and status == "interrupted":
            self.deleted = True
        if not self.resumable:  # followers keep the lists they follow
            self.events = []
        self.done.set()
        for ender in self._enders:
            _settle(ender, True)
        self._signal()

    def seal(self) -> None:
        """The run ended and its end hooks ran: keep its wait body as JSON bytes only (an
        error body stays a dict too). A finished run stays held for a while
        (:data:`RETAIN_PLAIN_SECONDS`) for joins; held as live objects, the state it ended
        with (every message of the thread) would stay reachable meanwhile, which costs
        memory and the garbage collector's time on every run that follows."""
        if self.result is not None and "__error__" not in self.result:
            self.result = None
        self.stream = None  # its task holds the core's result (the state) too

    def result_bytes(self) -> bytes:
        """The wait body of a run that ended, as JSON."""
        if self.body is None:
            self.body = dumps(self.result if self.result is not None else {})
        return self.body

    def to_json(self) -> dict[str, Any]:
        """The Run JSON."""
        return run_json(
            run_id=self.run_id,
            thread_id=self.thread_id,
            assistant_id=self.assistant_id,
            status=self.status,
            created_at=self.created_at,
            updated_at=self.updated_at,
            metadata=self.metadata,
            kwargs=self.kwargs,
            multitask_strategy=self.multitask,
        )


class RunBook:
    """The runs of one app (``app.state.lg_runs``)."""

    def __init__(
        self,
        manager: GraphSessionManager,
        settings: ServerSettings | None = None,
        metrics: ServerMetrics | None = None,
    ) -> None:
        """Runs of ``manager``'s sessions, under the server's ``settings`` (``run_timeout``),
        recorded in its ``metrics``."""
        self.manager = manager
        self.settings = settings
        self.metrics = metrics
        self._runs: dict[str, BookedRun] = {}
        self._by_thread: dict[str, dict[str, BookedRun]] = {}
        self.tombstones: set[str] = set()  # runs deleted over the API (their rows stay)
        self._thread_signals: dict[str, asyncio.Event] = {}
        #: called with each run once it ended (its result set), e.g. to send its webhook;
        #: they must not block (start a task)
        self.end_hooks: list[Callable[[BookedRun], None]] = []

    def get(self, run_id: str) -> BookedRun | None:
        """A run this process holds (deleted ones too: check ``deleted``)."""
        return self._runs.get(run_id)

    def of_thread(self, thread_id: str) -> list[BookedRun]:
        """The thread's runs held here, oldest first."""
        return list(self._by_thread.get(thread_id, {}).values())

    def all(self) -> list[BookedRun]:
        """Every run held here."""
        return list(self._runs.values())

    def thread_signal(self, thread_id: str) -> asyncio.Event:
        """Set (and replaced) whenever a run of ``thread_id`` is booked: thread streams wait
        on it for the thread's next run."""
        event = self._thread_signals.get(thread_id)
        if event is None:
            event = self._thread_signals[thread_id] = asyncio.Event()
        return event

    def active_on(self, thread_id: str) -> bool:
        """True while a run of the thread is pending or running here."""
        return any(not r.done.is_set() for r in self.of_thread(thread_id))

    def is_deleted(self, run_id: str) -> bool:
        """True for a run deleted (or rolled back) over the API."""
        rec = self._runs.get(run_id)
        return run_id in self.tombstones or (rec is not None and rec.deleted)

    def book(self, resolved: ResolvedRun, owner: str | None) -> BookedRun:
        """Register a new pending run."""
        body = resolved.body
        metadata = {
            **(body.metadata or {}),
            "graph_id": resolved.graph_id,
            "assistant_id": resolved.assistant_id,
        }
        rec = BookedRun(
            run_id=resolved.run_id,
            thread_id=resolved.thread_id,
            owner=owner,
            assistant_id=resolved.assistant_id,
            graph_id=resolved.graph_id,
            metadata=metadata,
            kwargs={
                **body.kwargs(),
                "config": resolved.config(),
                # LangGraph: a stateless run whose thread goes with it
                "temporary": resolved.temporary and body.on_completion != "keep",
            },
            multitask=body.strategy,
            resumable=body.stream_resumable,
            temporary=resolved.temporary,
            keep_thread=body.on_completion == "keep",
        )
        self._runs[rec.run_id] = rec
        self._by_thread.setdefault(rec.thread_id, {})[rec.run_id] = rec
        signal = self._thread_signals.pop(rec.thread_id, None)
        if signal is not None:
            signal.set()
        return rec

    @property
    def claimant(self) -> str:
        """Who claims the pending runs this process keeps: the manager's lease owner (its
        liveness is judged as a lease's)."""
        return self.manager.context.lease_owner

    def claim_until(self) -> datetime:
        """Until when a claim made or renewed now holds: the core's lease time."""
        return lease_clock() + self.manager.context.options.lease_delta

    async def persist(self, rec: BookedRun, resolved: ResolvedRun) -> None:
        """Keep a run booked here as a pending run in storage (claimed by this process)
        until the core begins it; done before the run is answered or started."""
        body = resolved.body
        not_before = None
        if body.after_seconds:
            not_before = rec.created_at + timedelta(seconds=body.after_seconds)
        payload = {
            "version": PAYLOAD_VERSION,
            "kind": rec.kind,
            "body": body.model_dump(mode="json", exclude_none=True),
            "graph_id": resolved.graph_id,
            "assistant_id": resolved.assistant_id,
            "temporary": resolved.temporary,
            "run": rec.to_json(),
        }
        rec.durable = await self.manager.backend.add_pending_run(
            PendingRun(
                run_id=rec.run_id,
                session_id=rec.thread_id,
                owner=rec.owner,
                created_at=rec.created_at,
                not_before=not_before,
                payload=payload,
                claimed_by=self.claimant,
                claimed_until=self.claim_until(),
            )
        )

    async def unpersist(self, rec: BookedRun) -> None:
        """Forget the run's pending row (it ended without beginning, or was cancelled)."""
        if rec.durable:
            rec.durable = False
            try:
                await self.manager.backend.delete_pending_run(rec.run_id)
            except Exception:  # the storage is closing or gone: the next server judges
                log.warning("could not forget the pending run %s", rec.run_id, exc_info=True)

    def discard(self, rec: BookedRun) -> None:
        """Forget a run (one whose start was refused, or one finished a while ago)."""
        self._runs.pop(rec.run_id, None)
        runs = self._by_thread.get(rec.thread_id)
        if runs is not None:
            runs.pop(rec.run_id, None)
            if not runs:
                del self._by_thread[rec.thread_id]

    async def start(self, rec: BookedRun, resolved: ResolvedRun) -> None:
        """Start the run in the core (raising what keeps it from starting, before any
        event) and execute it in a task of its own."""
        translator = StreamTranslator(resolved.body.modes, resolved.body.stream_subgraphs)
        delay = resolved.body.after_seconds or 0
        if delay <= 0:
            rec.stream = await self._start_stream(rec, resolved, translator)
            rec.started_at = _now()
        if resolved.body.strategy in ("interrupt", "rollback"):
            # The core cancels the thread's earlier runs once this one's task runs: they
            # end cancelled by this strategy (a rollback deletes them).
            for other in self.of_thread(rec.thread_id):
                if other is not rec and not other.done.is_set() and other.cancel_action is None:
                    other.cancel_action = resolved.body.strategy
        rec.task = asyncio.ensure_future(self._pump(rec, resolved, translator, delay))

    @staticmethod
    async def _start_stream(
        rec: BookedRun, resolved: ResolvedRun, translator: StreamTranslator
    ) -> RunStream:
        """Start the run in the core, its chunks translated and published as the graph
        makes them (in the run's own task: no queue between the graph and the events),
        after the run's ``metadata`` event (published here, before any chunk can come)."""

        async def on_chunk(chunk: Any) -> None:
            rec.mark_running()
            for event, data in translator.translate(chunk):
                rec.publish(event, data)

        stream = await resolved.session.start_stream(
            resolved.body.graph_input(),
            mode=translator.core_modes,
            subgraphs=resolved.body.stream_subgraphs,
            on_disconnect="continue",
            literal_input=True,
            on_chunk=on_chunk,
            **resolved.core_options(),
        )
        rec.publish("metadata", {"run_id": rec.run_id, "attempt": 1})
        return stream

    async def _pump(
        self, rec: BookedRun, resolved: ResolvedRun, translator: StreamTranslator, delay: float
    ) -> None:
        metrics = self.metrics
        began = time.perf_counter()
        if metrics is not None:
            metrics.active_runs.inc()
        timer: asyncio.TimerHandle | None = None
        timeout = self.settings.run_timeout if self.settings is not None else None
        if timeout is not None:
            timer = asyncio.get_running_loop().call_later(
                timeout + delay, lambda: asyncio.ensure_future(self._expire(rec))
            )
        try:
            outcome = await self._execute(rec, resolved, translator, delay)
        finally:
            if timer is not None:
                timer.cancel()
            if metrics is not None:
                metrics.active_runs.dec()
                status = rec.status if rec.done.is_set() else "interrupted"
                metrics.observe_run(rec.kind, status, time.perf_counter() - began)
        if rec.timed_out and outcome[0] == "interrupted":
            err = {
                "error": "TimeoutError",
                "message": f"the run exceeded the server's run_timeout ({timeout} s) and was "
                "cancelled",
            }
            rec.publish("error", err)
            outcome = ("timeout", {"__error__": err})
        if rec.durable and not rec.stopped:
            if rec.status == "pending":  # never begun (it can never start now): forget it
                await self.unpersist(rec)
            rec.durable = False  # begun: the core's begin_run deleted its row
        if rec.temporary and not rec.keep_thread and not rec.stopped:
            with contextlib.suppress(Exception):
                await self.manager.delete(rec.thread_id)
        rec.finish(*outcome)
        for hook in list(self.end_hooks):
            try:
                hook(rec)
            except Exception:
                log.exception("LangGraph API run %s: an end hook failed", rec.run_id)
        rec.seal()
        keep = RETAIN_SECONDS if rec.resumable else RETAIN_PLAIN_SECONDS
        asyncio.get_running_loop().call_later(keep, self._forget, rec.run_id)

    async def _expire(self, rec: BookedRun) -> None:
        """The run outlived the server's ``run_timeout``: cancel it (status ``timeout``)."""
        if not rec.done.is_set():
            rec.timed_out = True
            await self.cancel(rec, "interrupt", wait=False)

    async def _execute(
        self, rec: BookedRun, resolved: ResolvedRun, translator: StreamTranslator, delay: float
    ) -> tuple[str, dict[str, Any]]:
        """Run it to its end, publishing its events; returns (status, wait body)."""
        try:
            if rec.stream is None:
                await asyncio.sleep(delay)
                rec.stream = await self._start_stream(rec, resolved, translator)
            rec.started_at = rec.started_at or _now()
            # shielded: this task's cancellation (the app stopping) leaves the run to the
            # core's shutdown, as it did when this task only read the run's chunks
            result = await asyncio.shield(rec.stream.task)
            return "success", wait_body(result, translator.interrupts)
        except RunFailed as exc:
            err = error_json(exc.error if exc.error is not None else exc)
        except (RunCancelled, asyncio.CancelledError) as exc:
            current = asyncio.current_task()
            own = current is not None and current.cancelling() > 0
            if isinstance(exc, asyncio.CancelledError) and own and rec.cancel_action is None:
                rec.finish("interrupted", {})  # our task is cancelled: the app is stopping
                raise
            return "interrupted", {}
        except GraphSessionError as exc:
            if isinstance(exc, ManagerClosed):  # the server stops: the next one runs it
                rec.stopped = True
            err = {"error": type(exc).__name__, "message": exc.message}
        except Exception as exc:
            log.exception("LangGraph API run %s failed", rec.run_id)
            err = error_json(exc)
        rec.publish("error", err)
        return "error", {"__error__": err}

    def _forget(self, run_id: str) -> None:
        rec = self._runs.get(run_id)
        if rec is not None and rec.done.is_set():
            self.discard(rec)

    def status_of(self, rec: BookedRun) -> str:
        """The run's LangGraph status now (a pending run the core has begun is running)."""
        if rec.status == "pending":
            active = self.manager.context.gates.active_run(rec.thread_id)
            if active is not None and active.run_id == rec.run_id:
                rec.mark_running()
        return rec.status

    async def cancel(self, rec: BookedRun, action: str, wait: bool) -> None:
        """Cancel a pending or running run (``action`` interrupt or rollback)."""
        if rec.done.is_set():
            return
        rec.cancel_action = action
        if rec.durable and self.status_of(rec) == "pending":
            await self.unpersist(rec)  # a crash now must not bring it back
        cancelled = await self.manager.cancel_run(
            rec.thread_id, rec.run_id, rollback=action == "rollback", wait=False
        )
        if not cancelled:  # pending: not begun in the core yet
            if rec.stream is not None:
                rec.stream.cancel()
            elif rec.task is not None:
                rec.task.cancel()
        if wait:
            await rec.done.wait()

    async def shutdown(self) -> None:
        """Cancel every run's task (the app is stopping)."""
        tasks = [r.task for r in self._runs.values() if r.task is not None and not r.task.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task


__all__ = ["FINAL", "PAYLOAD_VERSION", "RETAIN_SECONDS", "BookedRun", "RunBook"]
