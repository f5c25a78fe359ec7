"""Registry operations on sessions: create, look up, revive, delete, change metadata, TTL
and graph binding. They take the core context and answer registry rows
(:class:`SessionInfo`); the manager wraps rows into session objects."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from graph_sessions.core.context import CoreContext
from graph_sessions.errors import InvalidInput, SessionBusy, SessionExists, SessionNotFound
from graph_sessions.models import EventType, SessionInfo, SessionStatus
from graph_sessions.storage.backend import NewEvent
from graph_sessions.storage.codec import dump_json
from graph_sessions.storage.records import UNCHANGED, SessionUpdate

#: ``ttl=`` not given: the manager's default TTL applies
DEFAULT_TTL: Any = object()


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_id(session_id: Any) -> str:
    """``session_id`` if it is a usable session id, else ``InvalidInput``."""
    if not isinstance(session_id, str) or not session_id.strip():
        raise InvalidInput(f"session id must be a non-empty string, not {session_id!r}")
    if len(session_id) > 256:
        raise InvalidInput("session id must be at most 256 characters", session_id=session_id[:64])
    if not _is_utf8(session_id):
        raise InvalidInput(f"session id {session_id!r} is not valid Unicode text")
    if "\x00" in session_id:  # storage keys use it as a separator
        raise InvalidInput(f"session id {session_id!r} must not contain NUL characters")
    return session_id


def check_metadata(metadata: Any, session_id: str) -> None:
    """``InvalidInput`` unless ``metadata`` is a JSON-serializable dict."""
    if not isinstance(metadata, dict):
        raise InvalidInput("metadata must be a dict", session_id=session_id)
    try:
        dump_json(metadata, strict=True)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"metadata must be JSON-serializable: {exc}",
            session_id=session_id,
        ) from None


def check_ttl(ttl: Any, default: float | None) -> float | None:
    """A TTL in seconds (``default`` for :data:`DEFAULT_TTL`), ``None`` for no expiry;
    ``InvalidInput`` for anything but a positive number or ``None``."""
    if ttl is DEFAULT_TTL:
        return default
    if ttl is not None and (not isinstance(ttl, int | float) or ttl <= 0):
        raise InvalidInput(f"ttl must be a positive number of seconds or None, not {ttl!r}")
    return float(ttl) if ttl is not None else None


def owned(info: SessionInfo, owner: str | None) -> bool:
    """True when ``owner`` may see the session (``None``: anyone)."""
    return owner is None or info.owner == owner


async def create(
    ctx: CoreContext,
    session_id: str | None = None,
    *,
    owner: str | None = None,
    metadata: dict[str, Any] | None = None,
    task_id: str | None = None,
    ttl: float | None = DEFAULT_TTL,
    initial_state: dict[str, Any] | None = None,
    graph_id: str | None = None,
) -> SessionInfo:
    """Register a new session (see :meth:`GraphSessionManager.create`)."""
    ctx.require_open()
    graph = ctx.graph_for(graph_id)
    graph_id = graph_id or ctx.graphs.default_id
    session_id = check_id(session_id) if session_id is not None else str(uuid.uuid4())
    if metadata is not None:
        check_metadata(metadata, session_id)
    if initial_state is not None and not isinstance(initial_state, dict):
        raise InvalidInput("initial_state must be a dict", session_id=session_id)
    ttl_s = check_ttl(ttl, ctx.options.ttl)
    now = ctx.now()
    info = SessionInfo(
        session_id=session_id,
        graph_id=graph_id,
        owner=owner,
        task_id=task_id,
        status=SessionStatus.CREATED,
        metadata=dict(metadata or {}),
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(seconds=ttl_s) if ttl_s else None,
        ttl=ttl_s,
        ttl_mode=ctx.options.ttl_mode,
        graph_identity=ctx.graphs.identity(graph_id),
    )
    created = await ctx.backend.create_session(
        info, NewEvent(EventType.CREATED, None, {"owner": owner})
    )
    if not created:
        raise SessionExists(f"session {session_id!r} already exists", session_id=session_id)
    if initial_state:
        try:
            await graph.aupdate_state(
                {"configurable": {"thread_id": session_id}}, initial_state, as_node="__start__"
            )
        except Exception as exc:
            await ctx.backend.delete_session(session_id)
            raise InvalidInput(
                f"initial_state does not fit the graph: {type(exc).__name__}: {exc}",
                session_id=session_id,
            ) from exc
    return info


async def copy(
    ctx: CoreContext, session_id: str, *, new_id: str | None = None, owner: str | None = None
) -> SessionInfo:
    """A new session (``new_id``, else a generated id) with the graph, owner, metadata,
    TTL, status and every checkpoint of ``session_id`` (see :meth:`GraphSessionManager.copy`)."""
    ctx.require_open()
    source = await owned_info(ctx, session_id, owner)
    target = check_id(new_id) if new_id is not None else str(uuid.uuid4())
    now = ctx.now()
    status = source.status
    if status == SessionStatus.RUNNING:  # the copy holds what the run has saved so far
        has_state = await ctx.backend.latest_checkpoint_id(session_id) is not None
        status = SessionStatus.COMPLETED if has_state else SessionStatus.CREATED
    info = source.model_copy(
        update={
            "session_id": target,
            "status": status,
            "created_at": now,
            "updated_at": now,
            "expires_at": now + timedelta(seconds=source.ttl) if source.ttl else None,
            "run_count": 0,
            "revision": 0,
            "lease_owner": None,
            "lease_expires_at": None,
            "lease_epoch": 0,
        },
        deep=True,
    )
    created = await ctx.backend.create_session(
        info, NewEvent(EventType.CREATED, None, {"owner": info.owner, "copied_from": session_id})
    )
    if not created:
        raise SessionExists(f"session {target!r} already exists", session_id=target)
    await ctx.backend.copy_checkpoints(session_id, target)
    return info


async def get(ctx: CoreContext, session_id: str, owner: str | None) -> SessionInfo | None:
    """The live row, or ``None`` when absent, expired, or another owner's."""
    ctx.require_open()
    info = await ctx.backend.get_session(check_id(session_id))
    if info is None or not owned(info, owner) or info.is_expired(ctx.now()):
        return None
    return info


