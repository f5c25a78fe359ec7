"""``graph-sessions ui``: serve the sessions with the web inspector and open it in a browser."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
import webbrowser
from collections.abc import Callable


def free_port(host: str) -> int:
    """A port nobody listens on now, on ``host``."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def inspector_url(host: str, port: int) -> str:
    """The inspector's address for a server bound to ``host``:``port`` (a wildcard bind is
    opened on loopback)."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/ui/"


def open_when_ready(
    url: str, *, opener: Callable[[str], object] = webbrowser.open, timeout: float = 60.0
) -> threading.Thread:
    """Open ``url`` in a browser once the server answers ``/healthz`` (in a thread, so the
    server can start meanwhile). Nothing happens if it does not answer within ``timeout``."""

    def wait_then_open() -> None:
        health = url.split("/ui/")[0] + "/healthz"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(health, timeout=1) as answer:  # noqa: S310 (http only)
                    if answer.status == 200:
                        opener(url)
                        return
            except OSError:
                pass
            time.sleep(0.2)

    thread = threading.Thread(target=wait_then_open, name="graph-sessions-open-ui", daemon=True)
    thread.start()
    return thread


__all__ = ["free_port", "inspector_url", "open_when_ready"]
