"""Checking that the server can listen before it starts, so that a port in use is one clear
line and its own exit code instead of uvicorn's log and exit status."""

from __future__ import annotations

import os
import socket

# Documented in docs/cli.md and docs/deployment.md.
EXIT_CANNOT_LISTEN = 6


def cannot_listen(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (address in use, no permission, unknown
    host), or ``None`` when a bind succeeds now."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"cannot listen on {host}:{port}: {exc.strerror}"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        if os.name != "nt":  # as uvicorn (asyncio) binds: TIME_WAIT sockets do not count
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            reason = (exc.strerror or str(exc)).lower()
            return f"cannot listen on {host}:{port}: {reason}"
    return None
