"""Synchronous code that awaits, on the event loop: the storage engine under
``AsyncPostgresSaver``.

``run_in_greenlet(fn, *args)`` runs ``fn`` in a greenlet on the loop's thread; inside it,
``await_only(awaitable)`` suspends the greenlet while the calling task awaits
``awaitable`` (SQLAlchemy's asyncio bridge works the same way). The engine is written
once, synchronously, and its statements still run on the caller's ``AsyncConnection``,
without a thread hop per statement or per operation.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import greenlet

T = TypeVar("T")


class _Bridge(greenlet.greenlet):
    """A greenlet whose ``await_only`` calls go back to the task that spawned it."""

    def __init__(self, fn: Callable[..., Any], spawner: greenlet.greenlet) -> None:
        super().__init__(fn, spawner)
        self.spawner = spawner


def await_only(awaitable: Awaitable[T]) -> T:
    """Await ``awaitable`` from synchronous code running under ``run_in_greenlet``."""
    current = greenlet.getcurrent()
    if not isinstance(current, _Bridge):
        if hasattr(awaitable, "close"):
            awaitable.close()
        raise RuntimeError("await_only() called outside run_in_greenlet()")
    return cast(T, current.spawner.switch(awaitable))


async def run_in_greenlet(fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(*args)`` to its end, awaiting for it whatever it passes to ``await_only``."""
    child = _Bridge(fn, greenlet.getcurrent())
    result = child.switch(*args)
    while not child.dead:
        try:
            value = await result
        except BaseException:
            result = child.throw(*sys.exc_info())
        else:
            result = child.switch(value)
    return cast(T, result)
