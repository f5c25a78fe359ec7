"""Lease repair: a session left ``running`` by a process that died (or whose lease lapsed)
gets its status back from its latest checkpoint, and its run is closed."""

from __future__ import annotations

import logging
from typing import Any

from langgraph.types import Interrupt

from graph_sessions.core.context import CoreContext
from graph_sessions.core.leases import stale_reason
from graph_sessions.models import EventType, RunStatus, SessionInfo, SessionStatus
from graph_sessions.storage.backend import NewEvent
from graph_sessions.storage.records import RunFinish

log = logging.getLogger("graph_sessions")


def interrupts_to_dicts(interrupts: Any) -> list[dict[str, Any]]:
    """LangGraph ``Interrupt`` objects as ``{"id", "value"}`` dicts."""
    out = []
    for item in interrupts or ():
        if isinstance(item, Interrupt):
            out.append({"id": item.id, "value": item.value})
        elif isinstance(item, dict):
            out.append({"id": item.get("id"), "value": item.get("value")})
    return out


async def status_from_checkpoint(
    ctx: CoreContext, session_id: str, graph_id: str
) -> tuple[SessionStatus | None, list[dict[str, Any]]]:
    """Where the graph stands by its latest checkpoint: interrupted (with the
    interrupts), failed (work left pending: next nodes, or tasks whose writes were saved
    but not yet folded into a checkpoint), completed; ``None`` when it has no checkpoint."""
    graph = ctx.graph_for(graph_id, session_id=session_id)
    snapshot = await graph.aget_state(
        {"configurable": {"thread_id": session_id, "checkpoint_ns": ""}}
    )
    interrupts = interrupts_to_dicts(snapshot.interrupts)
    if interrupts:
        return SessionStatus.INTERRUPTED, interrupts
    if snapshot.next or snapshot.tasks:
        return SessionStatus.FAILED, []
    if snapshot.created_at is None:
        return None, []
    return SessionStatus.COMPLETED, []


async def repair_if_stale(ctx: CoreContext, info: SessionInfo) -> bool:
    """If ``info`` is ``running`` but its lease no longer holds (expired unrenewed, or its
    process is gone), set its status from its latest checkpoint (interrupted / completed
    / failed with the reason) and close its run."""
    if info.status != SessionStatus.RUNNING:
        return False
    why = stale_reason(info)
    if why is None:
        return False
    status, interrupts = await status_from_checkpoint(ctx, info.session_id, info.graph_id)
    runs = await ctx.backend.list_runs(info.session_id, limit=1)
    run = runs[0] if runs and runs[0].status == RunStatus.RUNNING else None
    reason = (
        f"the process running run {run.run_id if run else '?'} ({info.lease_owner}) "
        f"stopped: {why}; the session was repaired from its last checkpoint"
    )
    if status is None:
        status = SessionStatus.FAILED
    finish = RunFinish(
        run_status=RunStatus.ERROR,
        error=reason,
        updated_at=ctx.now(),
        status=status,
        interrupts=interrupts,
        last_error=reason if status == SessionStatus.FAILED else None,
    )
    event = NewEvent(
        EventType.REPAIRED,
        run.run_id if run else None,
        {"reason": reason, "status": str(status)},
    )
    if run is not None:
        repaired, _ = await ctx.backend.finish_run(
            info.session_id,
            run.run_id,
            finish,
            events=[event],
            expect_lease=info.lease_owner,
            expect_epoch=info.lease_epoch,
        )
    else:
        # no run row to close: the same change to the session row, lease released
        repaired = await ctx.backend.update_session(
            info.session_id,
            finish.session_update(),
            events=[event],
            expect_revision=info.revision,
        )
    if repaired is None:  # someone else repaired it (or ran it) first
        return False
    log.warning("session %s: %s (now %s)", info.session_id, reason, status)
    return True


async def repair_stale(ctx: CoreContext) -> list[str]:
    """Repair the running sessions of the served graphs whose lease lapsed (holder
    killed, paused or gone with its host); sessions of other graphs are left for a
    manager that serves them. Returns the ids repaired."""
    served = set(ctx.graphs.ids)
    return [
        info.session_id
        for info in await ctx.backend.find_running()
        if info.graph_id in served and await repair_if_stale(ctx, info)
    ]
