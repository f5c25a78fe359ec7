"""``Mutation``: create, invoke, resume, suspend, unsuspend, updateMetadata, setTtl, fork,
updateState, deleteSession. Each validates its arguments with the REST body model and
calls what the REST route calls."""

from __future__ import annotations

from typing import Any, TypeVar

import strawberry
from pydantic import BaseModel, ValidationError
from strawberry.scalars import JSON
from strawberry.types import Info

from graph_sessions.errors import InvalidInput, InvalidTransition, SessionNotFound
from graph_sessions.graphql.access import ctx, owned
from graph_sessions.graphql.errors import invalid_input
from graph_sessions.graphql.types import Checkpoint, InvokeOutcome, Session
from graph_sessions.models import SessionStatus
from graph_sessions.server.deps import run_with_limits, session_for_run
from graph_sessions.server.routes.runs import config_of, invoke_call
from graph_sessions.server.schemas import (
    CreateSessionRequest,
    ForkRequest,
    InvokeRequest,
    ResumeRequest,
    SuspendRequest,
    UpdateSessionRequest,
    UpdateStateRequest,
)

M = TypeVar("M", bound=BaseModel)


def body(model: type[M], **values: Any) -> M:
    """``model`` from the arguments given (``None`` ones left out), or ``INVALID_INPUT``."""
    try:
        return model.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        raise invalid_input(exc) from None


@strawberry.type
class Mutation:
    """Writes and runs."""

    @strawberry.mutation(description="Register a new session (CONFLICT if the id is taken).")
    async def create_session(
        self,
        info: Info[Any, Any],
        id: strawberry.ID | None = None,
        graph_id: str | None = None,
        metadata: JSON | None = None,
        task_id: str | None = None,
        ttl: float | None = None,
        owner: str | None = None,
        initial_state: JSON | None = None,
    ) -> Session:
        c = ctx(info)
        req = body(
            CreateSessionRequest,
            session_id=str(id) if id is not None else None,
            graph_id=graph_id,
            metadata=metadata,
            task_id=task_id,
            ttl=ttl,
            owner=owner,
            initial_state=initial_state,
        )
        if req.owner is not None and not c.principal.is_admin:
            raise InvalidInput("only admins may set owner; a user's sessions are its own")
        kwargs: dict[str, Any] = {"ttl": req.ttl} if "ttl" in req.model_fields_set else {}
        session = await c.manager.create(
            req.session_id,
            owner=req.owner if req.owner is not None else c.principal.owner,
            metadata=req.metadata,
            task_id=req.task_id,
            initial_state=req.initial_state,
            graph_id=req.graph_id,
            **kwargs,
        )
        return Session.of(session)

    @strawberry.mutation(
        description="Run the graph with input (the session is created on first use); on an "
        "interrupted session, resume answers the interrupt."
    )
    async def invoke(
        self,
        info: Info[Any, Any],
        id: strawberry.ID,
        input: JSON | None = None,
        resume: JSON | None = None,
        graph_id: str | None = None,
        multitask: str | None = None,
        durability: str | None = None,
        checkpoint_id: str | None = None,
        config: JSON | None = None,
    ) -> InvokeOutcome:
        c = ctx(info)
        req = body(
            InvokeRequest,
            input=input,
            resume=resume,
            graph_id=graph_id,
            multitask=multitask,
            durability=durability,
            checkpoint_id=checkpoint_id,
            config=config,
        )
        session = await session_for_run(c.manager, str(id), c.principal, req.graph_id)
        result = await run_with_limits(
            c.request_like, "invoke", invoke_call(session, req), c.settings.run_timeout, str(id)
        )
        assert result is not None  # resuming with a value never just lifts a suspension
        return InvokeOutcome.of(result)

    @strawberry.mutation(description="Answer the pending interrupt with value.")
    async def resume(
        self,
        info: Info[Any, Any],
        id: strawberry.ID,
        value: JSON | None = None,
        multitask: str | None = None,
        durability: str | None = None,
        config: JSON | None = None,
    ) -> InvokeOutcome:
        c = ctx(info)
        req = body(
            ResumeRequest, value=value, multitask=multitask, durability=durability, config=config
        )
        session = await owned(info, str(id))
        call = session.resume(
            req.value,
            multitask=req.multitask,
            config=config_of(req.config),
            durability=req.durability,
        )
        result = await run_with_limits(
            c.request_like, "resume", call, c.settings.run_timeout, str(id)
        )
        if result is None:
            raise InvalidTransition(
                f"session {str(id)!r} was suspended, not interrupted", session_id=str(id)
            )
        return InvokeOutcome.of(result)

    @strawberry.mutation(description="Pause the session on purpose (runs refused until unsuspend).")
    async def suspend(
        self, info: Info[Any, Any], id: strawberry.ID, reason: str | None = None
    ) -> Session:
        req = body(SuspendRequest, reason=reason)
        session = await owned(info, str(id))
        await session.suspend(reason=req.reason)
        return Session.of(session)

    @strawberry.mutation(description="Lift a suspension (CONFLICT when not suspended).")
    async def unsuspend(self, info: Info[Any, Any], id: strawberry.ID) -> Session:
        session = await owned(info, str(id))
        if session.info.status != SessionStatus.SUSPENDED:
            raise InvalidTransition(
                f"session {str(id)!r} is {session.info.status}, not suspended", session_id=str(id)
            )
        await session.resume()
        return Session.of(session)

    @strawberry.mutation(description="Merge metadata into the session's (replace: merge false).")
    async def update_metadata(
        self, info: Info[Any, Any], id: strawberry.ID, metadata: JSON, merge: bool = True
    ) -> Session:
        c = ctx(info)
        req = body(UpdateSessionRequest, metadata=metadata, merge=merge)
        assert req.metadata is not None
        info_row = await c.manager.update_metadata(
            str(id), req.metadata, merge=req.merge, owner=c.principal.scope
        )
        return Session.of(c.manager.session(info_row))

    @strawberry.mutation(description="A new lifetime: ttl seconds from now (null: never expires).")
    async def set_ttl(self, info: Info[Any, Any], id: strawberry.ID, ttl: float | None) -> Session:
        c = ctx(info)
        req = body(UpdateSessionRequest, ttl=ttl)
        info_row = await c.manager.set_ttl(str(id), req.ttl, owner=c.principal.scope)
        return Session.of(c.manager.session(info_row))

    @strawberry.mutation(description="Make a copy of past checkpoint checkpointId the head.")
    async def fork(self, info: Info[Any, Any], id: strawberry.ID, checkpoint_id: str) -> Checkpoint:
        req = body(ForkRequest, checkpoint_id=checkpoint_id)
        session = await owned(info, str(id))
        return Checkpoint.of(await session.fork(req.checkpoint_id))

    @strawberry.mutation(description="Write values into the state as if node asNode returned them.")
    async def update_state(
        self, info: Info[Any, Any], id: strawberry.ID, values: JSON, as_node: str | None = None
    ) -> Checkpoint:
        req = body(UpdateStateRequest, values=values, as_node=as_node)
        session = await owned(info, str(id))
        return Checkpoint.of(await session.update_state(req.values, as_node=req.as_node))

    @strawberry.mutation(description="Delete everything of the session (NOT_FOUND when absent).")
    async def delete_session(self, info: Info[Any, Any], id: strawberry.ID) -> bool:
        c = ctx(info)
        deleted = await c.manager.delete(str(id), owner=c.principal.scope)
        if not deleted:
            raise SessionNotFound(f"session {str(id)!r} does not exist", session_id=str(id))
        return True