async def get_or_create(
    ctx: CoreContext,
    session_id: str | None = None,
    *,
    thread_id: str | None = None,
    owner: str | None = None,
    metadata: dict[str, Any] | None = None,
    task_id: str | None = None,
    ttl: float | None = DEFAULT_TTL,
    initial_state: dict[str, Any] | None = None,
    graph_id: str | None = None,
) -> SessionInfo:
    """The existing row, or a new session's (see :meth:`GraphSessionManager.get_or_create`)."""
    ctx.require_open()
    if session_id is not None and thread_id is not None and session_id != thread_id:
        raise InvalidInput("pass session_id or thread_id, not both")
    sid = session_id if session_id is not None else thread_id
    new: dict[str, Any] = {
        "owner": owner,
        "metadata": metadata,
        "task_id": task_id,
        "ttl": ttl,
        "initial_state": initial_state,
        "graph_id": graph_id,
    }
    if sid is None:
        return await create(ctx, **new)
    sid = check_id(sid)
    info = await ctx.backend.get_session(sid)
    if info is not None and not owned(info, owner):
        raise SessionNotFound(f"session {sid!r} does not exist for owner {owner!r}", session_id=sid)
    now = ctx.now()
    if info is not None and info.is_expired(now) and info.status != SessionStatus.RUNNING:
        if ctx.options.on_expire == "keep_latest":
            return await revive(ctx, info, now)
        # Only if still expired: another task may have replaced it meanwhile.
        await ctx.backend.delete_session(sid, only_if_expired_at=now)
        info = None
    if info is None:
        try:
            return await create(ctx, sid, **new)
        except SessionExists:  # created meanwhile by another task
            info = await ctx.backend.get_session(sid)
            if info is None or not owned(info, owner):
                raise
    if graph_id is not None and info.graph_id != graph_id:
        raise InvalidInput(
            f"session {sid!r} uses graph {info.graph_id!r}, not {graph_id!r}", session_id=sid
        )
    return info


