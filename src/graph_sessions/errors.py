"""Every exception graph-sessions raises.

All errors derive from :class:`GraphSessionError` and carry the ``session_id`` they concern
(``None`` where no session is involved), so callers and the HTTP layer can map them to
responses without parsing messages.
"""

from __future__ import annotations


class GraphSessionError(Exception):
    """Base class of every graph-sessions error."""

    code: str = "error"

    def __init__(self, message: str, *, session_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.session_id = session_id

    def to_dict(self) -> dict[str, str | None]:
        """The error as the JSON body the surfaces send: ``{error, message, session_id}``."""
        return {"error": self.code, "message": self.message, "session_id": self.session_id}


class SessionNotFound(GraphSessionError, LookupError):
    """No session with this id exists (or it belongs to another owner)."""

    code = "session_not_found"


class SessionExists(GraphSessionError):
    """A session with this id already exists and ``create`` was asked for a new one."""

    code = "session_exists"


class SessionBusy(GraphSessionError):
    """A run is executing on the session and the multitask strategy is ``reject``."""

    code = "session_busy"


class SessionSuspended(GraphSessionError):
    """The session is suspended; runs are refused until it is resumed."""

    code = "session_suspended"


class SessionExpired(GraphSessionError):
    """The session's TTL has passed; it reads as gone."""

    code = "session_expired"


class InvalidTransition(GraphSessionError):
    """The requested status change is not allowed from the session's current status."""

    code = "invalid_transition"


class InvalidInput(GraphSessionError, ValueError):
    """An argument or graph input is malformed."""

    code = "invalid_input"


class InvalidExportFile(InvalidInput):
    """A line of a ``graph-sessions export`` file that cannot be imported; ``line`` is its
    number (from 1). Nothing of the session on that line was written."""

    code = "invalid_export_file"

    def __init__(self, message: str, *, line: int, session_id: str | None = None) -> None:
        super().__init__(f"line {line}: {message}", session_id=session_id)
        self.line = line


class GraphLoadError(GraphSessionError):
    """A graph reference could not be resolved, imported or compiled."""

    code = "graph_load_error"


class ConfigError(GraphSessionError):
    """The project configuration file (``langgraph.json``) or an environment override is
    invalid; the message names the file and the field."""

    code = "invalid_config"


class BackendError(GraphSessionError):
    """The storage backend URL is invalid or the storage cannot be opened."""

    code = "backend_error"


class CheckpointNotFound(GraphSessionError, LookupError):
    """No checkpoint with this id exists in the session."""

    code = "checkpoint_not_found"


class RunFailed(GraphSessionError):
    """The graph raised during a run. ``__cause__`` and :attr:`error` hold its exception."""

    code = "run_failed"

    def __init__(
        self,
        message: str,
        *,
        session_id: str | None = None,
        run_id: str | None = None,
        error: BaseException | None = None,
    ) -> None:
        super().__init__(message, session_id=session_id)
        self.run_id = run_id
        self.error = error


class RunCancelled(GraphSessionError):
    """The run was cancelled by another run (multitask ``interrupt``/``rollback``) or a shutdown."""

    code = "run_cancelled"

    def __init__(self, message: str, *, session_id: str | None = None, run_id: str | None = None):
        super().__init__(message, session_id=session_id)
        self.run_id = run_id


class LeaseLost(RunCancelled):
    """The run lost its lease on the session (deleted, repaired after the lease lapsed, or
    taken over by another process): its checkpoint writes were refused (fencing) and it
    ended without touching the session."""

    code = "lease_lost"


class LeaseWaitTimeout(SessionBusy):
    """Another process held the session for longer than the manager's ``wait_timeout``
    while this run waited for it."""

    code = "lease_wait_timeout"


class GraphMismatch(InvalidTransition):
    """The session belongs to another graph than the one asked to run it; re-bind it
    explicitly (``session.rebind()``, ``chat --rebind``) to run it under this one."""

    code = "graph_mismatch"


class EncryptionError(GraphSessionError):
    """Encrypted data cannot be read or written: the key it names is not configured, the
    key is wrong, or the bytes were truncated, altered or moved from another row.
    ``key_id`` names the key the data needs (``None`` when the data names none)."""

    code = "encryption_error"

    def __init__(
        self, message: str, *, key_id: str | None = None, session_id: str | None = None
    ) -> None:
        super().__init__(message, session_id=session_id)
        self.key_id = key_id


class ManagerClosed(GraphSessionError):
    """The manager is not open (use ``async with manager`` or ``await manager.open()``)."""

    code = "manager_closed"


__all__ = [
    "BackendError",
    "CheckpointNotFound",
    "EncryptionError",
    "GraphLoadError",
    "GraphMismatch",
    "GraphSessionError",
    "InvalidInput",
    "InvalidTransition",
    "LeaseLost",
    "LeaseWaitTimeout",
    "ManagerClosed",
    "RunCancelled",
    "RunFailed",
    "SessionBusy",
    "SessionExists",
    "SessionExpired",
    "SessionNotFound",
    "SessionSuspended",
]
