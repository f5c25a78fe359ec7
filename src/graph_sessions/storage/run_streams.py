"""Run streams across replicas: the contract of the table through which a run's events reach
a client on another process (:class:`RunStreamRelay`).

A replica asked for a run it does not execute records a *follow request* (:meth:`request_follow`);
the replica executing the run learns of it (a notice, or a poll) and from then on writes the
run's events to the table, numbered ``seq`` 1, 2, 3… (:meth:`append`), ending with the
:data:`END` marker. The follower reads them by ``seq`` (:meth:`read`) after each notice
(:meth:`wait`, which also returns after a timeout: the poll fallback). Runs nobody follows
elsewhere write nothing. Rows are deleted a while after their run ended (:meth:`purge`).

A backend without other processes (memory) has no relay (``Backend.run_stream_relay`` is
``None``).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass

#: the event of a run's last row: its data is ``{"status": …, "result": …}``
END = "__end__"
#: the event of the row that marks "now" for a follower that joins without an event id:
#: the rows before it are the run's events from before the follow request
LIVE = "__live__"
#: seconds a follower waits for a notice before reading anyway (the poll fallback)
POLL_SECONDS = 1.0
#: seconds :meth:`ListeningRelay.stop` waits for its cancelled tasks to end
STOP_TIMEOUT = 3.0
#: seconds the rows of a run stay after its end marker
RETAIN_SECONDS = 600.0


@dataclass(frozen=True)
class StreamChunk:
    """One row: a run's event as the executing replica framed it."""

    seq: int
    event: str
    #: the event's data as JSON text
    data: str
    #: the event's id on the executing replica (resumable runs), else ``None``
    event_id: str | None = None


#: what :meth:`RunStreamRelay.start` calls with the id of each run a follower asked for
FollowHandler = Callable[[str], Awaitable[None]]


class RunStreamRelay(ABC):
    """The run-stream table of one database, and its notices."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = {}

    # lifecycle -----------------------------------------------------------------------
    @abstractmethod
    async def start(self, on_follow: FollowHandler, active: Callable[[], Collection[str]]) -> None:
        """Create the tables if missing and start listening: ``on_follow(run_id)`` for each
        follow request of a run among ``active()`` (the runs this process executes),
        whether told by a notice or found by a poll."""

    @abstractmethod
    async def stop(self) -> None:
        """Stop listening."""

    # follower side -------------------------------------------------------------------
    @abstractmethod
    async def request_follow(self, run_id: str) -> None:
        """Ask whichever process executes ``run_id`` to write its events to the table."""

    @abstractmethod
    async def read(self, run_id: str, after_seq: int, limit: int = 500) -> list[StreamChunk]:
        """The run's rows after ``after_seq``, in order (at most ``limit``)."""

    def watch(self, run_id: str) -> asyncio.Event:
        """An event set whenever the run's rows grow (or a poll is due); pair with
        :meth:`unwatch`."""
        event = asyncio.Event()
        self._waiters.setdefault(run_id, set()).add(event)
        return event

    def unwatch(self, run_id: str, event: asyncio.Event) -> None:
        """Stop waking ``event``."""
        waiters = self._waiters.get(run_id)
        if waiters is not None:
            waiters.discard(event)
            if not waiters:
                del self._waiters[run_id]

    def _wake(self, run_id: str) -> None:
        for event in self._waiters.get(run_id, ()):
            event.set()

    def _wake_all(self) -> None:
        for waiters in self._waiters.values():
            for event in waiters:
                event.set()

    # executing side ------------------------------------------------------------------
    @abstractmethod
    async def append(self, run_id: str, first_seq: int, chunks: Sequence[StreamChunk]) -> None:
        """Write rows ``first_seq``, ``first_seq + 1``… of the run in one transaction and
        notify its followers (their ``seq`` fields are ignored)."""

    @abstractmethod
    async def purge(self, older_than_seconds: float = RETAIN_SECONDS) -> int:
        """Delete the rows of runs that ended more than ``older_than_seconds`` ago, the
        follow requests older than that, and rows a day old (a replica died meanwhile);
        returns how many chunk rows went."""

    @abstractmethod
    async def count(self, run_id: str | None = None) -> int:
        """Rows in the table (of ``run_id``, or all): what tests and operators look at."""


__all__ = [
    "END",
    "LIVE",
    "POLL_SECONDS",
    "RETAIN_SECONDS",
    "FollowHandler",
    "RunStreamRelay",
    "StreamChunk",
]


class ListeningRelay(RunStreamRelay):
    """A relay whose follow requests are heard by one background task (:meth:`_listen`: a
    notice listener, a poll, or both), which hands each to :meth:`_dispatch`."""

    def __init__(self) -> None:
        super().__init__()
        self._task: asyncio.Task[None] | None = None
        self._on_follow: FollowHandler | None = None
        self._active: Callable[[], Collection[str]] = tuple
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self, on_follow: FollowHandler, active: Callable[[], Collection[str]]) -> None:
        self._on_follow = on_follow
        self._active = active
        if self._task is None:
            self._task = asyncio.create_task(self._listen(), name="graph-sessions-run-streams")

    async def stop(self) -> None:
        task, self._task = self._task, None
        tasks = [t for t in (task, *self._handlers) if t is not None]
        for t in tasks:
            t.cancel()
        if tasks:  # bounded: a task that swallows its cancellation cannot hold a close
            done, _ = await asyncio.wait(tasks, timeout=STOP_TIMEOUT)
            for t in done:
                if not t.cancelled():
                    t.exception()  # retrieved (a handler's failure is its own to report)

    def _dispatch(self, run_id: str) -> None:
        """Call ``on_follow(run_id)`` (in a task of its own) if this process runs it."""
        if self._on_follow is None or run_id not in self._active():
            return
        task = asyncio.ensure_future(self._on_follow(run_id))
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    @abstractmethod
    async def _listen(self) -> None:
        """Hear follow requests until cancelled; :meth:`_dispatch` each."""