async def revive(ctx: CoreContext, info: SessionInfo, now: datetime) -> SessionInfo:
    """Bring an expired session back with its latest state (``on_expire="keep_latest"``)."""
    # Archived by the sweeper: back to the status it had. (Expired by time only: the row
    # still holds its real status and previous_status.)
    archived = info.status == SessionStatus.EXPIRED
    update = SessionUpdate(
        updated_at=now,
        status=(info.previous_status or SessionStatus.COMPLETED) if archived else UNCHANGED,
        previous_status=None if archived else UNCHANGED,
        expires_at=now + timedelta(seconds=info.ttl) if info.ttl else UNCHANGED,
    )
    updated = await ctx.backend.update_session(
        info.session_id,
        update,
        events=[NewEvent(EventType.UNSUSPENDED, None, {"revived_from": "expired"})],
        expect_status=[info.status],
    )
    if updated is None:  # the sweeper or another task moved it meanwhile: read again
        fresh = await ctx.backend.get_session(info.session_id)
        if fresh is None:
            raise SessionNotFound(
                f"session {info.session_id!r} does not exist", session_id=info.session_id
            )
        return fresh if not fresh.is_expired(now) else await revive(ctx, fresh, now)
    return updated


async def owned_info(ctx: CoreContext, session_id: str, owner: str | None) -> SessionInfo:
    """The row of a live session ``owner`` may see (``SessionNotFound``/``SessionExpired``)."""
    info = await ctx.load_info(check_id(session_id))
    if not owned(info, owner):
        raise SessionNotFound(f"session {session_id!r} does not exist", session_id=session_id)
    return info


async def delete(ctx: CoreContext, session_id: str, owner: str | None) -> bool:
    """Delete everything of the session; a run of it in this process is cancelled first,
    and so are the calls queued for it. False if absent (or another owner's)."""
    ctx.require_open()
    sid = check_id(session_id)
    if owner is not None:
        info = await ctx.backend.get_session(sid)
        if info is None or info.owner != owner:
            return False
    gate = ctx.gates.enter(sid)
    try:
        # Queued callers (and one waiting for another process's lease) give up too.
        gate.cancel_runs("deleted")
        async with gate.lock:
            return await ctx.backend.delete_session(sid)
    finally:
        ctx.gates.leave(sid, gate)


async def update_metadata(
    ctx: CoreContext,
    session_id: str,
    metadata: dict[str, Any],
    *,
    merge: bool = True,
    owner: str | None = None,
) -> SessionInfo:
    """Merge (or replace) the session's metadata."""
    check_metadata(metadata, session_id)
    while True:  # merge against the row we read; another writer in between: read again
        info = await owned_info(ctx, session_id, owner)
        new = {**info.metadata, **metadata} if merge else dict(metadata)
        updated = await ctx.backend.update_session(
            session_id,
            SessionUpdate(metadata=new, updated_at=ctx.now()),
            events=[NewEvent(EventType.METADATA_UPDATED, None, {"keys": sorted(metadata)})],
            expect_revision=info.revision,
        )
        if updated is not None:
            return updated


async def set_ttl(
    ctx: CoreContext, session_id: str, ttl: float | None, *, owner: str | None = None
) -> SessionInfo:
    """Give the session a new lifetime: ``ttl`` seconds from now (``None``: no expiry)."""
    ttl_s = check_ttl(ttl, ctx.options.ttl)
    while True:
        info = await owned_info(ctx, session_id, owner)
        now = ctx.now()
        updated = await ctx.backend.update_session(
            session_id,
            SessionUpdate(
                ttl=ttl_s,
                expires_at=now + timedelta(seconds=ttl_s) if ttl_s else None,
                updated_at=now,
            ),
            events=[NewEvent(EventType.METADATA_UPDATED, None, {"ttl": ttl_s})],
            expect_revision=info.revision,
        )
        if updated is not None:
            return updated


async def rebind(
    ctx: CoreContext, session_id: str, *, graph_id: str | None = None, owner: str | None = None
) -> SessionInfo:
    """Bind the session to a served graph (``graph_id``, else the default); its state is
    kept as it is."""
    ctx.require_open()
    gid = graph_id or ctx.graphs.default_id
    identity = ctx.graph_identity(gid)
    async with ctx.gates.exclusive(session_id):
        while True:
            info = await owned_info(ctx, session_id, owner)
            if info.status == SessionStatus.RUNNING:
                raise SessionBusy(
                    f"session {session_id!r} is running; re-bind it after the run",
                    session_id=session_id,
                )
            if info.graph_identity == identity and info.graph_id == gid:
                return info
            updated = await ctx.backend.update_session(
                session_id,
                SessionUpdate(graph_identity=identity, graph_id=gid, updated_at=ctx.now()),
                events=[
                    NewEvent(
                        EventType.METADATA_UPDATED,
                        None,
                        {"rebound": {"from": info.graph_identity, "to": identity}},
                    )
                ],
                expect_revision=info.revision,
            )
            if updated is not None:
                return updated
