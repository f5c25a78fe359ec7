"""``graph-sessions keygen`` and the CLI on an encrypted database: the key from
``GRAPH_SESSIONS_ENCRYPTION_KEY`` opens it; without it, a clear error naming the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from graph_sessions import SyncGraphSessionManager
from graph_sessions.cli.main import app
from graph_sessions.crypto import ENCRYPTION_KEY_VARIABLE, parse_keys

runner = CliRunner()
APPROVAL = f"{Path(__file__).resolve().parents[1] / 'support' / 'graphs.py'}:approval_graph"


def test_keygen_prints_a_key_a_setting_accepts() -> None:
    result = runner.invoke(app, ["keygen", "--id", "prod-1"])
    assert result.exit_code == 0
    ring = parse_keys(result.stdout.strip())
    assert ring is not None and ring.current == "prod-1" and len(ring.current_key) == 32
    other = runner.invoke(app, ["keygen"]).stdout.strip()
    assert other != result.stdout.strip()
    bad = runner.invoke(app, ["keygen", "--id", "no spaces"])
    assert bad.exit_code == 2 and "must be 1-64 letters" in bad.stderr


def test_the_cli_reads_an_encrypted_database_with_the_key_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = runner.invoke(app, ["keygen", "--id", "k1"]).stdout.strip()
    url = f"sqlite:///{tmp_path / 'enc.db'}"
    with SyncGraphSessionManager(APPROVAL, url, encryption_key=key) as m:
        m.create("s1", metadata={"name": "Ada Lovelace"}, owner="alice").invoke(
            {"user_input": "refund"}
        )
    assert b"Lovelace" not in (tmp_path / "enc.db").read_bytes()
    monkeypatch.setenv(ENCRYPTION_KEY_VARIABLE, key)
    shown = runner.invoke(app, ["sessions", "show", "s1", "--json", "--backend", url])
    assert shown.exit_code == 0, shown.stderr
    assert json.loads(shown.stdout)["session"]["metadata"] == {"name": "Ada Lovelace"}
    monkeypatch.delenv(ENCRYPTION_KEY_VARIABLE)
    refused = runner.invoke(app, ["sessions", "show", "s1", "--json", "--backend", url])
    assert refused.exit_code != 0 and "'k1'" in refused.stderr
