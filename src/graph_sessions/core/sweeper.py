"""The TTL sweeper: finds expired sessions in bounded batches and deletes or archives them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from graph_sessions.core.background import BackgroundLoop
from graph_sessions.core.repair import repair_stale
from graph_sessions.models import EventType, SessionInfo, SessionStatus
from graph_sessions.storage.backend import NewEvent
from graph_sessions.storage.records import SessionUpdate

log = logging.getLogger("graph_sessions.sweeper")


@dataclass
class SweepReport:
    """What one sweep did."""

    deleted: int = 0
    archived: int = 0
    skipped_running: int = 0
    batches: int = 0

    @property
    def expired(self) -> int:
        """Sessions handled (deleted or archived)."""
        return self.deleted + self.archived


class Sweeper(BackgroundLoop):
    """Expires sessions of one manager, never touching a running one; in the background
    every ``sweep_interval`` seconds (none: no background sweep)."""

    task_name = "graph-sessions-sweeper"

    def wanted(self) -> bool:
        """Only with a ``sweep_interval``."""
        return bool(self.ctx.options.sweep_interval)

    async def expire_one(self, info: SessionInfo, now: datetime) -> str | None:
        """Expire ``info`` by the manager's strategy; returns "deleted", "archived" or None."""
        ctx = self.ctx
        if ctx.gates.busy(info.session_id) or info.status == SessionStatus.RUNNING:
            return None
        if ctx.options.on_expire == "delete":
            deleted = await ctx.backend.delete_session(info.session_id, only_if_expired_at=now)
            return "deleted" if deleted else None
        updated = await ctx.backend.update_session(
            info.session_id,
            SessionUpdate(
                status=SessionStatus.EXPIRED, previous_status=info.status, updated_at=now
            ),
            events=[NewEvent(EventType.EXPIRED, None, {"strategy": "keep_latest"})],
            expect_status=[info.status],
        )
        if updated is None:  # revived or run meanwhile: its history stays whole
            return None
        await ctx.backend.prune_checkpoints(info.session_id, 1)
        return "archived"

    async def run_once(
        self,
        now: datetime | None = None,
        *,
        max_batches: int | None = None,
        on_batch: Callable[[SweepReport], None] | None = None,
    ) -> SweepReport:
        """Sweep every session expired at ``now`` (default: the manager's clock);
        ``on_batch`` sees the running totals after each batch."""
        ctx = self.ctx
        batch_size = ctx.options.sweep_batch
        now = now or ctx.now()
        await repair_stale(ctx)
        report = SweepReport()
        seen: set[str] = set()
        while max_batches is None or report.batches < max_batches:
            batch = [
                i
                for i in await ctx.backend.find_expired(now, batch_size + len(seen))
                if i.session_id not in seen
            ]
            if not batch:
                break
            report.batches += 1
            for info in batch[:batch_size]:
                seen.add(info.session_id)
                outcome = await self.expire_one(info, now)
                if outcome == "deleted":
                    report.deleted += 1
                elif outcome == "archived":
                    report.archived += 1
                else:
                    report.skipped_running += 1
            if on_batch is not None:
                on_batch(report)
            await asyncio.sleep(0)  # let runs interleave between batches
        if report.expired:
            log.info(
                "sweep: %d deleted, %d archived, %d skipped",
                report.deleted,
                report.archived,
                report.skipped_running,
            )
        return report

    async def _loop(self) -> None:
        interval = float(self.ctx.options.sweep_interval or 0)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # keep sweeping; a bad batch must not stop expiry for good
                log.exception("sweep failed")
