"""What the CLI shows when things fail: a failed run's traceback in ``sessions show``, and
one line (no traceback) when the database cannot be written (issue 10, items 9 and 10)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["COLUMNS"] = "200"
from typer.testing import CliRunner  # noqa: E402

from graph_sessions import SyncGraphSessionManager  # noqa: E402
from graph_sessions.cli.main import app  # noqa: E402
from graph_sessions.errors import RunFailed  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FAILING = f"{ROOT / 'tests' / 'graphs.py'}:failing_graph"


def test_sessions_show_prints_the_failed_runs_traceback(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    with SyncGraphSessionManager(FAILING, url) as m:
        s = m.create("broken")
        with pytest.raises(RunFailed):
            s.invoke({"user_input": "fail"})
    result = CliRunner().invoke(app, ["sessions", "show", "broken", "--backend", url])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "traceback" in out
    assert "Traceback (most recent call last)" in out
    assert "in boom" in out and "RuntimeError: boom" in out
