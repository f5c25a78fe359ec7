"""In-process wake-ups for readers of a session's event log (``/events?follow=true``).

Every backend method that may append events to a session (see :data:`EVENT_WRITERS`)
notifies that session's watchers when it returns, so a live tail reads again at once
instead of polling. Writes from other processes are not seen here: a caller that must see
them also re-reads when :meth:`Backend.change_token` changes (SQLite's ``data_version``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

#: the Backend methods that append events: each notifies the session's watchers when done
EVENT_WRITERS = (
    "create_session",
    "update_session",
    "delete_session",
    "begin_run",
    "finish_run",
    "append_events",
)

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])
# the wrappers made by ``signalling``, so that a method is never wrapped twice
_SIGNALLING: weakref.WeakSet[Callable[..., Any]] = weakref.WeakSet()


class EventSignals:
    """Per-session ``asyncio.Event`` watchers, set when the session's log may have grown.

    Safe across event loops and threads (the sync API runs its loop in another thread):
    a watcher on another loop is woken through that loop."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._watchers: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}

    @property
    def watching(self) -> int:
        """How many watchers there are now."""
        with self._guard:
            return sum(len(w) for w in self._watchers.values())

    @contextlib.contextmanager
    def watch(self, session_id: str) -> Iterator[asyncio.Event]:
        """An event set whenever ``session_id``'s log may have grown (clear it before each
        read, then wait for it)."""
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._guard:
            self._watchers.setdefault(session_id, set()).add(entry)
        try:
            yield entry[1]
        finally:
            with self._guard:
                group = self._watchers.get(session_id)
                if group is not None:
                    group.discard(entry)
                    if not group:
                        del self._watchers[session_id]

    def notify(self, session_id: str) -> None:
        """Wake the watchers of ``session_id``."""
        with self._guard:
            entries = list(self._watchers.get(session_id, ()))
        _wake(entries)

    def notify_all(self) -> None:
        """Wake every watcher (another process wrote: anything may have changed)."""
        with self._guard:
            entries = [e for group in self._watchers.values() for e in group]
        _wake(entries)


def _wake(entries: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]]) -> None:
    try:
        current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        current = None
    for loop, event in entries:
        if loop is current:
            event.set()
        elif not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)


def _session_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    first = args[0] if args else kwargs.get("session_id", kwargs.get("info"))
    if isinstance(first, str):
        return first
    session_id = getattr(first, "session_id", None)  # create_session(info)
    return session_id if isinstance(session_id, str) else None


def signalling(fn: F) -> F:
    """Wrap a backend method so that it notifies the session's watchers when it returns."""
    if fn in _SIGNALLING:
        return fn

    @functools.wraps(fn)
    async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await fn(self, *args, **kwargs)
        finally:
            session_id = _session_of(args, kwargs)
            if session_id is not None:
                self.event_signals.notify(session_id)

    _SIGNALLING.add(wrapper)
    return wrapper  # type: ignore[return-value]
