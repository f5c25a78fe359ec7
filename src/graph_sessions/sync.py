"""Blocking facade for scripts and notebooks: the same names, no ``await``.

The async manager runs on an event loop in a background thread; every call is handed to
that loop, so calls from many threads are serialised per session exactly as in async code.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterable, Iterator
from typing import Any, TypeVar

from graph_sessions.core.manager import GraphSessionManager
from graph_sessions.core.session import GraphSession
from graph_sessions.core.sweeper import SweepReport
from graph_sessions.models import (
    CheckpointInfo,
    Event,
    InvokeResult,
    Message,
    MessageSummary,
    RunInfo,
    SessionInfo,
    SessionPage,
    SessionStats,
    SessionStatus,
)

T = TypeVar("T")
_MISSING: Any = object()


class _LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="graph-sessions-loop", daemon=True
        )
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        if threading.current_thread() is self.thread:
            raise RuntimeError("the sync facade cannot be called from its own event loop")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


class SyncMessages:
    """Blocking ``session.messages``."""

    def __init__(self, session: SyncGraphSession) -> None:
        self._s = session

    def append(
        self, message: Any, content: Any = None, *, data: dict[str, Any] | None = None
    ) -> Message:
        """See :meth:`SessionMessages.append`."""
        return self._s.call(self._s.inner.messages.append(message, content, data=data))

    def extend(self, messages: Iterable[Any]) -> list[int]:
        """See :meth:`SessionMessages.extend`."""
        return self._s.call(self._s.inner.messages.extend(list(messages)))

    def load(self, limit: int | None = None, before: int | None = None) -> list[Message]:
        """See :meth:`SessionMessages.load`."""
        return self._s.call(self._s.inner.messages.load(limit, before))

    def clear(self) -> int:
        """See :meth:`SessionMessages.clear`."""
        return self._s.call(self._s.inner.messages.clear())

    def summary(self) -> MessageSummary:
        """See :meth:`SessionMessages.summary`."""
        return self._s.call(self._s.inner.messages.summary())


class SyncGraphSession:
    """Blocking :class:`GraphSession`."""

    def __init__(self, manager: SyncGraphSessionManager, inner: GraphSession) -> None:
        self._manager = manager
        self.inner = inner
        self.messages = SyncMessages(self)

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine (of :attr:`inner`, say) on the manager's loop and wait for it."""
        return self._manager.call(coro)

    @property
    def session_id(self) -> str:
        """The session's id."""
        return self.inner.session_id

    thread_id = session_id

    @property
    def status(self) -> SessionStatus:
        """The status as last seen."""
        return self.inner.status

    @property
    def info(self) -> SessionInfo:
        """The registry row as last seen."""
        return self.inner.info

    @property
    def is_complete(self) -> bool:
        """See :attr:`GraphSession.is_complete`."""
        return self.inner.is_complete

    def invoke(self, input: Any = None, **kwargs: Any) -> InvokeResult:
        """See :meth:`GraphSession.invoke`."""
        return self.call(self.inner.invoke(input, **kwargs))

    def stream(self, input: Any = None, **kwargs: Any) -> Iterator[Any]:
        """See :meth:`GraphSession.stream`; yields the chunks as they come."""
        call = self._manager.call

        async def start() -> Any:
            return self.inner.stream(input, **kwargs).__aiter__()

        iterator = call(start())
        try:
            while True:
                try:
                    chunk = call(iterator.__anext__())
                except StopAsyncIteration:
                    return
                yield chunk
        finally:
            # Leaving early closes the stream now (on_disconnect applies), not at GC time.
            call(iterator.aclose())

    def resume(self, value: Any = _MISSING, **kwargs: Any) -> InvokeResult | None:
        """See :meth:`GraphSession.resume`."""
        if value is _MISSING:
            return self.call(self.inner.resume(**kwargs))
        return self.call(self.inner.resume(value, **kwargs))

    def suspend(self, reason: str | None = None) -> SessionInfo:
        """See :meth:`GraphSession.suspend`."""
        return self.call(self.inner.suspend(reason))

    def refresh(self) -> SessionInfo:
        """See :meth:`GraphSession.refresh`."""
        return self.call(self.inner.refresh())

    def get_state(self) -> dict[str, Any]:
        """See :meth:`GraphSession.get_state`."""
        return self.call(self.inner.get_state())

    def snapshot(self, checkpoint_id: str | None = None) -> CheckpointInfo | None:
        """See :meth:`GraphSession.snapshot`."""
        return self.call(self.inner.snapshot(checkpoint_id))

    def checkpoints(self, limit: int = 20, before: str | None = None) -> list[CheckpointInfo]:
        """See :meth:`GraphSession.checkpoints`."""
        return self.call(self.inner.checkpoints(limit, before))

    def fork(self, checkpoint_id: str) -> CheckpointInfo:
        """See :meth:`GraphSession.fork`."""
        return self.call(self.inner.fork(checkpoint_id))

    def update_state(
        self, values: dict[str, Any] | None, as_node: str | None = None
    ) -> CheckpointInfo:
        """See :meth:`GraphSession.update_state`."""
        return self.call(self.inner.update_state(values, as_node))

    def events(self, after: int | None = None, limit: int = 100) -> list[Event]:
        """See :meth:`GraphSession.events`."""
        return self.call(self.inner.events(after, limit))

    def runs(self, limit: int = 50) -> list[RunInfo]:
        """See :meth:`GraphSession.runs`."""
        return self.call(self.inner.runs(limit))

    def update_metadata(self, metadata: dict[str, Any], *, merge: bool = True) -> SessionInfo:
        """See :meth:`GraphSession.update_metadata`."""
        return self.call(self.inner.update_metadata(metadata, merge=merge))

    def rebind(self, graph_id: str | None = None) -> SessionInfo:
        """See :meth:`GraphSession.rebind`."""
        return self.call(self.inner.rebind(graph_id))

    def __repr__(self) -> str:
        return f"Sync{self.inner!r}"


