"""The server's cron scheduler: a background task that looks for due crons every
``cron_poll_interval`` seconds and fires each through the same launch path as ``POST
/runs`` (``run_launch.launch``), as the cron's owner.

Firing is **claim, then launch**: ``Backend.claim_cron`` moves the cron's
``next_run_date`` to the schedule's next time after *now* in one compare-and-set, and only
the scheduler whose claim succeeded launches the run. So servers sharing one database
fire a due cron once, and a server that was down while fires were due fires each such
cron once when it comes back (not once per missed slot), as LangGraph's server does: its
next time is computed from now. (A server killed between the claim and the launch loses
that one fire: at most once.)

What a fire runs, as LangGraph's scheduler does: the cron's stored ``payload`` (the
create body, ``config.configurable.cron_id`` set) with the cron's ``metadata`` under the
payload's; on the cron's thread, or on a new thread deleted after the run unless
``on_run_completed`` is ``keep``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette

from graph_sessions.clock import utcnow
from graph_sessions.models import CronInfo
from graph_sessions.server.auth import Principal
from graph_sessions.server.errors import ApiError
from graph_sessions.server.langgraph_api.cron_schedule import next_fire
from graph_sessions.server.langgraph_api.run_launch import app_request, launch
from graph_sessions.server.langgraph_api.run_payloads import RunCreate

log = logging.getLogger("graph_sessions.server.crons")

#: crons fired per look at most (the next look takes the rest at once)
BATCH = 100
#: the next fire time of a cron whose schedule has no time left
NEVER = datetime(9999, 12, 31, tzinfo=UTC)

# keys of a cron's payload that describe the cron, not its runs
_CRON_KEYS = ("schedule", "timezone", "end_time", "enabled", "on_run_completed")


def run_body(cron: CronInfo) -> RunCreate:
    """The run-create body a fire of ``cron`` launches."""
    payload: dict[str, Any] = {k: v for k, v in cron.payload.items() if k not in _CRON_KEYS}
    payload["assistant_id"] = cron.payload.get("assistant_id") or cron.assistant_id
    payload["metadata"] = {**cron.metadata, **(payload.get("metadata") or {})}
    if payload.get("context"):  # LangGraph's: cron_id in configurable would clash with context
        config = dict(payload.get("config") or {})
        configurable = dict(config.get("configurable") or {})
        configurable.pop("cron_id", None)
        config["configurable"] = configurable
        payload["config"] = config
    if cron.thread_id is None:
        payload["on_completion"] = "keep" if cron.on_run_completed == "keep" else "delete"
    return RunCreate.model_validate(payload)


def owner_of(cron: CronInfo) -> Principal:
    """Who a fire runs as: the cron's owner. A thread cron's fire may reach its thread
    whoever owns it (role ``admin``: its creator was allowed the thread when the cron was
    made, e.g. an admin on a user's thread, and a thread's crons are deleted with it); a
    stateless cron's runs are the owner's own (role ``user``: its new thread belongs to the
    owner). An owner-less cron was made without auth."""
    if cron.owner is None or cron.thread_id is not None:
        return Principal(owner=cron.owner, role="admin", via="cron")
    return Principal(owner=cron.owner, role="user", via="cron")


async def fire(app: Starlette, cron: CronInfo) -> str | None:
    """Launch one run of ``cron``; its run id, or ``None`` when it could not start
    (logged: the thread is gone, the assistant deleted, a ``reject`` on a busy thread…)."""
    try:
        rec = await launch(
            app_request(app), owner_of(cron), cron.thread_id, run_body(cron), "background"
        )
    except ApiError as exc:
        log.warning("cron %s did not start a run: %s", cron.cron_id, exc)
        return None
    except Exception:
        log.exception("cron %s did not start a run", cron.cron_id)
        return None
    return rec.run_id


async def fire_due(app: Starlette) -> int:
    """One look: claim and fire every cron due now; how many fired."""
    backend = app.state.manager.backend
    now = utcnow()
    fired = 0
    for cron in await backend.due_crons(now, BATCH):
        try:
            following = next_fire(cron.schedule, now, cron.timezone)
        except ApiError:  # no time left (a year field in the past): this fire is its last
            following = NEVER
        if not await backend.claim_cron(cron.cron_id, cron.next_run_date, following):
            continue  # another scheduler fired it, or it was changed meanwhile
        if await fire(app, cron) is not None:
            fired += 1
    return fired


async def _loop(app: Starlette, interval: float) -> None:
    while True:
        try:
            await fire_due(app)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("cron scheduler look failed")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def cron_scheduler(app: Starlette) -> AsyncIterator[None]:
    """While the server runs: fire due crons every ``cron_poll_interval`` seconds."""
    interval = float(app.state.settings.cron_poll_interval)
    task = asyncio.create_task(_loop(app, interval), name="lg-cron-scheduler")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


__all__ = ["cron_scheduler", "fire", "fire_due", "owner_of", "run_body"]
