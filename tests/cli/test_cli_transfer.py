"""``graph-sessions export``, ``import`` and ``backup`` through the CLI's entry point."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

os.environ["COLUMNS"] = "200"
from typer.testing import CliRunner  # noqa: E402

from graph_sessions import SyncGraphSessionManager  # noqa: E402
from graph_sessions.cli.main import app  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
GRAPHS = ROOT / "tests" / "support" / "graphs.py"
APPROVAL = f"{GRAPHS}:approval_graph"
CHAT = f"{GRAPHS}:chat_graph"

runner = CliRunner()


def cli(*args: str, input: str | bytes | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    with SyncGraphSessionManager({"approval": APPROVAL, "chat": CHAT}, url) as m:
        m.create("waiting", owner="alice").invoke({"user_input": "refund"})
        m.create("done", graph_id="chat", owner="bob").invoke({"user_input": "hi"})
        m.create("fresh", graph_id="chat")
    return url


def test_export_then_import_into_another_backend(db: str, tmp_path: Path) -> None:
    code, out, err = cli("export", "--backend", db)
    assert code == 0, err
    lines = out.splitlines()
    assert json.loads(lines[0])["kind"] == "header"
    assert [json.loads(x)["session"]["session_id"] for x in lines[1:]] == [
        "waiting",
        "done",
        "fresh",
    ]
    assert "exported 3 session(s)" in err
    file = tmp_path / "s.jsonl"
    file.write_text(out)
    target = f"sqlite:///{tmp_path / 'b.db'}"
    code, out, err = cli("import", "--backend", target, str(file))
    assert code == 0, err
    assert "sessions: 3 imported, 0 replaced, 0 already there" in out
    code, out, _ = cli("import", "--backend", target, str(file), "--json")
    assert code == 0 and json.loads(out)["skipped"] == {"session": 3}
    code, again, _ = cli("export", "--backend", target)
    assert again.splitlines()[1:] == lines[1:]
    with SyncGraphSessionManager({"approval": APPROVAL, "chat": CHAT}, target) as m:
        s = m.get("waiting")
        assert s is not None and s.info.owner == "alice"
        assert m.get("waiting").resume("yes").status == "complete"  # type: ignore[union-attr]
    # the target moved on: importing the file again is a refused conflict (exit 4)...
    code, out, err = cli("import", "--backend", target, str(file))
    assert code == 4
    assert "1 conflict(s) refused" in out and "session 'waiting' already exists" in err
    # ...unless --replace
    code, out, err = cli("import", "--backend", target, str(file), "--replace")
    assert code == 0 and "0 imported, 1 replaced, 2 already there" in out


def test_export_filters_and_output_file(db: str, tmp_path: Path) -> None:
    out_file = tmp_path / "x.jsonl"
    code, _, err = cli("export", "-b", db, "--owner", "bob", "--sessions-only", "-o", str(out_file))
    assert code == 0, err
    kinds = [json.loads(x)["kind"] for x in out_file.read_text().splitlines()]
    assert kinds == ["header", "session"]
    code, out, _ = cli("export", "-b", db, "--status", "interrupted", "--status", "created")
    ids = [json.loads(x)["session"]["session_id"] for x in out.splitlines()[1:]]
    assert ids == ["waiting", "fresh"]
    code, _, err = cli("export", "-b", db, "--status", "asleep")
    assert code == 2 and "--status 'asleep'" in err


def test_import_refuses_a_bad_file_naming_the_line(db: str, tmp_path: Path) -> None:
    _, out, _ = cli("export", "--backend", db)
    lines = out.splitlines()
    lines[2] = lines[2][:50]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    target = f"sqlite:///{tmp_path / 'b.db'}"
    code, _, err = cli("import", "--backend", target, str(bad))
    assert code == 2 and "line 3: not JSON" in err
    code, _, err = cli("import", "--backend", target, str(tmp_path / "missing.jsonl"))
    assert code == 3 and "cannot read" in err
    # the line before the bad one was imported, the bad one's session was not
    code, out, _ = cli("export", "--backend", target)
    assert [json.loads(x)["session"]["session_id"] for x in out.splitlines()[1:]] == ["waiting"]
    code, out, _ = cli("import", "--backend", target, "-", input="\n".join(lines[:2]) + "\n")
    assert code == 0 and "0 imported, 0 replaced, 1 already there" in out


def test_backup_copies_and_checks(db: str, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    code, out, err = cli("backup", "--backend", db, str(copy))
    assert code == 0, err
    assert "3 session(s)" in out and "integrity ok" in out
    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT COUNT(*) FROM sessions").fetchone() == (3,)
    code, _, err = cli("backup", "--backend", db, str(copy))
    assert code == 2 and "exists" in err
    code, _, _ = cli("backup", "--backend", db, str(copy), "--force")
    assert code == 0
    code, _, err = cli("backup", "--backend", "memory://", str(tmp_path / "m.db"))
    assert code == 2 and "SQLite file" in err
    code, _, err = cli("backup", "--backend", str(tmp_path / "nope.db"), str(tmp_path / "n.db"))
    assert code == 1 and "does not exist" in err
    assert not (tmp_path / "nope.db").exists()
