"""A throwaway PostgreSQL server for the tests: a new cluster in a temp folder, listening on
127.0.0.1 on a free port, stopped and removed afterwards.

Where the server comes from, in order:
1. ``GRAPH_SESSIONS_TEST_POSTGRES_URL``: a server someone already runs (each test database
   is created in it and dropped after);
2. Debian's PostgreSQL binaries (``apt-get install -y postgresql``), found under
   ``/usr/lib/postgresql/<version>/bin`` or on ``PATH``; as root, the cluster runs as the
   ``postgres`` user (``initdb`` refuses root).

With neither, :func:`provision` fails loudly with how to get one: these tests never skip.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ENV_URL = "GRAPH_SESSIONS_TEST_POSTGRES_URL"
HOW = (
    "no PostgreSQL server for the tests: install Debian's (`apt-get update && apt-get install "
    f"-y postgresql`; .ci/run does) or set {ENV_URL}=postgresql://user:pw@127.0.0.1:5432/postgres"
)


class NoPostgres(RuntimeError):
    """No server could be found or started."""


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if found:
        return Path(found[0]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    """A running server: ``url`` names its ``postgres`` database (superuser)."""

    host: str
    port: int
    user: str
    password: str | None = None
    data_dir: Path | None = None

    def url(self, database: str = "postgres") -> str:
        """A ``postgresql://`` URL of ``database`` on this server."""
        auth = self.user if self.password is None else f"{self.user}:{self.password}"
        return f"postgresql://{auth}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its URL."""
        import psycopg

        name = name or f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop the database ``url`` names (its connections are ended first)."""
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def provision() -> Iterator[PostgresServer]:
    """A server for the tests (see the module's doc); raises :class:`NoPostgres` with how
    to get one when there is none."""
    given = os.environ.get(ENV_URL)
    if given:
        from urllib.parse import urlsplit

        parts = urlsplit(given)
        yield PostgresServer(
            parts.hostname or "127.0.0.1",
            parts.port or 5432,
            parts.username or "postgres",
            parts.password,
        )
        return
    bin_dir = _bin_dir()
    if bin_dir is None:
        raise NoPostgres(HOW)
    as_root = os.geteuid() == 0
    prefix: list[str] = []
    if as_root:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise NoPostgres("running as root and there is no `postgres` user: " + HOW) from None
        prefix = ["runuser", "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="gs-pg-"))
    data = root / "data"
    if as_root:
        shutil.chown(root, "postgres", "postgres")
    port = _free_port()
    log = root / "server.log"
    try:
        subprocess.run(
            [
                *prefix,
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
            check=True,
            capture_output=True,
        )
        options = (
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        subprocess.run(
            [
                *prefix,
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(log),
                "-w",
                "-t",
                "60",
                "start",
            ],
            check=True,
            capture_output=True,
        )
    except subprocess.CalledProcessError as exc:
        text = (exc.stderr or b"").decode(errors="replace")
        if log.exists():
            text += log.read_text(errors="replace")
        shutil.rmtree(root, ignore_errors=True)
        raise NoPostgres(f"could not start PostgreSQL from {bin_dir}: {text[-2000:]}") from exc
    server = PostgresServer("127.0.0.1", port, "postgres", data_dir=data)
    try:
        yield server
    finally:
        subprocess.run(
            [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (data / "postmaster.pid").exists():
            time.sleep(0.1)
        shutil.rmtree(root, ignore_errors=True)


__all__ = ["ENV_URL", "HOW", "NoPostgres", "PostgresServer", "provision"]
