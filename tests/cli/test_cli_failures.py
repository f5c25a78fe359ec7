"""What the CLI shows when things fail: a failed run's traceback in ``sessions show``, and
one line (no traceback) when the database cannot be written (issue 10, items 9 and 10)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ["COLUMNS"] = "200"
from support.readonly import read_only
from typer.testing import CliRunner  # noqa: E402

from graph_sessions import SyncGraphSessionManager  # noqa: E402
from graph_sessions.cli.main import app  # noqa: E402
from graph_sessions.errors import RunFailed  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXE = str(Path(sys.executable).parent / "graph-sessions")

FAILING = f"{ROOT / 'tests' / 'support' / 'graphs.py'}:failing_graph"


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


def test_a_traceback_with_terminal_escapes_is_printed_escaped(tmp_path: Path) -> None:
    """Regression: the stored traceback (which quotes the exception's message, user or model
    text) reached the terminal with its ESC sequences (retitle, clear screen)."""
    url = f"sqlite:///{tmp_path / 'esc.db'}"
    with SyncGraphSessionManager(FAILING, url) as m, pytest.raises(RunFailed):
        m.create("esc").invoke({"user_input": "fail:x\x1b]0;pwned\x07y\x1b[2J"})
    result = CliRunner().invoke(app, ["sessions", "show", "esc", "--backend", url])
    assert result.exit_code == 0, result.output
    assert "Traceback (most recent call last)" in result.stdout
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "pwned" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["sessions", "delete", "kept"], marks=pytest.mark.slow),
        pytest.param(["sessions", "suspend", "kept"], marks=pytest.mark.slow),
        pytest.param(["chat", "CHAT", "--session", "kept"], marks=pytest.mark.slow),
        pytest.param(["chat", "CHAT", "--session", "brand-new"], marks=pytest.mark.slow),
    ],
)
def test_read_only_database_is_one_line_not_a_traceback(tmp_path: Path, args: list[str]) -> None:
    db = tmp_path / "ro.db"
    url = f"sqlite:///{db}"
    chat = f"{ROOT / 'tests' / 'support' / 'graphs.py'}:chat_graph"
    with SyncGraphSessionManager(chat, url) as m:
        m.create("kept").invoke({"user_input": "hi"})
    argv = [a if a != "CHAT" else chat for a in args]
    with read_only(db):
        done = subprocess.run(
            [EXE, *argv, "--backend", url],
            input="hello\n/quit\n",
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
    assert done.returncode != 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    # the header naming the database (on stderr, before anything runs) and one error line
    lines = [
        line
        for line in done.stderr.splitlines()
        if line.strip() and not line.startswith("database: ")
    ]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error:") and "readonly database" in lines[0]
