"""Restart a throwaway PostgreSQL cluster of the tests (``postgres.provision``) in place:
``pg_ctl restart -m fast``, as an operator would. Only for a cluster a test started for
itself: the session's shared server must never go down under other tests."""

from __future__ import annotations

import os
import subprocess

from support.postgres import PostgresServer, _bin_dir


def _pg_ctl(server: PostgresServer, *args: str) -> None:
    bin_dir = _bin_dir()
    assert bin_dir is not None and server.data_dir is not None, "not a cluster of ours"
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run(
        [*prefix, str(bin_dir / "pg_ctl"), "-D", str(server.data_dir), *args],
        check=True,
        capture_output=True,
    )


def stop(server: PostgresServer) -> None:
    """Stop the cluster (``-m fast``: sessions are ended, committed work is kept)."""
    _pg_ctl(server, "-m", "fast", "-w", "stop")


def start(server: PostgresServer) -> None:
    """Start it again on its port, with the options ``provision`` gave it."""
    assert server.data_dir is not None
    root = server.data_dir.parent
    options = (
        f"-p {server.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    _pg_ctl(server, "-o", options, "-l", str(root / "server.log"), "-w", "-t", "60", "start")


__all__ = ["start", "stop"]
