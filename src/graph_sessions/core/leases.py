"""Leases: who holds a running session, and whether that holder is still alive.

A run marks its session ``running`` under a lease ``host:pid:instance`` that its heartbeat
renews; the lease lapses at its expiry whatever happened to the holder. Repairing a
session whose lease lapsed is :mod:`graph_sessions.core.repair`.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime

from graph_sessions.clock import utcnow
from graph_sessions.models import SessionInfo

_LIVE: set[str] = set()  # lease owners of managers open in this process


def lease_clock() -> datetime:
    """Leases run on the wall clock (UTC), not a manager's injectable clock: they are
    compared across processes."""
    return utcnow()


def new_lease_owner() -> str:
    """``host:pid:instance``: identifies the manager holding a running session."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def mark_live(lease_owner: str) -> None:
    """A manager of this process opened: its leases hold."""
    _LIVE.add(lease_owner)


def mark_dead(lease_owner: str) -> None:
    """A manager of this process closed: its leases no longer hold."""
    _LIVE.discard(lease_owner)


def pid_alive(pid: int) -> bool:
    """True when a process with this id exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_reason(info: SessionInfo) -> str | None:
    """Why the lease of a running session no longer holds, or ``None`` while it does.

    A lease lapses at its expiry whatever the holder's host or pid (killed, paused,
    another container); on this host a holder whose pid is gone loses it at once, and in
    this process a manager that is no longer open does."""
    lease_owner = info.lease_owner
    if not lease_owner:
        return "no process held it"
    host, _, rest = lease_owner.partition(":")
    pid_text, _, _instance = rest.partition(":")
    try:
        pid: int | None = int(pid_text)
    except ValueError:
        pid = None
    here = host == socket.gethostname()
    if here and pid == os.getpid():
        return None if lease_owner in _LIVE else "its manager in this process closed"
    expires = info.lease_expires_at
    if expires is None:
        # Written by a version without lease expiry: no heartbeat will ever renew it.
        if not here or pid is None or not pid_alive(pid):
            return "the process holding it died"
        return None
    if expires <= lease_clock():
        return f"its lease expired at {expires.isoformat()} without being renewed"
    if here and pid is not None and not pid_alive(pid):
        return "the process holding it died"
    return None
