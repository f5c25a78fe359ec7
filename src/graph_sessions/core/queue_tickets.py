"""Queue tickets: ``enqueue`` keeps its order per session across processes.

In one process the session's gate is a FIFO lock. Across processes (replicas on one
database) an ``enqueue`` run that has to wait takes a ticket from the backend (a row with
a seq from a sequence) when it arrives. A process stands in the session's queue at its
lowest live ticket (its runs among themselves keep the gate's order), and ``begin_run``
begins its gate's head only when no live ticket of another process is lower (checked in
``begin_run``'s own transaction, which deletes the run's ticket). So the process holding
the lowest ticket can always go on: no two processes wait for each other. Tickets of this process are renewed every ``lease_ttl / 3`` while any
is held; a dead process's tickets lapse after ``lease_ttl``. A run that did not have to
wait takes no ticket and costs no query: its ``begin_run`` only checks that nobody elsewhere
holds one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from graph_sessions.core.leases import lease_clock
from graph_sessions.storage.backend import Backend
from graph_sessions.storage.records import NO_TICKET, QueueCheck

log = logging.getLogger("graph_sessions.runs")


@dataclass
class QueueSpot:
    """One run's place in its session's queue across processes."""

    ticket: int | None = None
    session_id: str = ""
    consumed: bool = False  # begun (begin_run deleted the ticket) or dropped


class QueueTickets:
    """The tickets of one manager (lease owner ``owner``) and their renewal."""

    def __init__(self, backend: Backend, owner: str, lease_delta: Callable[[], timedelta]) -> None:
        self.backend = backend
        self.owner = owner
        self.lease_delta = lease_delta
        self.held = 0
        self._mine: dict[str, set[int]] = {}  # session id -> live tickets of this process
        self._task: asyncio.Task[None] | None = None

    async def take(self, session_id: str, spot: QueueSpot) -> None:
        """Give ``spot`` a ticket (if it has none yet)."""
        if spot.ticket is not None:
            return
        taking = asyncio.ensure_future(
            self.backend.take_ticket(session_id, self.owner, lease_clock() + self.lease_delta())
        )
        try:
            spot.ticket = await asyncio.shield(taking)
        except asyncio.CancelledError:
            # the insert commits anyway: drop the ticket it made, or it would hold the queue
            with contextlib.suppress(Exception):
                await self.backend.drop_ticket(await taking)
            raise
        spot.session_id = session_id
        self._mine.setdefault(session_id, set()).add(spot.ticket)
        self.held += 1
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._renew(), name="graph-sessions-queue-tickets"
            )

    def check(self, session_id: str, spot: QueueSpot) -> QueueCheck:
        """The FIFO check ``begin_run`` makes for this process's run at ``spot``."""
        mine = self._mine.get(session_id)
        position = min(mine) if mine else NO_TICKET
        return QueueCheck(
            owner=self.owner, now=lease_clock(), position=position, ticket=spot.ticket
        )

    def _forget(self, spot: QueueSpot) -> bool:
        if spot.ticket is None or spot.consumed:
            return False
        spot.consumed = True
        self.held -= 1
        mine = self._mine.get(spot.session_id)
        if mine is not None:
            mine.discard(spot.ticket)
            if not mine:
                del self._mine[spot.session_id]
        return True

    def begun(self, spot: QueueSpot) -> None:
        """``begin_run`` succeeded: it deleted the spot's ticket."""
        self._forget(spot)

    async def release(self, spot: QueueSpot) -> None:
        """The run leaves without beginning (cancelled, failed, gave up): drop its ticket."""
        if not self._forget(spot):
            return
        assert spot.ticket is not None
        try:
            await self.backend.drop_ticket(spot.ticket)
        except Exception as exc:  # it lapses after lease_ttl anyway
            log.warning("dropping queue ticket %s failed: %s", spot.ticket, exc)

    async def stop(self) -> None:
        """Stop renewing."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _renew(self) -> None:
        while self.held > 0:
            delta = self.lease_delta()
            await asyncio.sleep(delta.total_seconds() / 3)
            if self.held <= 0:
                return
            try:
                known = [seq for seqs in self._mine.values() for seq in seqs]
                await self.backend.renew_tickets(self.owner, lease_clock() + delta, known)
            except Exception as exc:  # a storage hiccup: the next beat tries again
                log.warning("renewing queue tickets failed: %s", exc)
