"""Durable background runs: the pending runs kept in storage (``Backend.add_pending_run``,
written by :meth:`RunBook.persist` before a background run is answered) are launched again
by the server that finds them unheld, through the same path as a new run
(:func:`~.run_launch.launch` with the stored owner as the caller).

- At start (``background_work``), then every third of the core's lease time (at most
  :data:`KEEP_SECONDS`), a server renews the claims of the pending runs it holds
  (cancelling those whose row another server deleted: a cancel over it) and recovers the
  others whose claim lapsed: their claimant's lease time passed unrenewed, or it was a process of this host
  that is gone (the same liveness rule as a run's lease, ``core/leases.py``).
- Recovery goes thread by thread, each thread's runs in the order they were created
  (``enqueue`` keeps order), each claimed first by a compare-and-set
  (``Backend.claim_pending_run``): of two servers sharing a database, one launches it.
  A thread whose next run another live server holds is left to that server.
- A run waiting for ``after_seconds`` keeps its time (``not_before``).
- A run that can never start again (its thread or assistant gone, its body unreadable)
  is forgotten with a warning; a server that stops leaves its runs pending for the next.

Runs executing when their server died are not pending: the core's crash repair closes
them (run ``error`` with the reason, ``core/repair.py``) when the next server opens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from starlette.applications import Starlette

from graph_sessions.core.leases import lease_clock, stale_reason
from graph_sessions.errors import ManagerClosed
from graph_sessions.models import SessionInfo, SessionStatus
from graph_sessions.server.auth import Principal
from graph_sessions.server.langgraph_api.run_book import BookedRun, RunBook
from graph_sessions.server.langgraph_api.run_launch import app_request, book_of_app, launch
from graph_sessions.server.langgraph_api.run_payloads import RunCreate
from graph_sessions.storage.records import PendingRun

log = logging.getLogger("graph_sessions.server.langgraph_api")
#: at most this many seconds between two renewals of this server's claims (and scans)
KEEP_SECONDS = 5.0


def claim_lapsed(row: PendingRun, claimant: str) -> bool:
    """True when ``row`` may be claimed by ``claimant``: nobody holds it, or its holder's
    claim lapsed (judged as a run's lease: expiry passed, or a dead process of this
    host, or a closed manager of this process)."""
    if row.claimed_by == claimant:
        return False
    if row.claimed_by is None:
        return True
    probe = SessionInfo.model_construct(
        status=SessionStatus.RUNNING,
        lease_owner=row.claimed_by,
        lease_expires_at=row.claimed_until,
    )
    return stale_reason(probe) is not None


async def relaunch(app: Starlette, row: PendingRun) -> bool:
    """Launch a stored pending run again (same id, thread, owner, creation time; what is
    left of its ``after_seconds``). False when it did not start: forgotten when it can
    never start, kept when the server is stopping."""
    backend = book_of_app(app).manager.backend
    payload = row.payload
    try:
        body = RunCreate.model_validate(payload.get("body"))
        delay = 0.0
        if row.not_before is not None:
            delay = max(0.0, (row.not_before - lease_clock()).total_seconds())
        body = body.model_copy(update={"after_seconds": delay or None})
        principal = Principal(owner=row.owner, role="user", via="recovered")
        kind = str(payload.get("kind") or "background")
        await launch(app_request(app), principal, row.session_id, body, kind, recovered=row)
    except ManagerClosed:
        return False
    except Exception as exc:
        log.warning(
            "pending run %s of thread %s cannot start again (%s: %s); it is forgotten",
            row.run_id,
            row.session_id,
            type(exc).__name__,
            exc,
        )
        await backend.delete_pending_run(row.run_id)
        return False
    log.info("pending run %s of thread %s launched again", row.run_id, row.session_id)
    return True


async def recover_pending(app: Starlette) -> list[str]:
    """Claim and launch again the pending runs nobody holds (see the module's doc), thread
    by thread in creation order; returns the ids launched."""
    book = book_of_app(app)
    backend = book.manager.backend
    served = set(book.manager.graph_ids)
    by_thread: dict[str, list[PendingRun]] = {}
    for row in await backend.list_pending_runs():
        by_thread.setdefault(row.session_id, []).append(row)
    launched: list[str] = []
    for rows in by_thread.values():
        for row in rows:
            if row.claimed_by == book.claimant or book.get(row.run_id) is not None:
                continue  # held here
            if row.payload.get("graph_id") not in served or not claim_lapsed(row, book.claimant):
                break  # the thread's queue is another server's
            claimed = await backend.claim_pending_run(
                row.run_id,
                book.claimant,
                book.claim_until(),
                expect_by=row.claimed_by,
                expect_until=row.claimed_until,
            )
            if not claimed:
                break  # another server took it (and, after it, the thread's next runs)
            if await relaunch(app, row):
                launched.append(row.run_id)
    return launched


def durable_pending(book: RunBook) -> list[BookedRun]:
    """The runs booked here whose pending row is stored (``durable`` is set only once
    the row is written)."""
    return [r for r in book.all() if r.durable and not r.done.is_set()]


async def cancel_forgotten(book: RunBook, candidates: list[BookedRun], held: set[str]) -> list[str]:
    """Cancel the ``candidates`` (read before ``held``) whose row is gone though the core
    did not begin them (``held``: the ids whose claims this server still holds): a cancel
    or delete over another server sharing the database forgot them. Returns their ids."""
    cancelled = []
    for rec in candidates:
        if not rec.durable or rec.done.is_set() or rec.run_id in held:
            continue
        if book.status_of(rec) != "pending":
            rec.durable = False
            continue
        runs = await book.manager.backend.list_runs(rec.thread_id, limit=50)
        rec.durable = False
        if any(r.run_id == rec.run_id for r in runs):
            continue  # begun meanwhile: the core's begin_run deleted its row
        log.info("pending run %s was cancelled over another server", rec.run_id)
        await book.cancel(rec, "interrupt", wait=False)
        cancelled.append(rec.run_id)
    return cancelled


async def _keep(app: Starlette, interval: float) -> None:
    """Every ``interval`` seconds: renew this server's claims (cancelling the runs whose
    rows another server deleted), recover lapsed ones."""
    book = book_of_app(app)
    while True:
        await asyncio.sleep(interval)
        try:
            candidates = durable_pending(book)
            held = await book.manager.backend.renew_pending_claims(
                book.claimant, book.claim_until()
            )
            await cancel_forgotten(book, candidates, set(held))
            await recover_pending(app)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("keeping the pending runs failed; trying again", exc_info=True)


@contextlib.asynccontextmanager
async def durable_runs(app: FastAPI) -> AsyncIterator[None]:
    """Recover the pending runs left by servers that stopped, then keep this server's
    claims alive and recover lapsed ones while the app serves (``background_work``)."""
    book = book_of_app(app)
    try:
        launched = await recover_pending(app)
        if launched:
            log.warning("launched again %d pending run(s): %s", len(launched), launched)
    except Exception:
        log.exception("recovering the pending runs failed")
    interval = min(book.manager.context.options.lease_ttl / 3, KEEP_SECONDS)
    task = asyncio.create_task(_keep(app, interval), name="graph-sessions-pending-runs")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task


async def stored_pending_json(
    book: RunBook, thread_id: str, known: set[str]
) -> list[dict[str, Any]]:
    """The Run JSON (``pending``) of the thread's pending runs in storage that are not in
    ``known`` (held here or begun) nor deleted: runs held by another server, or not
    recovered yet."""
    out = []
    for row in await book.manager.backend.list_pending_runs(thread_id):
        if row.run_id in known or book.is_deleted(row.run_id):
            continue
        run = row.payload.get("run")
        if isinstance(run, dict):
            out.append({**run, "status": "pending"})
    return out


async def forget_stored_pending(book: RunBook, thread_id: str, run_id: str) -> bool:
    """Delete a pending run of ``thread_id`` from storage (a cancel or delete of a run no
    server here holds); False when there is none."""
    rows = await book.manager.backend.list_pending_runs(thread_id)
    if not any(r.run_id == run_id for r in rows):
        return False
    return await book.manager.backend.delete_pending_run(run_id)


__all__ = [
    "KEEP_SECONDS",
    "cancel_forgotten",
    "claim_lapsed",
    "durable_pending",
    "durable_runs",
    "forget_stored_pending",
    "recover_pending",
    "relaunch",
    "stored_pending_json",
]
