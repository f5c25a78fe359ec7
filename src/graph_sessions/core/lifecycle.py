"""The session status table of DESIGN.md, as data, and the checks built on it."""

from __future__ import annotations

from graph_sessions.errors import InvalidTransition, SessionExpired, SessionSuspended
from graph_sessions.models import SessionInfo, SessionStatus

S = SessionStatus

# status -> statuses it may move to. Expiry is time-driven and applies to every status but
# `running` (the sweeper never touches a running session); `suspended` returns to the status
# it had before (`previous_status`).
TRANSITIONS: dict[SessionStatus, frozenset[SessionStatus]] = {
    S.CREATED: frozenset({S.RUNNING, S.EXPIRED}),
    S.RUNNING: frozenset({S.COMPLETED, S.INTERRUPTED, S.FAILED}),
    S.INTERRUPTED: frozenset({S.RUNNING, S.SUSPENDED, S.EXPIRED}),
    S.COMPLETED: frozenset({S.RUNNING, S.SUSPENDED, S.EXPIRED}),
    S.FAILED: frozenset({S.RUNNING, S.SUSPENDED, S.EXPIRED}),
    S.SUSPENDED: frozenset({S.CREATED, S.INTERRUPTED, S.COMPLETED, S.FAILED, S.EXPIRED}),
    S.EXPIRED: frozenset(),
}


def can_transition(current: SessionStatus, target: SessionStatus) -> bool:
    """True when the table allows ``current`` -> ``target``."""
    return target in TRANSITIONS[current]


def check_transition(info: SessionInfo, target: SessionStatus) -> None:
    """Raise :class:`InvalidTransition` unless ``info.status`` may move to ``target``."""
    if not can_transition(info.status, target):
        allowed = ", ".join(sorted(TRANSITIONS[info.status])) or "nothing"
        raise InvalidTransition(
            f"session {info.session_id!r} is {info.status}; it cannot become {target} "
            f"(from {info.status} it can become: {allowed})",
            session_id=info.session_id,
        )


def check_can_run(info: SessionInfo) -> None:
    """Raise the typed error that explains why a run cannot start, if it cannot."""
    if info.status == S.SUSPENDED:
        reason = f" ({info.suspend_reason})" if info.suspend_reason else ""
        raise SessionSuspended(
            f"session {info.session_id!r} is suspended{reason}; resume() it before invoking",
            session_id=info.session_id,
        )
    if info.status == S.EXPIRED:
        raise SessionExpired(f"session {info.session_id!r} has expired", session_id=info.session_id)
