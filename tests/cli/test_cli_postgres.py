"""The CLI on a Postgres backend: ``--backend postgresql://...`` lists and inspects the
sessions another process made, and never prints the password."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from graph_sessions import SyncGraphSessionManager
from graph_sessions.cli.main import app

CHAT = f"{Path(__file__).resolve().parents[1] / 'support' / 'graphs.py'}:chat_graph"


def test_list_and_stats_on_postgres(postgres_url: str) -> None:
    with SyncGraphSessionManager(CHAT, postgres_url) as m:
        m.create("a", metadata={"plan": "pro"}).invoke({"user_input": "hi"})
        m.create("b")
    secret = postgres_url.replace("postgres@", "postgres:hunter2@")  # trust auth ignores it
    result = CliRunner().invoke(app, ["sessions", "list", "--backend", secret, "--json"])
    assert result.exit_code == 0, result.stderr
    assert {s["session_id"] for s in json.loads(result.stdout)["sessions"]} == {"a", "b"}
    assert "hunter2" not in result.stderr and "***" in result.stderr
    result = CliRunner().invoke(app, ["stats", "--backend", postgres_url])
    assert result.exit_code == 0 and "2" in result.stdout
