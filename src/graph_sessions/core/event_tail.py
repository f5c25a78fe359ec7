"""A session's execution log followed live (``GraphSession.follow_events``): what the SSE
tail of ``/sessions/{id}/events?follow=true`` and GraphQL's ``sessionEvents`` send."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from graph_sessions.core.context import CoreContext
from graph_sessions.errors import SessionNotFound
from graph_sessions.models import Event, SessionInfo

#: a live tail re-reads at least this often even when nothing woke it
FOLLOW_SAFETY_SECONDS = 30.0


class Tailed(Protocol):
    """What a tail reads of a session (``GraphSession``)."""

    @property
    def session_id(self) -> str: ...

    @property
    def context(self) -> CoreContext: ...

    info: SessionInfo

    async def events(self, after: int | None = None, limit: int = 100) -> list[Event]: ...

    async def refresh(self) -> SessionInfo: ...


async def first_of(*events: asyncio.Event, timeout: float) -> None:
    """Wait until one of ``events`` is set, or ``timeout`` seconds."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def follow_events(
    session: Tailed,
    after: int | None,
    *,
    page: int,
    stopped: Callable[[], bool],
    wake: tuple[asyncio.Event, ...] = (),
) -> AsyncIterator[list[Event]]:
    """Pages (at most ``page`` events) of the log after event id ``after``, then each new
    page as it is logged. Returns once ``stopped()`` is true with the log read to its end;
    raises ``SessionNotFound``/``SessionExpired`` when the session is gone, also when it
    was deleted and its id taken again (by another owner, say): a tail never follows the
    newcomer's log. Waits are pushed, not polled: this process's writes wake it at once,
    another process's through the backend's watcher, ``wake`` events too; the timeout is
    only a safety net."""
    identity = (session.info.owner, session.info.created_at)
    last = after
    with session.context.backend.event_signals.watch(session.session_id) as grew:
        while True:
            grew.clear()  # before the read: a write from now on wakes the wait below
            events = await session.events(after=last, limit=page)
            info = await session.refresh()  # after the read: the events were this one's
            if (info.owner, info.created_at) != identity:
                raise SessionNotFound(
                    f"session {session.session_id!r} does not exist",
                    session_id=session.session_id,
                )
            if events:
                last = events[-1].id
                yield events
            if len(events) == page:
                continue
            if stopped():
                return
            await first_of(grew, *wake, timeout=FOLLOW_SAFETY_SECONDS)
