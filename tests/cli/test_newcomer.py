"""What a newcomer hits first, through the real ``graph-sessions`` entry point in subprocesses:
which database is opened, typos in backend URLs, and hostile strings in the terminal."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from graph_sessions import SyncGraphSessionManager

ROOT = Path(__file__).resolve().parents[2]
GRAPHS = ROOT / "tests" / "support" / "graphs.py"
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_a_relative_backend_in_the_config_file_is_next_to_the_file(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    config = project / "langgraph.json"
    config.write_text(
        json.dumps(
            {
                "graphs": {"bot": APPROVAL},
                "graph_sessions": {"backend": "sqlite:///data/app.db"},
                "auth": {"path": "./auth.py:auth", "disable_studio_auth": True},
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
    assert "note: langgraph.json: auth.disable_studio_auth: ignored" in err
    assert "frobnicate: unknown key" in err
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = gs("sessions", "list", "--json", "-c", str(config), cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    assert [s["session_id"] for s in json.loads(done.stdout)["sessions"]] == ["t1"]
    assert not (elsewhere / "data").exists()


@pytest.mark.slow
def test_validate_reports_misspelled_state_names_and_node_fields(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "state: {user_input: str, draft: str, response: str}\n"
        "nodes:\n"
        "  draft: {type: passthrough, output: {draft: \"About '{state.user_inptu}'.\"}}\n"
        "  approve:\n"
        "    type: interrupt\n"
        '    message: "Send? {state.draft}"\n'
        "    resume_kye: user_input\n"
        "  respond: {type: passthrough, output: {response: '{state.draft}'}}\n"
        "edges:\n"
        "  - {from: START, to: draft}\n"
        "  - {from: draft, to: approve}\n"
        "  - {from: approve, to: respond}\n"
        "  - {from: respond, to: END}\n"
    )
    done = gs("validate", str(bad))
    assert done.returncode == 5
    lines = done.stderr.decode().splitlines()
    assert (
        f"{bad}:3: nodes.draft.output.draft: unknown state field 'user_inptu'; "
        "did you mean 'user_input'?" in lines
    )
    assert (
        f"{bad}:7: nodes.approve.resume_kye: unknown field of a 'interrupt' node; "
        "did you mean 'resume_key'?" in lines
    )


@pytest.mark.slow
def test_help_shows_words_not_python_types() -> None:
    for args in (("sessions", "list", "--help"), ("serve", "--help"), ("chat", "--help")):
        out = gs(*args).stdout.decode()
        assert "<bool>" not in out and "<str>" not in out and "<int>" not in out, out
        assert "URL" in out and "FILE" in out
    out = gs("serve", "--help").stdout.decode()
    assert "--output-key" in out
    done = subprocess.run(
        [sys.executable, "-m", "graph_sessions.server", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "``" not in done.stdout and "--output-key" in done.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_a_port_in_use_is_one_line_and_exit_code_6(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        done = gs("serve", APPROVAL, "--port", port, "-b", "memory://")
        assert done.returncode == 6, done.stderr
        err = done.stderr.decode()
        assert f"error: cannot listen on 127.0.0.1:{port}: address already in use" in err
        assert "Traceback" not in err
        module = subprocess.run(
            [
                sys.executable,
                "-m",
                "graph_sessions.server",
                APPROVAL,
                "--port",
                port,
                "--backend",
                "memory://",
            ],
            capture_output=True,
            text=True,
            env=ENV,
            timeout=60,
        )
        assert module.returncode == 6 and "address already in use" in module.stderr


@pytest.mark.slow
def test_serve_output_key_and_config_notes_at_start(tmp_path: Path) -> None:
    config = tmp_path / "langgraph.json"
    config.write_text(json.dumps({"graphs": {"bot": APPROVAL}, "http": {"app": "a.py:app"}}))
    port = _free_port()
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [EXE, "serve", "--port", str(port), "--output-key", "response", "-c", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=ENV,
        cwd=tmp_path,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline and proc.poll() is None, "server did not start"
                time.sleep(0.1)
            path = "/sessions/s1/invoke"
            client.post(path, json={"input": {"user_input": "refund"}}).raise_for_status()
            r = client.post(path, json={"input": {"user_input": "yes"}}).json()
            assert r["status"] == "complete" and r["output"] == "sent", r
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    text = (tmp_path / "serve.log").read_text()
    assert f"database: {tmp_path / 'sessions.db'}" in text  # next to the config file
    assert (
        "note: langgraph.json: http.app: ignored (only http.cors and http.disable_webhooks are read)"
        in text
    )
