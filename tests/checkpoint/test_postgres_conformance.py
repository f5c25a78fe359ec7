"""LangGraph's checkpointer conformance suite on the saver exactly as the Postgres backend
configures it: the fenced ``AsyncPostgresSaver`` on the backend's pool."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from support.postgres import PostgresServer

from graph_sessions.storage.postgres import PostgresBackend
from graph_sessions.storage.postgres.fencing import FencedPostgresSaver

#: capabilities LangGraph's AsyncPostgresSaver does not have (not detected by the suite):
#: our own Postgres saver is to have them
MISSING_IN_LANGGRAPH = {"delete_for_runs", "copy_thread"}


async def test_conformance_saver_as_the_postgres_backend_configures_it(
    postgres_server: PostgresServer,
) -> None:
    @checkpointer_test(name="graph_sessions.PostgresBackend.checkpointer")
    async def factory() -> AsyncGenerator[AsyncPostgresSaver, None]:
        url = postgres_server.create_database()
        backend = PostgresBackend(url)
        await backend.open()
        try:
            assert isinstance(backend.checkpointer, FencedPostgresSaver)
            yield backend.checkpointer
        finally:
            await backend.close()
            postgres_server.drop_database(url)

    report = await validate(factory)
    results = report.results
    undetected = {name for name, r in results.items() if not r.detected}
    assert undetected == MISSING_IN_LANGGRAPH
    failures = {
        name: [str(f)[:2000] for f in r.failures or []]
        for name, r in results.items()
        if r.detected and (r.passed is not True or r.tests_failed or r.tests_skipped)
    }
    assert not failures, failures
    assert sum(r.tests_passed for r in results.values()) >= 60