class SyncGraphSessionManager:
    """Blocking :class:`GraphSessionManager`: same arguments, same method names.

    Use as ``with SyncGraphSessionManager(graph=...) as manager:``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._args = args
        self._kwargs = kwargs
        self._thread: _LoopThread | None = None
        self.manager: GraphSessionManager | None = None

    def _loop_thread(self) -> _LoopThread:
        if self._thread is None:
            raise RuntimeError(
                "the manager is not open: use 'with SyncGraphSessionManager(...) as m:' or .open()"
            )
        return self._thread

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine (of :attr:`manager`, say) on the background loop and wait for it."""
        return self._loop_thread().run(coro)

    def _m(self) -> GraphSessionManager:
        if self.manager is None:
            raise RuntimeError("the manager is not open")
        return self.manager

    def open(self) -> SyncGraphSessionManager:
        """Start the background loop and open the manager."""
        if self._thread is not None:
            return self
        self._thread = _LoopThread()

        async def build() -> GraphSessionManager:
            return await GraphSessionManager(*self._args, **self._kwargs).open()

        try:
            self.manager = self._thread.run(build())
        except BaseException:
            self._thread.stop()
            self._thread = None
            raise
        return self

    def close(self) -> None:
        """Close the manager and stop the background loop."""
        if self._thread is None:
            return
        try:
            if self.manager is not None:
                self._thread.run(self.manager.close())
        finally:
            self._thread.stop()
            self._thread = None

    cleanup = close

    def __enter__(self) -> SyncGraphSessionManager:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _wrap(self, session: GraphSession | None) -> SyncGraphSession | None:
        return SyncGraphSession(self, session) if session is not None else None

    def get_or_create(self, session_id: str | None = None, **kwargs: Any) -> SyncGraphSession:
        """See :meth:`GraphSessionManager.get_or_create`."""
        return SyncGraphSession(self, self.call(self._m().get_or_create(session_id, **kwargs)))

    def create(self, session_id: str | None = None, **kwargs: Any) -> SyncGraphSession:
        """See :meth:`GraphSessionManager.create`."""
        return SyncGraphSession(self, self.call(self._m().create(session_id, **kwargs)))

    def get(self, session_id: str, **kwargs: Any) -> SyncGraphSession | None:
        """See :meth:`GraphSessionManager.get`."""
        return self._wrap(self.call(self._m().get(session_id, **kwargs)))

    def info(self, session_id: str, **kwargs: Any) -> SessionInfo:
        """See :meth:`GraphSessionManager.info`."""
        return self.call(self._m().info(session_id, **kwargs))

    def delete(self, session_id: str, **kwargs: Any) -> bool:
        """See :meth:`GraphSessionManager.delete`."""
        return self.call(self._m().delete(session_id, **kwargs))

    def list(self, *args: Any, **kwargs: Any) -> SessionPage:
        """See :meth:`GraphSessionManager.list`."""
        return self.call(self._m().list(*args, **kwargs))

    def count(self, *args: Any, **kwargs: Any) -> int:
        """See :meth:`GraphSessionManager.count`."""
        return self.call(self._m().count(*args, **kwargs))

    def stats(self) -> SessionStats:
        """See :meth:`GraphSessionManager.stats`."""
        return self.call(self._m().stats())

    def sweep(self, now: Any = None) -> SweepReport:
        """See :meth:`GraphSessionManager.sweep`."""
        return self.call(self._m().sweep(now))

    def update_metadata(
        self, session_id: str, metadata: dict[str, Any], **kwargs: Any
    ) -> SessionInfo:
        """See :meth:`GraphSessionManager.update_metadata`."""
        return self.call(self._m().update_metadata(session_id, metadata, **kwargs))
