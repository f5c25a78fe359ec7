"""What a newcomer hits first, through the real ``graph-sessions`` entry point in subprocesses:
which database is opened, typos in backend URLs, and hostile strings in the terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from graph_sessions import SyncGraphSessionManager

ROOT = Path(__file__).resolve().parents[2]
GRAPHS = ROOT / "tests" / "graphs.py"
APPROVAL = f"{GRAPHS}:approval_graph"
EXE = str(Path(sys.executable).parent / "graph-sessions")
ENV = {**os.environ, "COLUMNS": "200"}
ENV.pop("GRAPH_SESSIONS_CONFIG", None)
ENV.pop("GRAPH_SESSIONS_BACKEND", None)


def gs(
    *args: str, cwd: Path | None = None, input: str | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run the installed CLI; bytes, so raw control characters would show."""
    return subprocess.run(
        [EXE, *args],
        capture_output=True,
        env=ENV,
        cwd=cwd,
        timeout=60,
        input=input.encode() if input is not None else None,
    )


EVIL = "evil\x1b]0;pwned\x07[bold]x\x1b[2J\u202e"


def test_control_characters_and_markup_in_user_strings_are_escaped(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'evil.db'}"
    with SyncGraphSessionManager(APPROVAL, url) as m:
        s = m.create(EVIL, owner="o\x1b[31m", metadata={"k": "[red]v\x07"})
        s.invoke({"user_input": "x\x1b]0;t\x07"})
    for args in (
        ("sessions", "list", "-b", url),
        ("sessions", "show", EVIL, "-b", url),
        ("events", EVIL, "-b", url),
        ("checkpoints", EVIL, "-b", url, "-g", APPROVAL),
    ):
        done = gs(*args)
        assert done.returncode == 0, done.stderr
        out = done.stdout + done.stderr
        assert b"\x1b" not in out and b"\x07" not in out, (args, out)
        assert "\u202e".encode() not in out
        text = out.decode()
        if args[0] != "events":  # the id is shown, escaped, markup not interpreted
            assert "\\x1b]0;pwned\\x07[bold]x" in text, (args, text)
    # Errors quoting the id are escaped too.
    done = gs("sessions", "delete", EVIL + "-missing", "-b", url)
    assert done.returncode == 3 and b"\x1b" not in done.stderr and b"\x07" not in done.stderr


def test_backend_typos_are_refused_and_create_nothing(tmp_path: Path) -> None:
    for typo, words in (
        ("y.bd", "refusing to create database"),
        ("memory:/", "malformed backend URL"),
        ("memory:", "malformed backend URL"),
        ("memory:/x", "malformed backend URL"),
        ("postgress://db", "unknown backend scheme"),
        ("memory://x", "nothing after"),
    ):
        done = gs("chat", APPROVAL, "-b", typo, cwd=tmp_path, input="hi\n/quit\n")
        assert done.returncode == 2, (typo, done.stdout, done.stderr)
        assert words in done.stderr.decode() and b"Traceback" not in done.stderr
        assert list(tmp_path.iterdir()) == [], typo  # no file "memory:", no "y.bd"
    # The explicit forms work: any name behind sqlite:///, a .db path, memory://.
    done = gs("chat", APPROVAL, "-b", "sqlite:///y.bd", cwd=tmp_path, input="/quit\n")
    assert done.returncode == 0 and (tmp_path / "y.bd").is_file()
    assert f"database: {(tmp_path / 'y.bd').resolve()}" in done.stderr.decode()
    assert gs("sessions", "list", "-b", "y.bd", cwd=tmp_path).returncode == 0  # exists now


def test_read_only_commands_never_create_a_database(tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    for args in (
        ("sessions", "list"),
        ("sessions", "show", "s1"),
        ("stats",),
        ("sessions", "stats"),
        ("checkpoints", "s1"),
        ("events", "s1"),
        ("sessions", "delete", "s1"),
    ):
        done = gs(*args, "-b", str(missing))
        assert done.returncode == 3, (args, done.stderr)
        assert f"database {missing} does not exist" in done.stderr.decode()
        assert not missing.exists(), args
    # The default (./sessions.db) likewise, from an empty folder.
    done = gs("sessions", "list", cwd=tmp_path)
    assert done.returncode == 3 and not (tmp_path / "sessions.db").exists()


def test_a_relative_backend_in_the_config_file_is_next_to_the_file(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    config = project / "langgraph.json"
    config.write_text(
        json.dumps(
            {
                "graphs": {"bot": APPROVAL},
                "graph_sessions": {"backend": "sqlite:///data/app.db"},
                "auth": {"path": "./auth.py:auth"},
                "frobnicate": 1,
            }
        )
    )
    (project / "data").mkdir()
    done = gs("chat", "bot", "-s", "t1", cwd=project, input="refund\n/quit\n")
    assert done.returncode == 0, done.stderr
    err = done.stderr.decode()
    assert f"database: {project / 'data' / 'app.db'}" in err
    # The config's notes are printed, not only logged.
    assert "note: langgraph.json: auth:" in err and "frobnicate: unknown key" in err
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = gs("sessions", "list", "--json", "-c", str(config), cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    assert [s["session_id"] for s in json.loads(done.stdout)["sessions"]] == ["t1"]
    assert not (elsewhere / "data").exists()
