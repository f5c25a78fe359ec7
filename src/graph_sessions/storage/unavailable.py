"""Whether an exception means the storage is unavailable (unreachable, restarting, out of
connections) rather than a fault of the request: what a server answers 503 for.

It judges by type, without importing the optional database drivers: a backend's own
``BackendError``, psycopg's ``OperationalError`` and ``InterfaceError`` (a connection lost
or closed mid-query, the server shutting down), psycopg_pool's ``PoolTimeout`` and
``PoolClosed``, raised by a layer that did not type them (LangGraph's Postgres saver
and store use the pool directly). Followed along ``__cause__`` (not ``__context__``: an error handled on the way is not the cause): a run that failed because
its checkpoint could not be written failed for the storage's sake.
"""

from __future__ import annotations

from graph_sessions.errors import BackendError

#: (module prefix, class name) of the driver errors that mean "the storage is away"
UNAVAILABLE = (
    ("psycopg", "OperationalError"),
    ("psycopg", "InterfaceError"),
    ("psycopg_pool", "PoolTimeout"),
    ("psycopg_pool", "PoolClosed"),
)


def _is_driver_unavailable(exc: BaseException) -> bool:
    for kind in type(exc).__mro__:
        module = kind.__module__.split(".", 1)[0]
        if (module, kind.__name__) in UNAVAILABLE:
            return True
    return False


def storage_unavailable(exc: BaseException | None) -> bool:
    """True when ``exc`` (or an exception it was raised from) says the storage cannot be
    reached now."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, BackendError) or _is_driver_unavailable(exc):
            return True
        exc = exc.__cause__
        seen += 1
    return False


__all__ = ["UNAVAILABLE", "storage_unavailable"]
