"""Sessions and LangGraph snapshots in the JSON shapes of LangGraph's Agent Server: the
Thread, the ThreadState, checkpoints and interrupts.

A thread **is** a session. Its ``status`` is derived from ours:

========================  ===============  ==============================================
session status            thread status    why
========================  ===============  ==============================================
created, completed        ``idle``         nothing runs; ``interrupted`` instead when the
                                           head checkpoint still has ``next`` nodes (a
                                           static breakpoint: LangGraph's rule)
running (or a run of it   ``busy``         LangGraph: busy while a run is pending or
queued in this process)                    running
interrupted               ``interrupted``  an ``interrupt()`` waits for its answer
failed                    ``error``        with ``error: {error, message}`` from the
                                           session's ``last_error``; ``interrupted``
                                           with ``error.error = "UserInterrupt"`` when a
                                           cancel stopped its run mid-step (LangGraph's)
suspended                 ``idle``         LangGraph has no suspension; the thread is at
                                           rest (runs on it are refused with 423 until it
                                           is resumed over ``/sessions``)
expired                   ``idle``         never seen in practice: expired sessions read
                                           as gone (404) on every route
========================  ===============  ==============================================

A fresh thread (no checkpoint yet) has ``values: null`` and no ``interrupts``/``error``
keys, as on LangGraph's server; once a run or a state write has touched it both keys are
there, ``interrupts`` a dict keyed by task id.
"""

from __future__ import annotations

import re
from typing import Any

from langgraph.types import Interrupt, StateSnapshot

from graph_sessions.models import SessionInfo, SessionStatus

#: The thread statuses of LangGraph's server.
THREAD_STATUSES = ("idle", "busy", "interrupted", "error")

#: thread status -> the session statuses it stands for (listing filters)
SESSION_STATUSES_OF: dict[str, list[SessionStatus]] = {
    "idle": [SessionStatus.CREATED, SessionStatus.COMPLETED, SessionStatus.SUSPENDED],
    "busy": [SessionStatus.RUNNING],
    "interrupted": [SessionStatus.INTERRUPTED],
    "error": [SessionStatus.FAILED],
}

_ERROR_PREFIX = re.compile(r"^([A-Za-z_][\w.]*): (.*)$", re.DOTALL)
# what the core records on a session whose running run was cancelled mid-step
# (``core/runs.py``): LangGraph shows such a thread ``interrupted``, error ``UserInterrupt``
_CANCELLED = re.compile(r"^run \S+ was cancelled \(")


def _cancelled(info: SessionInfo) -> bool:
    return info.status == SessionStatus.FAILED and bool(
        info.last_error and _CANCELLED.match(info.last_error)
    )


def thread_status(info: SessionInfo, *, busy: bool = False, has_next: bool = False) -> str:
    """LangGraph's thread status of a session (see the module's table). ``busy``: a run of
    it is queued or running in this process; ``has_next``: its head checkpoint has nodes
    left to run."""
    status = info.status
    if busy or status == SessionStatus.RUNNING:
        return "busy"
    if status == SessionStatus.INTERRUPTED or _cancelled(info):
        return "interrupted"
    if status == SessionStatus.FAILED:
        return "error"
    if has_next and status in (SessionStatus.CREATED, SessionStatus.COMPLETED):
        return "interrupted"
    return "idle"


def thread_error(info: SessionInfo) -> dict[str, str] | None:
    """``{"error": type, "message": text}`` of a failed session, else ``None``. Our
    ``last_error`` reads ``"ValueError: boom"``; LangGraph splits it."""
    if info.status != SessionStatus.FAILED or not info.last_error:
        return None
    if _cancelled(info):
        return {"error": "UserInterrupt", "message": info.last_error}
    found = _ERROR_PREFIX.match(info.last_error)
    if found:
        return {"error": found.group(1), "message": found.group(2)}
    return {"error": "Error", "message": info.last_error}


def interrupt_dict(item: Any) -> dict[str, Any]:
    """One interrupt as ``{"id", "value"}`` (LangGraph's ``Interrupt`` or a stored dict)."""
    if isinstance(item, Interrupt):
        return {"id": item.id, "value": item.value}
    if isinstance(item, dict):
        return {"id": item.get("id"), "value": item.get("value")}
    return {"id": getattr(item, "id", None), "value": getattr(item, "value", item)}


