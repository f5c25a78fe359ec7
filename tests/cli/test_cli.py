"""The graph-sessions CLI through its real entry point (Typer's runner and subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

os.environ["COLUMNS"] = "200"  # wide tables, before the CLI's consoles are created
from typer.testing import CliRunner  # noqa: E402

from graph_sessions import SyncGraphSessionManager  # noqa: E402
from graph_sessions.cli.main import app  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
GRAPHS = ROOT / "tests" / "support" / "graphs.py"
APPROVAL = f"{GRAPHS}:approval_graph"
CHAT = f"{GRAPHS}:chat_graph"
EXE = str(Path(sys.executable).parent / "graph-sessions")

runner = CliRunner()


def cli(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A database with sessions in several statuses."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    with SyncGraphSessionManager(
        {"approval": APPROVAL, "chat": CHAT}, url, output_key="response"
    ) as m:
        waiting = m.create("waiting", metadata={"plan": "pro"}, owner="alice")
        waiting.invoke({"user_input": "refund"})
        done = m.create("done", graph_id="chat", metadata={"plan": "free"})
        done.invoke({"user_input": "hi"})
        m.create("fresh", graph_id="chat")
    return url


def test_help_and_version() -> None:
    code, out, _ = cli("--help")
    assert code == 0
    for name in (
        "serve",
        "chat",
        "sessions",
        "stats",
        "checkpoints",
        "events",
        "validate",
        "graph",
    ):
        assert name in out
    assert "Exit codes" in out
    code, out, _ = cli("sessions", "--help")
    for name in ("list", "show", "resume", "suspend", "delete", "cleanup"):
        assert name in out
    code, out, _ = cli("--version")
    assert code == 0 and out.startswith("graph-sessions 0.")


def test_list_filters_and_json(db: str) -> None:
    code, out, _ = cli("sessions", "list", "--backend", db)
    assert code == 0
    assert "3 session(s)" in out and "waiting" in out and "interrupted" in out
    code, out, _ = cli("sessions", "list", "--backend", db, "--json", "--status", "interrupted")
    page = json.loads(out)
    assert [s["session_id"] for s in page["sessions"]] == ["waiting"]
    assert page["sessions"][0]["owner"] == "alice"
    code, out, _ = cli("sessions", "list", "-b", db, "--json", "-m", "plan=free")
    assert [s["session_id"] for s in json.loads(out)["sessions"]] == ["done"]
    code, out, _ = cli("sessions", "list", "-b", db, "--json", "--graph-id", "chat", "-n", "1")
    page = json.loads(out)
    assert len(page["sessions"]) == 1 and page["next_cursor"]
    code, out, _ = cli(
        "sessions",
        "list",
        "-b",
        db,
        "--json",
        "--graph-id",
        "chat",
        "--cursor",
        page["next_cursor"],
    )
    assert len(json.loads(out)["sessions"]) == 1
    code, _, err = cli("sessions", "list", "-b", db, "--sort", "size")
    assert code == 2 and "sort must be one of" in err and "Traceback" not in err


def test_show_prints_status_state_interrupt_and_events(db: str) -> None:
    code, out, _ = cli("sessions", "show", "waiting", "-b", db)
    assert code == 0
    assert "interrupted" in out and "approve?" in out and "draft:refund" in out
    assert "run_started" in out or "run.started" in out or "created" in out
    code, out, _ = cli("sessions", "show", "waiting", "-b", db, "--json")
    data = json.loads(out)
    assert data["session"]["status"] == "interrupted"
    assert data["state"]["log"] == ["draft:refund"]
    assert data["events"]
    code, _, err = cli("sessions", "show", "nope", "-b", db)
    assert err.startswith("database: ")  # which file was opened, on stderr
    errors = [line for line in err.splitlines() if not line.startswith("database: ")]
    assert code == 3 and "not found" in err and len(errors) == 1


def test_resume_answers_the_interrupt(db: str) -> None:
    # Without the graph the answer cannot run: a clear error, nothing changed.
    code, _, err = cli("sessions", "resume", "waiting", "--input", "yes", "-b", db)
    assert code == 2 and "without a graph" in err
    code, out, _ = cli(
        "sessions", "resume", "waiting", "--input", '"yes"', "-b", db, "-g", APPROVAL, "--json"
    )
    assert code == 0, out
    result = json.loads(out)
    assert result["status"] == "complete" and result["state"]["response"] == "sent"
    code, _, err = cli("sessions", "resume", "waiting", "--input", "yes", "-b", db, "-g", APPROVAL)
    assert code == 4 and "no interrupt to resume" in err


def test_suspend_then_resume_lifts_it(db: str) -> None:
    code, out, _ = cli("sessions", "suspend", "done", "--reason", "audit", "-b", db)
    assert code == 0 and "suspended" in out
    with SyncGraphSessionManager(CHAT, db) as m:
        assert m.info("done").status == "suspended"
    code, out, _ = cli("sessions", "suspend", "done", "-b", db)
    assert code == 4
    code, out, _ = cli("sessions", "resume", "done", "-b", db)
    assert code == 0 and "suspension lifted" in out
    with SyncGraphSessionManager(CHAT, db) as m:
        assert m.info("done").status == "completed"


def test_delete_and_missing_ids(db: str) -> None:
    code, out, _ = cli("sessions", "delete", "done", "fresh", "-b", db)
    assert code == 0 and "deleted done" in out and "deleted fresh" in out
    code, _, err = cli("sessions", "delete", "done", "-b", db)
    assert code == 3 and "not found: done" in err
    with SyncGraphSessionManager(CHAT, db) as m:
        assert [s.session_id for s in m.list()] == ["waiting"]


def test_cleanup_sweeps_expired_sessions(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ttl.db'}"
    with SyncGraphSessionManager(CHAT, url, sweep_interval=None) as m:
        for i in range(5):
            m.create(f"short-{i}", ttl=0.05)
        m.create("long", ttl=3600)
    time.sleep(0.1)
    code, out, _ = cli("stats", "-b", url, "--json")
    assert json.loads(out)["expired"] == 5
    code, out, _ = cli("sessions", "cleanup", "-b", url)
    assert code == 0 and "expired 5 session(s): 5 deleted" in out
    code, out, _ = cli("stats", "-b", url, "--json")
    stats = json.loads(out)
    assert stats["total"] == 1 and stats["expired"] == 0


def test_checkpoints_and_events(db: str) -> None:
    code, out, _ = cli("checkpoints", "waiting", "-b", db, "-g", "approval", "--json")
    assert code == 2  # "approval" is not a config graph id here and not a reference
    code, out, _ = cli("checkpoints", "waiting", "-b", db, "-g", APPROVAL, "--json")
    assert code == 0, out
    cps = json.loads(out)
    assert cps and cps[0]["next"] == ["approve"]
    code, out, _ = cli("events", "waiting", "-b", db)
    assert code == 0 and "created" in out
    code, out, _ = cli("events", "waiting", "-b", db, "--json", "-n", "1")
    assert code == 0 and json.loads(out)["session_id"] == "waiting"


@pytest.mark.slow
def test_events_follow_prints_new_events_from_another_process(db: str) -> None:
    proc = subprocess.Popen(
        [EXE, "events", "fresh", "-b", db, "--follow", "--interval", "0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(2.5)  # started and printed the backlog
        with SyncGraphSessionManager({"chat": CHAT}, db) as m:
            m.get("fresh").invoke({"user_input": "later"})  # type: ignore[union-attr]
        time.sleep(1.5)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert "created" in out, err
    assert "run_finished" in out or "run.finished" in out or "completed" in out, out


@pytest.mark.slow
def test_chat_through_a_real_process_with_interrupts_and_continue_later(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'chat.db'}"
    script = "refund please\nyes\n/state\n/quit\n"
    done = subprocess.run(
        [EXE, "chat", APPROVAL, "--session", "c1", "-b", url],
        input=script,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "? approve?" in out
    assert "graph> sent" in out
    assert "session c1 kept; continue with: graph-sessions chat" in out
    # Leave it waiting at the interrupt, then come back in a new process.
    subprocess.run(
        [EXE, "chat", APPROVAL, "--session", "c1", "-b", url],
        input="another\n",  # EOF quits and keeps it
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    again = subprocess.run(
        [EXE, "chat", APPROVAL, "--session", "c1", "-b", url],
        input="no\n/quit\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "interrupted" in again.stdout and "? approve?" in again.stdout
    assert "graph> dropped" in again.stdout
    with SyncGraphSessionManager(APPROVAL, url) as m:
        s = m.get("c1")
        assert s is not None and s.status == "completed"
        assert s.get_state()["log"][-1] == "respond"


@pytest.mark.slow
def test_chat_with_a_config_file(tmp_path: Path) -> None:
    (tmp_path / "langgraph.json").write_text(
        json.dumps(
            {
                "graphs": {"bot": CHAT},
                "graph_sessions": {"backend": f"sqlite:///{tmp_path / 'cfg.db'}"},
            }
        )
    )
    done = subprocess.run(
        [EXE, "chat", "bot", "-s", "x"],
        input="hello\nagain\n/quit\n",
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "graph> turn 1: hello" in done.stdout and "graph> turn 2: again" in done.stdout
    assert (tmp_path / "cfg.db").is_file()


@pytest.mark.slow
def test_errors_are_one_line_with_documented_exit_codes(tmp_path: Path) -> None:
    code, _, err = cli("stats", "-b", "ftp://nowhere")
    assert code == 2 and err.startswith("error:") and "Traceback" not in err
    bad = tmp_path / "bad.json"
    bad.write_text('{"graph_sessions": {"ttl": "soon"}}')
    code, _, err = cli("stats", "-c", str(bad))
    assert code == 2 and "graph_sessions.ttl" in err
    code, _, err = cli("chat", "-b", "memory://")
    assert code == 2 and "needs a graph" in err
    env = {**os.environ, "GRAPH_SESSIONS_CONFIG": str(tmp_path / "missing.json")}
    done = subprocess.run([EXE, "stats"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 2 and "does not exist" in done.stderr
    assert "Traceback" not in done.stderr


def test_validate_and_graph_for_python_graphs(tmp_path: Path) -> None:
    code, out, _ = cli("validate", CHAT)
    assert code == 0 and "ok:" in out
    code, _, err = cli("validate", f"{GRAPHS}:nothing_here")
    assert code == 5 and "has no attribute" in err
    code, out, _ = cli("graph", CHAT)
    assert code == 0 and "graph TD" in out and "reply" in out


@pytest.mark.slow
def test_chat_refuses_a_session_of_another_graph_unless_rebind(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rebind.db'}"

    def chat(graph: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [EXE, "chat", graph, "--session", "s", "-b", url, *extra],
            input="refund please\n/quit\n",
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert chat(CHAT).returncode == 0
    refused = chat(APPROVAL)
    assert refused.returncode != 0
    assert "chat_graph" in refused.stderr and "approval_graph" in refused.stderr
    assert "--rebind" in refused.stderr and "Traceback" not in refused.stderr
    rebound = chat(APPROVAL, "--rebind")
    assert rebound.returncode == 0, rebound.stderr
    assert "? approve?" in rebound.stdout


def test_chat_refuses_a_line_the_graph_would_drop(tmp_path: Path) -> None:
    """A graph that takes none of the usual input keys: chat says which keys it takes and
    runs nothing, instead of sending the line under a key LangGraph drops."""
    url = f"sqlite:///{tmp_path / 'chat.db'}"
    graphs = ROOT / "reference" / "langgraph-api" / "lgdev-project" / "graphs.py"
    done = subprocess.run(
        [EXE, "chat", f"{graphs}:approval_builder", "--session", "c1", "-b", url],
        input="refund please\n/quit\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "--input-key" in done.stderr and "request" in done.stderr
    wrong = subprocess.run(
        [EXE, "chat", f"{graphs}:approval_builder", "-b", url, "--input-key", "nope"],
        input="/quit\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert wrong.returncode == 2 and "no input key 'nope'" in wrong.stderr
    ok = subprocess.run(
        [EXE, "chat", f"{graphs}:approval_builder", "--session", "c2", "-b", url]
        + ["--input-key", "request"],
        input="refund please\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    with SyncGraphSessionManager(f"{graphs}:approval_builder", url) as m:
        assert m.get("c2").get_state()["request"] == "refund please"
