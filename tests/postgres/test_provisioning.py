"""The throwaway PostgreSQL server the Postgres tests stand on: it runs, each test gets its
own empty database, and what one test writes another does not see."""

from __future__ import annotations

import psycopg
import pytest
from support.postgres import PostgresServer

pytestmark = pytest.mark.slow


def test_a_test_database_is_empty_and_writable(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        assert tables == (0,)
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (1), (2)")
        assert conn.execute("SELECT sum(x) FROM t").fetchone() == (3,)


def test_databases_are_separate(postgres_server: PostgresServer) -> None:
    a, b = postgres_server.create_database(), postgres_server.create_database()
    try:
        with psycopg.connect(a, autocommit=True) as conn:
            conn.execute("CREATE TABLE only_in_a (x int)")
        with psycopg.connect(b, autocommit=True) as conn:
            found = conn.execute("SELECT to_regclass('only_in_a')").fetchone()
            assert found == (None,)
            assert conn.info.host == "127.0.0.1"
    finally:
        postgres_server.drop_database(a)
        postgres_server.drop_database(b)