def checkpoint_of(config: Any) -> dict[str, Any] | None:
    """``{checkpoint_id, thread_id, checkpoint_ns}`` of a LangGraph config, ``None`` when it
    names no checkpoint (LangGraph's ``runnable_config_to_checkpoint``)."""
    conf = (config or {}).get("configurable") or {}
    if not conf.get("thread_id") or not conf.get("checkpoint_id"):
        return None
    out: dict[str, Any] = {"checkpoint_id": conf["checkpoint_id"], "thread_id": conf["thread_id"]}
    if "checkpoint_ns" in conf:
        out["checkpoint_ns"] = conf["checkpoint_ns"] or ""
    if "checkpoint_map" in conf:
        out["checkpoint_map"] = conf["checkpoint_map"]
    return out


def thread_state(snapshot: StateSnapshot) -> dict[str, Any]:
    """A ``StateSnapshot`` as LangGraph's ThreadState (``langgraph_api.state``)."""
    parent = snapshot.parent_config
    return {
        "values": snapshot.values,
        "next": list(snapshot.next),
        "tasks": [
            {
                "id": t.id,
                "name": t.name,
                "path": list(t.path),
                "error": t.error,
                "interrupts": [interrupt_dict(i) for i in t.interrupts],
                "checkpoint": t.state["configurable"]
                if t.state is not None and not isinstance(t.state, StateSnapshot)
                else None,
                "state": thread_state(t.state) if isinstance(t.state, StateSnapshot) else None,
                "result": getattr(t, "result", None),
            }
            for t in snapshot.tasks
        ],
        "metadata": snapshot.metadata,
        "created_at": snapshot.created_at,
        "checkpoint": checkpoint_of(snapshot.config),
        "parent_checkpoint": checkpoint_of(parent),
        "interrupts": [interrupt_dict(i) for i in snapshot.interrupts],
        "checkpoint_id": (snapshot.config or {}).get("configurable", {}).get("checkpoint_id"),
        "parent_checkpoint_id": parent["configurable"].get("checkpoint_id") if parent else None,
    }


def _task_interrupts(snapshot: StateSnapshot) -> dict[str, list[dict[str, Any]]]:
    return {t.id: [interrupt_dict(i) for i in t.interrupts] for t in snapshot.tasks if t.interrupts}


def thread(
    info: SessionInfo,
    snapshot: StateSnapshot | None = None,
    *,
    busy: bool = False,
    with_values: bool = True,
) -> dict[str, Any]:
    """A session as LangGraph's Thread. ``snapshot``: its head (``None``: not read, e.g. a
    copy, answered without ``values``); ``busy``: a run of it is queued in this process."""
    saved = snapshot if snapshot is not None and snapshot.created_at is not None else None
    out: dict[str, Any] = {
        "thread_id": info.session_id,
        "created_at": info.created_at,
        "updated_at": info.updated_at,
        "state_updated_at": info.updated_at,
        "metadata": info.metadata,
        "status": thread_status(info, busy=busy, has_next=bool(saved and saved.next)),
        "config": {},
    }
    if not with_values:
        return out
    out["values"] = saved.values if saved else None
    if saved is not None or info.run_count > 0 or info.status != SessionStatus.CREATED:
        out["error"] = thread_error(info)
        if saved is not None:
            out["interrupts"] = _task_interrupts(saved)
        elif info.interrupts:
            out["interrupts"] = {"": [interrupt_dict(i) for i in info.interrupts]}
        else:
            out["interrupts"] = {}
    return out


def select(item: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
    """Only ``fields`` of ``item`` (all of it for ``None`` or an empty list)."""
    if not fields:
        return item
    return {k: item[k] for k in fields if k in item}


def pagination_headers(offset: int, limit: int, returned: int, more: bool) -> dict[str, str]:
    """LangGraph's paging headers (``langgraph_api/utils.get_pagination_headers``): with a
    next page, ``X-Pagination-Total: offset + limit + 1`` (not the real total) and
    ``X-Pagination-Next: offset + limit``; on the last page only ``X-Pagination-Total:
    offset + returned``."""
    if more:
        nxt = offset + limit
        return {"X-Pagination-Total": str(nxt + 1), "X-Pagination-Next": str(nxt)}
    return {"X-Pagination-Total": str(offset + returned)}


__all__ = [
    "SESSION_STATUSES_OF",
    "THREAD_STATUSES",
    "checkpoint_of",
    "interrupt_dict",
    "pagination_headers",
    "select",
    "thread",
    "thread_error",
    "thread_state",
    "thread_status",
]
