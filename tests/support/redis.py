"""A throwaway Redis server for the tests: ``redis-server`` on 127.0.0.1 on a free port,
its data in a temp folder, stopped (and the folder removed) afterwards.

Where the server comes from, in order:
1. ``GRAPH_SESSIONS_TEST_REDIS_URL``: a server someone already runs (each test gets a key
   prefix of its own there; nothing else is touched);
2. Debian's ``redis-server`` (``apt-get install -y redis-server``) on ``PATH``.

With neither, :func:`provision` fails loudly with how to get one: these tests never skip.
The server is plain Redis (no modules): what graph-sessions' Redis backend targets.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ENV_URL = "GRAPH_SESSIONS_TEST_REDIS_URL"
HOW = (
    "no Redis server for the tests: install Debian's (`apt-get update && apt-get install -y "
    f"redis-server`; .ci/run does) or set {ENV_URL}=redis://127.0.0.1:6379/0"
)


class NoRedis(RuntimeError):
    """No server could be found or started."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class RedisServer:
    """A running server. ``process`` is set when this module started it (so a test can
    kill and restart it: :meth:`kill`, :meth:`start`)."""

    host: str
    port: int
    data_dir: Path | None = None
    config: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        """A ``redis://`` URL of logical database ``db``."""
        return f"redis://{self.host}:{self.port}/{db}"

    def new_prefix(self) -> str:
        """A key prefix no other test uses."""
        return f"t{uuid.uuid4().hex[:12]}:"

    def start(self, timeout: float = 20.0) -> None:
        """Start the server (again) on its port and data folder; wait until it answers."""
        if self.data_dir is None:
            raise RuntimeError("this server was given, not started here")
        argv = [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(self.data_dir),
            "--save",
            "",
            "--protected-mode",
            "no",
            *self.config,
        ]
        log = open(self.data_dir / "server.log", "ab")  # noqa: SIM115 - the child keeps it
        self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while not _answers(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                text = (self.data_dir / "server.log").read_text(errors="replace")[-2000:]
                raise NoRedis(f"redis-server did not start on port {self.port}: {text}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL the server (what it had not persisted is lost) and wait for it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@contextlib.contextmanager
def provision(*config: str) -> Iterator[RedisServer]:
    """A server for the tests (see the module's doc), with extra ``redis-server``
    arguments (``"--appendonly", "yes"``…); raises :class:`NoRedis` with how to get one."""
    given = os.environ.get(ENV_URL)
    if given and not config:
        from urllib.parse import urlsplit

        parts = urlsplit(given)
        yield RedisServer(parts.hostname or "127.0.0.1", parts.port or 6379)
        return
    if shutil.which("redis-server") is None:
        raise NoRedis(HOW)
    root = Path(tempfile.mkdtemp(prefix="gs-redis-"))
    server = RedisServer("127.0.0.1", _free_port(), data_dir=root, config=list(config))
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


__all__ = ["ENV_URL", "HOW", "NoRedis", "RedisServer", "provision"]
