"""Helpers of the server tests: the real server as a subprocess on 127.0.0.1 (free port,
real SQLite file), SSE parsing."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from support.paths import subprocess_env

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PY = sys.executable
GRAPHS = HERE / "server_graphs.py"

KEYS = {"alice": "alice-key-0001", "bob": "bob-key-0002", "root": "root-key-0003"}
API_KEYS_ENV = f"{KEYS['alice']}:alice,{KEYS['bob']}:bob:user,{KEYS['root']}:root:admin"
JWT_SECRET = "test-secret-with-enough-bytes-for-hs256!"


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(folder: Path, db: Path, **section: Any) -> Path:
    """A langgraph.json serving the test graphs ``work`` (default) and ``approval``."""
    config = {
        "graphs": {"work": f"{GRAPHS}:work", "approval": f"{GRAPHS}:approval"},
        "graph_sessions": {"backend": f"sqlite:///{db}", "output_key": "response", **section},
    }
    path = folder / "langgraph.json"
    path.write_text(json.dumps(config))
    return path


class ServerProcess:
    """One server process: ``start``, ``url``, ``client(...)``, ``stop``."""

    def __init__(
        self,
        args: list[str],
        env: dict[str, str],
        cwd: Path,
        port: int,
        ready_path: str = "/healthz",
    ) -> None:
        self.args = args
        self.ready_path = ready_path
        self.env = env
        self.cwd = cwd
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = cwd / f"server-{port}.log"

    def start(self, timeout: float = 30.0) -> ServerProcess:
        """Start the process and wait until ``ready_path`` (/healthz) answers 200."""
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.args, env=self.env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                if httpx.get(self.url + self.ready_path, timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start in {timeout} s:\n{self.logs()}")

    def logs(self) -> str:
        """What the process wrote so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def client(self, who: str | None = None, **kwargs: Any) -> httpx.Client:
        """An httpx client, authenticated as ``who`` (a key of KEYS) when given."""
        headers = {"X-Api-Key": KEYS[who]} if who else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        """Send ``sig`` and wait for the exit; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


def base_env(**extra: str) -> dict[str, str]:
    """The environment of a server process: ours minus GRAPH_SESSIONS_*, ``tests/`` on
    PYTHONPATH (the graph files import ``support``), plus ``extra``."""
    env = subprocess_env(
        {k: v for k, v in os.environ.items() if not k.startswith("GRAPH_SESSIONS_")}
    )
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def start_module_server(
    folder: Path, *, env: dict[str, str] | None = None, port: int | None = None, **section: Any
) -> ServerProcess:
    """``python -m graph_sessions.server --config folder/langgraph.json``, started."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "sessions.db"
    config = write_config(folder, db, **section)
    port = port or free_port()
    args = [PY, "-m", "graph_sessions.server", "--config", str(config), "--port", str(port)]
    return ServerProcess(args, base_env(**(env or {})), folder, port).start()


def sse_events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """Parse SSE lines into ``{"event", "data", "id"}`` dicts (data JSON-decoded)."""
    event: dict[str, Any] = {}
    data: list[str] = []
    for line in lines:
        if line == "":
            if data or event:
                raw = "\n".join(data)
                try:
                    event["data"] = json.loads(raw) if raw else None
                except ValueError:
                    event["data"] = raw
                event.setdefault("event", "message")
                yield event
            event, data = {}, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        elif name in ("event", "id"):
            event[name] = value


def follow_events(
    server: ServerProcess,
    user: str,
    session_id: str,
    got: list[dict[str, Any]],
    ready: threading.Event,
    ready_after: int = 1,
) -> threading.Thread:
    """Tail the session's log (``follow=true``) as ``user`` in a daemon thread: each SSE event
    is appended to ``got``, ``ready`` is set once ``ready_after`` have come, and the thread
    ends with the ``end`` event."""

    def follow() -> None:
        with (
            server.client(user) as c,
            c.stream("GET", f"/sessions/{session_id}/events", params={"follow": "true"}) as r,
        ):
            assert r.status_code == 200
            for ev in sse_events(r.iter_lines()):
                got.append(ev)
                if len(got) >= ready_after:
                    ready.set()
                if ev["event"] == "end":
                    return

    t = threading.Thread(target=follow, daemon=True)
    t.start()
    return t


def read_stream(client: httpx.Client, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """POST ``body`` to a streaming route and return every SSE event to the end."""
    with client.stream("POST", path, json=body) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        return list(sse_events(r.iter_lines()))
