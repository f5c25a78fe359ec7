"""The lease watch: a repair pass every ``lease_ttl / 3`` seconds on every manager.

Replicas of one server share a database; a replica that dies (or pauses) leaves its
sessions ``running`` until some replica repairs them. The TTL sweeper repairs too, but only
every ``sweep_interval``; this pass asks the backend for the running sessions whose lease
already expired (one indexed query, usually empty) and repairs those, so a session is back
within ``lease_ttl`` plus a third of it, whichever replica notices first. Two replicas
repairing the same session at once are safe: the repair is a compare-and-set on the lease
(owner and epoch), so one of them closes the run and the other finds nothing to do.
"""

from __future__ import annotations

import asyncio
import logging

from graph_sessions.core.background import BackgroundLoop
from graph_sessions.core.context import CoreContext
from graph_sessions.core.leases import lease_clock
from graph_sessions.core.repair import repair_if_stale

log = logging.getLogger("graph_sessions.leases")


async def repair_lapsed(ctx: CoreContext) -> list[str]:
    """Repair the running sessions of the served graphs whose lease has expired; returns
    the ids this call repaired (not those another replica got to first)."""
    served = set(ctx.graphs.ids)
    repaired = []
    for info in await ctx.backend.find_running(lapsed_at=lease_clock()):
        if info.graph_id in served and await repair_if_stale(ctx, info):
            repaired.append(info.session_id)
    return repaired


class LeaseWatch(BackgroundLoop):
    """Runs :func:`repair_lapsed` every ``lease_ttl / 3`` seconds in the background."""

    task_name = "graph-sessions-lease-watch"

    @property
    def interval(self) -> float:
        """Seconds between two passes."""
        return self.ctx.options.lease_ttl / 3

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await repair_lapsed(self.ctx)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be away for a while: next pass
                log.warning("lease repair pass failed: %s: %s", type(exc).__name__, exc)
