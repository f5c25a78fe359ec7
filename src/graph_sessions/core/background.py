"""A manager's background loops (the TTL sweeper, the lease watch, the cancel watch): one
task each, started once when the manager opens and cancelled when it closes."""

from __future__ import annotations

import asyncio
import contextlib

from graph_sessions.core.context import CoreContext


class BackgroundLoop:
    """One background task running :meth:`_loop`; subclasses set :attr:`task_name` and
    may refuse to start (:meth:`wanted`)."""

    task_name = "graph-sessions-loop"

    def __init__(self, ctx: CoreContext) -> None:
        self.ctx = ctx
        self._task: asyncio.Task[None] | None = None

    def wanted(self) -> bool:
        """Whether :meth:`start` starts the loop (the settings may turn it off)."""
        return True

    def start(self) -> None:
        """Start the loop in the background (once)."""
        if self._task is None and self.wanted():
            self._task = asyncio.get_running_loop().create_task(self._loop(), name=self.task_name)

    async def stop(self) -> None:
        """Stop the loop."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        raise NotImplementedError
