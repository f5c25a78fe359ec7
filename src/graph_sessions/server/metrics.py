"""Prometheus metrics of one app (its own registry, so several apps can live in a process)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from graph_sessions.models import SessionStatus

if TYPE_CHECKING:
    from graph_sessions.core.manager import GraphSessionManager

log = logging.getLogger("graph_sessions.server")

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class ServerMetrics:
    """Requests, runs, run durations, errors (counted as they happen), and sessions by
    status: a storage count refreshed at most every ``refresh_seconds``, however many
    scrapers ask (concurrent scrapes share one refresh)."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, refresh_seconds: float = 15.0) -> None:
        self.refresh_seconds = refresh_seconds
        self._refreshed_at: float | None = None
        self._refreshing: asyncio.Lock | None = None
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "graph_sessions_http_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.request_duration = Histogram(
            "graph_sessions_http_request_duration_seconds",
            "HTTP request duration (to the end of the response)",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.runs = Counter(
            "graph_sessions_runs",
            "Runs by kind (invoke, stream, resume) and outcome (complete, interrupted, error code)",
            ["kind", "outcome"],
            registry=r,
        )
        self.run_duration = Histogram(
            "graph_sessions_run_duration_seconds",
            "Run duration by kind",
            ["kind"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.active_runs = Gauge(
            "graph_sessions_active_runs", "Runs executing now in this server", registry=r
        )
        self.errors = Counter(
            "graph_sessions_errors",
            "Error responses by code",
            ["code", "status"],
            registry=r,
        )
        self.sessions = Gauge(
            "graph_sessions_sessions",
            "Sessions in the registry by status (refreshed at most every metrics_cache_seconds)",
            ["status"],
            registry=r,
        )
        self.sessions_expired_unswept = Gauge(
            "graph_sessions_sessions_expired_unswept",
            "Sessions past their TTL the sweeper has not reached yet",
            registry=r,
        )

    def observe_run(self, kind: str, outcome: str, seconds: float) -> None:
        """Count one run and its duration."""
        self.runs.labels(kind, outcome).inc()
        self.run_duration.labels(kind).observe(seconds)

    def observe_request(
        self, method: str, route: str, status: int, seconds: float, error: str | None
    ) -> None:
        """Count one HTTP request."""
        self.requests.labels(method, route, str(status)).inc()
        self.request_duration.labels(method, route).observe(seconds)
        if error is not None:
            self.errors.labels(error, str(status)).inc()

    def _stale(self) -> bool:
        return (
            self._refreshed_at is None
            or time.monotonic() - self._refreshed_at >= self.refresh_seconds
        )

    async def _refresh(self, manager: GraphSessionManager) -> None:
        """Count sessions by status (full-table counts: at most once per period)."""
        if self._refreshing is None:
            self._refreshing = asyncio.Lock()
        async with self._refreshing:
            if not self._stale():  # another scrape refreshed while this one waited
                return
            try:
                stats = await manager.stats()
            except Exception as exc:  # keep serving the counters; the gauges stay as they were
                log.warning("metrics: counting sessions failed: %s", exc)
            else:
                for status in SessionStatus:
                    self.sessions.labels(status.value).set(stats.by_status.get(status.value, 0))
                self.sessions_expired_unswept.set(stats.expired)
            self._refreshed_at = time.monotonic()

    async def render(self, manager: GraphSessionManager) -> bytes:
        """The exposition text; sessions by status refreshed from storage when older than
        ``refresh_seconds``."""
        if manager.is_open and self._stale():
            await self._refresh(manager)
        return generate_latest(self.registry)
