"""``graph-sessions ui`` as a person runs it: it serves the inspector, prints its address,
takes a free port when the default one is busy, and opens the browser once the server
answers (the opener is a real function called by the command's helper)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from support.paths import subprocess_env
from support.server import free_port

from graph_sessions.cli.ui import inspector_url, open_when_ready

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
GRAPH = f"{ROOT / 'tests' / 'support' / 'server_graphs.py'}:work"


def _ui(*args: str) -> list[str]:
    """The command line of ``graph-sessions ui --no-open ARGS``."""
    return [sys.executable, "-m", "graph_sessions.cli.main", "ui", "--no-open", *args]


def _start(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        _ui(GRAPH, *args),
        cwd=tmp_path,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    for line in proc.stdout:
        if line.startswith("inspector: "):
            return proc, line.split(": ", 1)[1].strip()
        assert time.monotonic() < deadline, "no address printed"
    raise AssertionError(f"exited with {proc.wait()} before printing the address")


def _wait_ok(url: str) -> httpx.Response:
    deadline = time.monotonic() + 30
    while True:
        try:
            answer = httpx.get(url, timeout=2)
            if answer.status_code == 200:
                return answer
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{url} did not answer"
        time.sleep(0.2)


def test_ui_serves_the_inspector_and_moves_off_a_busy_port(tmp_path: Path) -> None:
    with socket.socket() as busy:  # someone holds the default port
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        (tmp_path / "langgraph.json").write_text(
            json.dumps({"graphs": {"work": GRAPH}, "graph_sessions": {"server": {"port": port}}})
        )
        proc, url = _start(tmp_path)
        try:
            assert url.startswith("http://127.0.0.1:") and url.endswith("/ui/")
            assert f":{port}/" not in url
            page = _wait_ok(url)
            assert "<title>graph-sessions</title>" in page.text
            assert "script-src 'self'" in page.headers["content-security-policy"]
        finally:
            proc.terminate()
            proc.wait(30)


def test_an_explicit_busy_port_is_refused(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            _ui(GRAPH, "--port", str(port)),
            cwd=tmp_path,
            env=subprocess_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode != 0
    assert str(port) in done.stdout + done.stderr


def test_the_browser_is_opened_once_the_server_answers(tmp_path: Path) -> None:
    port = free_port()
    url = inspector_url("0.0.0.0", port)
    assert url == f"http://127.0.0.1:{port}/ui/"
    opened: list[str] = []
    waiter = open_when_ready(url, opener=opened.append, timeout=60)
    time.sleep(0.5)
    assert opened == []  # nothing listens yet
    proc = subprocess.Popen(
        _ui(GRAPH, "--port", str(port)),
        cwd=tmp_path,
        env=subprocess_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        waiter.join(60)
        assert opened == [url]
    finally:
        proc.terminate()
        proc.wait(30)
