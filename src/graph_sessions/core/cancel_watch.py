"""Cancels that reach the replica running the run.

``interrupt`` / ``rollback`` runs and :meth:`GraphSessionManager.cancel_run` cancel a run
of this process through its gate. A run executing in another process (a replica on the
same database) is asked instead: :func:`request_cancel_elsewhere` records a cancel request
with the backend (``Backend.request_cancel``), and the :class:`CancelWatch` of the process
running it, woken by the backend (Postgres: ``LISTEN``/``NOTIFY``) or by its poll (SQLite:
``cancel_poll_interval``), takes the requests of its runs and cancels them as a local
request would. The requester then waits for the lease to be released, as any run does.
"""

from __future__ import annotations

import asyncio
import logging

from graph_sessions.core.background import BackgroundLoop
from graph_sessions.core.context import CoreContext
from graph_sessions.models import RunStatus

log = logging.getLogger("graph_sessions.runs")

#: the actions a cancel request carries, and what each does where the run executes:
#: ``interrupt``/``rollback`` (the multitask strategies) cancel the run and the runs
#: queued behind it there; ``cancel``/``cancel-rollback`` (``cancel_run``) the run only.
CANCEL_ACTIONS = ("interrupt", "rollback", "cancel", "cancel-rollback")


def cancel_here(ctx: CoreContext, run_id: str, action: str) -> bool:
    """Cancel run ``run_id`` if it holds a gate of this process; False when it does not."""
    for session_id, gate in ctx.gates.items():
        active = gate.active
        if active is None or active.run_id != run_id:
            continue
        if action in ("interrupt", "rollback"):
            gate.cancel_runs(action)
        else:
            active.cancel("rollback" if action == "cancel-rollback" else "cancelled by request")
        log.info("session %s: run %s cancelled by a request (%s)", session_id, run_id, action)
        return True
    return False


async def running_run_id(ctx: CoreContext, session_id: str) -> str | None:
    """The id of the session's run recorded as running now, if any."""
    runs = await ctx.backend.list_runs(session_id, limit=1)
    return runs[0].run_id if runs and runs[0].status == RunStatus.RUNNING else None


async def request_cancel_elsewhere(
    ctx: CoreContext, session_id: str, action: str, run_id: str | None = None
) -> bool:
    """Ask the process executing the session's running run (``run_id``, or whichever runs
    now) to cancel it with ``action``; False when no such run is running."""
    if action not in CANCEL_ACTIONS:
        raise ValueError(f"unknown cancel action {action!r}")
    run_id = run_id or await running_run_id(ctx, session_id)
    if run_id is None:
        return False
    return await ctx.backend.request_cancel(session_id, run_id, action, ctx.now())


class CancelWatch(BackgroundLoop):
    """Takes the cancel requests of this process's running runs and cancels them."""

    task_name = "graph-sessions-cancel-watch"

    async def check(self) -> int:
        """Take the requests of the runs executing here now and cancel those runs; returns
        how many were cancelled. No query while nothing runs here."""
        ctx = self.ctx
        active = [run.run_id for run in ctx.gates.active_runs()]
        if not active:
            return 0
        requests = await ctx.backend.take_cancel_requests(active)
        return sum(cancel_here(ctx, run_id, action) for run_id, action in requests.items())

    async def _loop(self) -> None:
        backend = self.ctx.backend
        while True:
            try:
                await backend.wait_cancel_request(backend.cancel_poll_interval)
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be away a while: keep watching
                log.warning("checking cancel requests failed: %s: %s", type(exc).__name__, exc)
                await asyncio.sleep(backend.cancel_poll_interval)
