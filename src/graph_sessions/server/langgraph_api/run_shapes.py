"""The Run JSON of LangGraph's API, and its run statuses mapped from ours.

LangGraph's run statuses are ``pending | running | success | error | timeout |
interrupted``: a run that stopped at an interrupt is a ``success`` (the *thread* is
interrupted); a cancelled run is ``interrupted``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from graph_sessions.models import InvokeResult, RunInfo, RunStatus, SessionInfo
from graph_sessions.server.langgraph_api.ids import system_assistant_id

#: our run status → LangGraph's
STATUS_OF_RUN: dict[RunStatus, str] = {
    RunStatus.RUNNING: "running",
    RunStatus.SUCCESS: "success",
    RunStatus.INTERRUPTED: "success",
    RunStatus.ERROR: "error",
    RunStatus.CANCELLED: "interrupted",
}
LG_RUN_STATUSES = ("pending", "running", "success", "error", "timeout", "interrupted")
#: the error text our core records on a run cancelled by a rollback (such runs are gone)
ROLLED_BACK = "cancelled (rollback)"
#: what the core's crash repair writes in the error of a run whose process died
REPAIRED = "the session was repaired from its last checkpoint"


def iso(at: datetime) -> str:
    """A timestamp as LangGraph's JSON shows it."""
    return at.isoformat()


def run_json(
    *,
    run_id: str,
    thread_id: str,
    assistant_id: str,
    status: str,
    created_at: datetime,
    updated_at: datetime,
    metadata: dict[str, Any] | None = None,
    kwargs: dict[str, Any] | None = None,
    multitask_strategy: str = "enqueue",
) -> dict[str, Any]:
    """One Run, shaped as LangGraph's server answers it."""
    return {
        "run_id": run_id,
        "thread_id": thread_id,
        "assistant_id": assistant_id,
        "created_at": iso(created_at),
        "updated_at": iso(updated_at),
        "metadata": metadata or {},
        "status": status,
        "kwargs": kwargs or {},
        "multitask_strategy": multitask_strategy,
    }


def row_error(row: RunInfo) -> dict[str, str] | None:
    """Why a run ended ``error``, from its row: ``{"error": type, "message": text}``
    (``"ValueError: boom"`` split as LangGraph shows it; a run closed by the crash repair,
    whose server died under it, is a ``RunRepaired``), else ``None``."""
    if row.status != RunStatus.ERROR or not row.error:
        return None
    if REPAIRED in row.error:
        return {"error": "RunRepaired", "message": row.error}
    kind, sep, message = row.error.partition(": ")
    if sep and kind.isidentifier():
        return {"error": kind, "message": message}
    return {"error": "Error", "message": row.error}


def row_json(row: RunInfo, info: SessionInfo) -> dict[str, Any]:
    """A run row of ours (one this process no longer holds) as a Run; a run that ended
    ``error`` also has ``error`` (:func:`row_error`: a key LangGraph's Run lacks)."""
    assistant = info.metadata.get("assistant_id")
    if not isinstance(assistant, str):
        assistant = system_assistant_id(info.graph_id)
    out = run_json(
        run_id=row.run_id,
        thread_id=row.session_id,
        assistant_id=assistant,
        status=STATUS_OF_RUN.get(row.status, "error"),
        created_at=row.started_at,
        updated_at=row.finished_at or row.started_at,
        metadata={"graph_id": info.graph_id, "assistant_id": assistant},
        multitask_strategy=row.multitask,
    )
    error = row_error(row)
    if error is not None:
        out["error"] = error
    return out


def is_rolled_back(row: RunInfo) -> bool:
    """True for a run cancelled by a rollback: LangGraph deletes those."""
    return row.status == RunStatus.CANCELLED and row.error == ROLLED_BACK


def wait_body(result: InvokeResult, streamed: list[Any] | None = None) -> dict[str, Any]:
    """What ``/runs/wait`` and ``/join`` answer for a run that ended: the state's values,
    with ``__interrupt__`` when it stopped at an interrupt: ``streamed``, the interrupts as
    the run's stream gave them (LangGraph's objects: value, id, response_schema), else
    ``[{value, id}]``."""
    body = {k: v for k, v in result.state.items() if k != "__breakpoint__"}
    if result.interrupts:
        ids = {i["id"] for i in result.interrupts}
        if streamed and {getattr(i, "id", None) for i in streamed} == ids:
            body["__interrupt__"] = list(streamed)
        else:
            body["__interrupt__"] = [
                {"value": i["value"], "id": i["id"]} for i in result.interrupts
            ]
    return body


def error_json(exc: BaseException) -> dict[str, str]:
    """``{error, message}`` of a graph's exception, as LangGraph's server shows it."""
    return {"error": type(exc).__name__, "message": str(exc)}


__all__ = [
    "LG_RUN_STATUSES",
    "ROLLED_BACK",
    "STATUS_OF_RUN",
    "error_json",
    "is_rolled_back",
    "iso",
    "row_error",
    "row_json",
    "run_json",
    "wait_body",
]
