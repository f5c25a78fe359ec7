"""LangGraph's public checkpointer conformance suite, against both savers on real files."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncGenerator
from pathlib import Path

import aiosqlite
import pytest
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import ALL_CAPABILITIES

from graph_sessions.checkpoint import AsyncSqliteSaver, SqliteSaver


def _spec_test_count() -> int:
    """How many tests the installed suite has: every ``test_*`` coroutine of its spec."""
    import importlib
    import inspect
    import pkgutil

    import langgraph.checkpoint.conformance.spec as spec

    count = 0
    for info in pkgutil.iter_modules(spec.__path__):
        module = importlib.import_module(f"{spec.__name__}.{info.name}")
        count += sum(
            1
            for name, fn in vars(module).items()
            if name.startswith("test_") and inspect.iscoroutinefunction(fn)
        )
    return count


def _assert_all_passed(report: object) -> None:
    results = report.results  # type: ignore[attr-defined]
    failures = {
        name: [str(f)[:2000] for f in (r.failures or [])]
        for name, r in results.items()
        if r.passed is not True
    }
    assert not failures, failures
    # every capability was detected and run, and every test of the suite passed: no subset
    assert {c.value for c in ALL_CAPABILITIES} <= set(results)
    assert all(r.tests_failed == 0 and r.tests_skipped == 0 for r in results.values())
    assert sum(r.tests_passed for r in results.values()) == _spec_test_count() >= 81


async def test_conformance_async_saver(tmp_path: Path) -> None:
    counter = iter(range(1000))

    @checkpointer_test(name="graph_sessions.AsyncSqliteSaver")
    async def factory() -> AsyncGenerator[AsyncSqliteSaver, None]:
        async with AsyncSqliteSaver.from_conn_string(
            str(tmp_path / f"async-{next(counter)}.db")
        ) as saver:
            await saver.setup()
            yield saver

    _assert_all_passed(await validate(factory))


async def test_conformance_sync_saver(tmp_path: Path) -> None:
    counter = iter(range(1000))

    @checkpointer_test(name="graph_sessions.SqliteSaver")
    async def factory() -> AsyncGenerator[SqliteSaver, None]:
        conn = sqlite3.connect(str(tmp_path / f"sync-{next(counter)}.db"), check_same_thread=False)
        saver = SqliteSaver(conn)
        saver.setup()
        yield saver
        conn.close()

    _assert_all_passed(await validate(factory))


@pytest.mark.parametrize("snapshot_every", [1, 2])
async def test_conformance_with_short_delta_chains(tmp_path: Path, snapshot_every: int) -> None:
    counter = iter(range(1000))

    @checkpointer_test(name=f"graph_sessions.AsyncSqliteSaver[{snapshot_every}]")
    async def factory() -> AsyncGenerator[AsyncSqliteSaver, None]:
        async with aiosqlite.connect(
            str(tmp_path / f"k{snapshot_every}-{next(counter)}.db")
        ) as conn:
            yield AsyncSqliteSaver(conn, snapshot_every=snapshot_every)

    _assert_all_passed(await validate(factory))


async def test_conformance_saver_as_the_sqlite_backend_configures_it(tmp_path: Path) -> None:
    """The checkpointer of an opened ``SqliteBackend``: the fenced saver on the backend's
    shared connection and lock, with the backend's pragmas (``synchronous=None``)."""
    from graph_sessions.storage.sqlite import SqliteBackend

    counter = iter(range(1000))

    @checkpointer_test(name="graph_sessions.SqliteBackend.checkpointer")
    async def factory() -> AsyncGenerator[AsyncSqliteSaver, None]:
        backend = SqliteBackend(tmp_path / f"backend-{next(counter)}.db")
        await backend.open()
        try:
            assert isinstance(backend.checkpointer, AsyncSqliteSaver)
            assert backend.checkpointer.lock is backend.connection.lock
            yield backend.checkpointer
        finally:
            await backend.close()

    _assert_all_passed(await validate(factory))
