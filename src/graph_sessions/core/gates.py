"""Per-session gates: one writer per session in this process.

Each session has a :class:`Gate` here: an asyncio lock (FIFO, so ``enqueue`` keeps
submission order) and the run currently holding it. Across processes the registry row is
the guard (see :mod:`graph_sessions.core.runs`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from graph_sessions.errors import RunCancelled, SessionBusy
from graph_sessions.models import SessionInfo


@dataclass
class ActiveRun:
    """The run holding a session's gate."""

    run_id: str
    task: asyncio.Task[Any]
    cancel_reason: str | None = None
    finished: asyncio.Event = field(default_factory=asyncio.Event)  # set once its end is recorded

    def cancel(self, reason: str) -> None:
        """Cancel the run's task, remembering the first reason given."""
        if self.cancel_reason is None:
            self.cancel_reason = reason
        self.task.cancel()


@dataclass
class Gate:
    """One session's lock in this process."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: held while an arriving ``enqueue`` run takes its queue ticket, so that tickets and
    #: places in ``lock``'s queue come in the same order
    arrival: asyncio.Lock = field(default_factory=asyncio.Lock)
    active: ActiveRun | None = None
    users: int = 0
    info: SessionInfo | None = None  # the row as the last run here left it
    # Bumped by an ``interrupt``/``rollback`` run or a delete: callers queued with an older
    # generation give up (RunCancelled) instead of running.
    generation: int = 0
    cancel_reason: str = "cancelled"

    def cancel_runs(self, reason: str) -> int:
        """Cancel the running run and every caller queued so far (``reason`` says why);
        returns the new generation, the ticket of a caller that comes after them."""
        self.generation += 1
        self.cancel_reason = reason
        if self.active is not None:
            self.active.cancel(reason)
        return self.generation

    def check_ticket(self, ticket: int, session_id: str) -> None:
        """``RunCancelled`` for a caller queued before the last :meth:`cancel_runs`."""
        if ticket != self.generation:
            raise RunCancelled(
                f"a queued run of session {session_id!r} was cancelled "
                f"({self.cancel_reason}) before it started",
                session_id=session_id,
            )


class Gates:
    """Per-session gates, created on demand and dropped when nobody holds or waits."""

    def __init__(self) -> None:
        self._gates: dict[str, Gate] = {}

    def enter(self, session_id: str) -> Gate:
        """The session's gate, counted as used until :meth:`leave`."""
        gate = self._gates.get(session_id)
        if gate is None:
            gate = self._gates[session_id] = Gate()
        gate.users += 1
        return gate

    def leave(self, session_id: str, gate: Gate) -> None:
        """Stop using ``gate``; the last user drops it."""
        gate.users -= 1
        if gate.users <= 0 and self._gates.get(session_id) is gate:
            del self._gates[session_id]

    def busy(self, session_id: str) -> bool:
        """True while a run (or a state change) holds the session's gate."""
        gate = self._gates.get(session_id)
        return gate is not None and gate.lock.locked()

    def active_run(self, session_id: str) -> ActiveRun | None:
        """The run holding the session's gate now, if any."""
        gate = self._gates.get(session_id)
        return gate.active if gate is not None else None

    def items(self) -> list[tuple[str, Gate]]:
        """(session id, gate) of every session with a gate here now."""
        return list(self._gates.items())

    def active_runs(self) -> list[ActiveRun]:
        """The runs holding a gate now."""
        return [g.active for g in self._gates.values() if g.active is not None]

    @asynccontextmanager
    async def exclusive(self, session_id: str) -> AsyncIterator[Gate]:
        """Hold the session's gate for a state change that is not a run; ``SessionBusy`` if a
        run holds it."""
        gate = self.enter(session_id)
        try:
            if gate.lock.locked():
                raise SessionBusy(
                    f"session {session_id!r} is running; try again after the run",
                    session_id=session_id,
                )
            async with gate.lock:
                gate.info = None  # the change bumps the row's revision
                yield gate
        finally:
            self.leave(session_id, gate)

    async def cancel_all(self, reason: str) -> None:
        """Cancel every run of this process and wait until each has recorded its end."""
        runs = self.active_runs()
        for run in runs:
            run.cancel(reason)
        for run in runs:
            await run.finished.wait()

    async def drain(self, timeout: float | None) -> None:
        """Wait for running runs to finish, up to ``timeout`` seconds, then cancel the rest."""
        runs = self.active_runs()
        if runs and timeout:
            await asyncio.wait([r.task for r in runs], timeout=timeout)
        await self.cancel_all("shutdown")
