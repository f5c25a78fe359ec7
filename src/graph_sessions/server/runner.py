"""Running the server: uvicorn, JSON logs, the unauthenticated-bind notice, graceful shutdown.

On SIGTERM/SIGINT the server stops accepting connections, ``/readyz`` answers 503, live
event tails end, and requests and streamed runs in progress get up to
``shutdown_timeout`` seconds to finish; then the manager cancels what is left (recording
each run's end), so no session is left ``running``.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import ipaddress
import logging
import math
import sys
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI

from graph_sessions.core.manager import GraphSessionManager
from graph_sessions.server.app import create_app
from graph_sessions.server.middleware import JsonLogFormatter
from graph_sessions.settings import ServerSettings
from graph_sessions.storage.urls import describe_backend

log = logging.getLogger("graph_sessions.server")

_NOTICE = """
************************************************************************************
*  WARNING: graph-sessions is listening on {host}:{port} WITHOUT AUTHENTICATION.
*  Anyone who can reach this address can read, run and delete every session.
*  Configure API keys (GRAPH_SESSIONS_API_KEYS="key:owner[:role],...") or a JWT
*  verifier (GRAPH_SESSIONS_JWT_SECRET / GRAPH_SESSIONS_JWKS_FILE), or bind 127.0.0.1.
************************************************************************************
"""


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def configure_logging(settings: ServerSettings) -> None:
    """Send the server's logs to stderr: JSON lines when ``log_json``, plain text otherwise."""
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_json:
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


class _Server(uvicorn.Server):
    """uvicorn's server, telling the app when shutdown starts (so readiness flips to 503,
    event tails end, and the manager knows how much of the deadline is left)."""

    def __init__(self, config: uvicorn.Config, app: FastAPI, timeout: float) -> None:
        super().__init__(config)
        self._app = app
        self._timeout = timeout
        self._loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: Any = None) -> None:
        self._loop = asyncio.get_running_loop()
        # Modules, graphs and settings live as long as the process: keep the cyclic garbage
        # collector from walking them again and again under load (shorter pauses).
        gc.collect()
        gc.freeze()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        loop = self._loop
        if loop is not None and not self.should_exit:
            state = self._app.state
            state.shutdown_deadline = loop.time() + self._timeout
            log.info("shutting down: waiting up to %.1f s for runs in progress", self._timeout)
            loop.call_soon_threadsafe(lambda: state.stopping.set())
        super().handle_exit(sig, frame)


def http_implementation() -> str:
    """The HTTP parser and event loop uvicorn uses here: ``httptools`` and ``uvloop`` when
    installed (``pip install 'uvicorn[standard]'``, ~0.1-0.2 ms less per request), else the
    pure-Python ``h11`` on ``asyncio``."""

    def importable(name: str) -> bool:
        try:
            importlib.import_module(name)
        except ImportError:
            return False
        return True

    http = "httptools" if importable("httptools") else "h11"
    loop = "uvloop" if sys.platform != "win32" and importable("uvloop") else "asyncio"
    return f"http {http}, loop {loop}"


def http_protocol(header_timeout: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (httptools when installed, else h11, as uvicorn picks),
    closing any connection whose request line and headers have not all arrived
    ``header_timeout`` seconds after their first byte (or after the connection opened).

    uvicorn bounds the idle time between requests (``timeout_keep_alive``) but not the time
    a request's head takes to arrive: without this, clients sending headers slowly, or
    never finishing them, hold connections open forever."""
    base: Any
    try:
        importlib.import_module("httptools")
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as base
    except ImportError:
        from uvicorn.protocols.http.h11_impl import H11Protocol as base

    class HeaderTimeoutProtocol(base):
        _head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm_head_timer()

        def data_received(self, data: bytes) -> None:
            cycle = self.cycle
            if self._head_timer is None and (cycle is None or cycle.response_complete):
                self._arm_head_timer()  # the first byte of a new request
            super().data_received(data)
            if self.cycle is not cycle:  # a request's head arrived in full
                self._disarm_head_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_head_timer()
            super().connection_lost(exc)

        def _arm_head_timer(self) -> None:
            self._disarm_head_timer()
            self._head_timer = self.loop.call_later(header_timeout, self._head_timed_out)

        def _disarm_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timed_out(self) -> None:
            self._head_timer = None
            if not self.transport.is_closing():
                self.transport.close()

    return HeaderTimeoutProtocol


def build_server(manager: GraphSessionManager, settings: ServerSettings) -> uvicorn.Server:
    """A uvicorn server for ``create_app(manager, settings)`` (not started)."""
    app = create_app(manager, settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=http_protocol(settings.header_timeout),
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=max(math.ceil(settings.shutdown_timeout), 1),
        timeout_keep_alive=math.ceil(settings.keep_alive_timeout),
        server_header=False,
    )
    return _Server(config, app, settings.shutdown_timeout)


def announce(manager: GraphSessionManager, settings: ServerSettings) -> None:
    """Log where the server listens, with a loud notice when it is exposed without auth."""
    auth = "on" if settings.auth_enabled else "off"
    log.info(
        "graph-sessions serving graphs %s on http://%s:%d (backend %s, auth %s, %s)",
        ", ".join(manager.graph_ids) or "(none)",
        settings.host,
        settings.port,
        describe_backend(manager.backend.url),
        auth,
        http_implementation(),
    )
    if not settings.auth_enabled and not is_loopback(settings.host):
        notice = _NOTICE.format(host=settings.host, port=settings.port)
        sys.stderr.write(notice)
        sys.stderr.flush()
        log.warning("listening on %s without authentication", settings.host)


def serve(manager: GraphSessionManager, settings: ServerSettings | None = None) -> None:
    """Serve ``manager`` over HTTP until SIGTERM/SIGINT (blocking)."""
    settings = settings or ServerSettings.from_env()
    configure_logging(settings)
    announce(manager, settings)
    server = build_server(manager, settings)
    server.run()
    if not server.started:
        raise SystemExit(1)
