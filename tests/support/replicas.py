"""N ``graph-sessions serve`` processes on one database (replicas), on loopback.

Each replica is a :class:`~support.server.ServerProcess` started from the same
``langgraph.json`` (the graphs of ``support/replica_graphs.py``, the backend given) with a
short ``lease_ttl``; :class:`Replicas` starts them together, kills, pauses and restarts one."""

from __future__ import annotations

import contextlib
import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from support.server import HERE, ServerProcess, base_env, free_port

GRAPHS = HERE / "replica_graphs.py"
SERVE = Path(sys.executable).with_name("graph-sessions")


def write_replica_config(folder: Path, backend: str, **section: Any) -> Path:
    """A langgraph.json serving ``steps`` (default) and ``turns`` on ``backend``."""
    config = {
        "graphs": {"steps": f"{GRAPHS}:steps", "turns": f"{GRAPHS}:turns"},
        "graph_sessions": {"backend": backend, **section},
    }
    path = folder / "langgraph.json"
    path.write_text(json.dumps(config))
    return path


class Replicas:
    """``n`` servers on ``backend``: ``start()``, ``[i]``, ``pick()``, ``kill(i)``,
    ``restart(i)``, ``stop()``."""

    def __init__(self, folder: Path, backend: str, n: int = 3, lease_ttl: float = 3.0) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.config = write_replica_config(folder, backend)
        self.env = base_env(GRAPH_SESSIONS_LEASE_TTL=str(lease_ttl))
        self.lease_ttl = lease_ttl
        self.folder = folder
        self.servers = [self._server(free_port()) for _ in range(n)]

    def _server(self, port: int) -> ServerProcess:
        args = [str(SERVE), "serve", "--config", str(self.config), "--port", str(port)]
        return ServerProcess(args, self.env, self.folder, port)

    def __getitem__(self, i: int) -> ServerProcess:
        return self.servers[i]

    def __len__(self) -> int:
        return len(self.servers)

    def pick(self, rng: random.Random | None = None) -> ServerProcess:
        """A replica at random."""
        return (rng or random).choice(self.servers)

    def spawn(self, i: int) -> None:
        """Start replica ``i``'s process without waiting for it."""
        srv = self.servers[i]
        log = srv.log_path.open("ab")
        srv.proc = subprocess.Popen(
            srv.args, env=srv.env, cwd=srv.cwd, stdout=log, stderr=subprocess.STDOUT
        )

    def wait_ready(self, i: int, timeout: float = 60.0) -> None:
        """Wait until replica ``i`` answers ``/healthz``."""
        srv = self.servers[i]
        assert srv.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if srv.proc.poll() is not None:
                raise RuntimeError(f"replica {i} exited with {srv.proc.returncode}:\n{srv.logs()}")
            try:
                if httpx.get(srv.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"replica {i} did not start in {timeout} s:\n{srv.logs()}")

    def start(self) -> Replicas:
        """Start every replica (together) and wait until all answer."""
        for i in range(len(self.servers)):
            self.spawn(i)
        for i in range(len(self.servers)):
            self.wait_ready(i)
        return self

    def kill(self, i: int, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to replica ``i`` (SIGKILL: wait for it to be gone)."""
        proc = self.servers[i].proc
        assert proc is not None
        proc.send_signal(sig)
        if sig == signal.SIGKILL:
            proc.wait(10)

    def stop(self) -> None:
        """Stop every replica (a paused one is resumed first)."""
        for srv in self.servers:
            if srv.proc is not None and srv.proc.poll() is None:
                srv.proc.send_signal(signal.SIGCONT)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    srv.stop(timeout=20)
