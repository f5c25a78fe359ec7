"""LangGraph's checkpointer conformance suite on the savers exactly as the Postgres backend
configures them: ours (the default) and LangGraph's ``AsyncPostgresSaver``
(``?checkpointer=langgraph``), fenced, on the backend's pool."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import pytest
from langgraph.checkpoint.conformance import checkpointer_test, validate
from support.postgres import PostgresServer

from graph_sessions.storage.postgres import PostgresBackend
from graph_sessions.storage.postgres.fencing import (
    FencedPostgresSaver,
    FencedSessionsPostgresSaver,
)

#: per saver: its class as the backend holds it, and the capabilities the suite does not
#: detect in it (LangGraph's AsyncPostgresSaver has neither of these; ours has both)
SAVERS: dict[str, tuple[type, set[str]]] = {
    "graph-sessions": (FencedSessionsPostgresSaver, set()),
    "langgraph": (FencedPostgresSaver, {"delete_for_runs", "copy_thread"}),
}


@pytest.mark.parametrize("kind", sorted(SAVERS))
async def test_conformance_saver_as_the_postgres_backend_configures_it(
    postgres_server: PostgresServer, kind: str
) -> None:
    saver_class, undetectable = SAVERS[kind]

    @checkpointer_test(name=f"graph_sessions.PostgresBackend.checkpointer[{kind}]")
    async def factory() -> AsyncGenerator[Any, None]:
        url = postgres_server.create_database()
        backend = PostgresBackend(url, checkpointer=kind)
        await backend.open()
        try:
            assert type(backend.checkpointer) is saver_class
            yield backend.checkpointer
        finally:
            await backend.close()
            postgres_server.drop_database(url)

    report = await validate(factory)
    results = report.results
    undetected = {name for name, r in results.items() if not r.detected}
    assert undetected == undetectable
    failures = {
        name: [str(f)[:2000] for f in r.failures or []]
        for name, r in results.items()
        if r.detected and (r.passed is not True or r.tests_failed or r.tests_skipped)
    }
    assert not failures, failures
    assert sum(r.tests_passed for r in results.values()) >= 60
