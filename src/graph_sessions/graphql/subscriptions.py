"""``Subscription`` (graphql-transport-ws): ``sessionEvents`` (the live execution log, as
``GET /events?follow=true`` tails it), ``run`` (a run's chunks, through
``GraphSession.start_stream`` as ``POST /stream``), ``sessionChanges`` (status
transitions of the sessions a filter matches: ``changes.py`` reads the sessions updated
since its last look)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from langgraph.types import Command
from strawberry.scalars import JSON
from strawberry.types import Info

from graph_sessions.core.event_tail import first_of
from graph_sessions.errors import SessionExpired, SessionNotFound
from graph_sessions.graphql.access import ctx, owned
from graph_sessions.graphql.changes import MAX_WATCHED, ChangeWatch
from graph_sessions.graphql.mutations import body
from graph_sessions.graphql.queries import list_filters, owner_filter, search_request
from graph_sessions.graphql.types import (
    MAX_PAGE,
    RunChunk,
    Session,
    SessionChange,
    SessionEvent,
    SessionFilter,
    js,
)
from graph_sessions.server.deps import session_for_run
from graph_sessions.server.errors import ApiError
from graph_sessions.server.routes.runs import chunk_event, config_of, record_run
from graph_sessions.server.schemas import StreamRequest


@strawberry.type
class Subscription:
    """Live updates."""

    @strawberry.subscription(
        description="The session's execution log after event id after, then each new event as "
        "it is logged; completes when the session is deleted or expires."
    )
    async def session_events(
        self, info: Info[Any, Any], id: strawberry.ID, after: int | None = None
    ) -> AsyncGenerator[SessionEvent, None]:
        c = ctx(info)
        session_id = str(id)
        session = await owned(info, session_id)
        pages = session.follow_events(
            after, page=MAX_PAGE, stopped=c.stopping.is_set, wake=(c.stopping,)
        )
        try:
            async for events in pages:
                for event in events:
                    yield SessionEvent.of(event)
        except (SessionNotFound, SessionExpired):  # gone, or its id taken again
            return

    @strawberry.subscription(
        description="Run the graph and receive its chunks (event: the stream mode), then one "
        "final chunk with event result (data: the InvokeResult)."
    )
    async def run(
        self,
        info: Info[Any, Any],
        id: strawberry.ID,
        input: JSON | None = None,
        resume: JSON | None = None,
        mode: list[str] | None = None,
        graph_id: str | None = None,
        multitask: str | None = None,
        checkpoint_id: str | None = None,
        config: JSON | None = None,
    ) -> AsyncGenerator[RunChunk, None]:
        c = ctx(info)
        req = body(
            StreamRequest,
            input=input,
            resume=resume,
            mode=(mode[0] if len(mode) == 1 else mode) if mode else None,
            graph_id=graph_id,
            multitask=multitask,
            checkpoint_id=checkpoint_id,
            config=config,
        )
        session = await session_for_run(c.manager, str(id), c.principal, req.graph_id)
        modes: str | list[str] = list(req.mode) if isinstance(req.mode, list) else req.mode
        run = await session.start_stream(
            Command(resume=req.resume) if req.has_resume else req.input,
            mode=modes,
            subgraphs=req.subgraphs,
            multitask=req.multitask,
            config=config_of(req.config),
            checkpoint_id=req.checkpoint_id,
            on_disconnect=req.on_disconnect or c.settings.on_disconnect,
        )
        watcher = asyncio.ensure_future(record_run(c.request_like, run))  # metrics, as REST
        timed_out = False
        timer: asyncio.TimerHandle | None = None
        if c.settings.run_timeout is not None:

            def expire() -> None:
                nonlocal timed_out
                if not watcher.done():
                    timed_out = True
                    run.cancel()

            timer = asyncio.get_running_loop().call_later(c.settings.run_timeout, expire)
            # kept until the run ends, not the subscription: a client that leaves does not
            # free its run from run_timeout (as REST's /stream)
            watcher.add_done_callback(lambda _: timer.cancel() if timer is not None else None)
        chunks = aiter(run)
        seq = 0
        try:
            async for chunk in chunks:
                seq += 1
                name, data = chunk_event(chunk, modes, req.subgraphs)
                yield RunChunk(seq=seq, event=name, data=js(data))
            result = await run.result()
        except asyncio.CancelledError:
            if not timed_out:
                raise
            raise ApiError(
                504,
                "run_timeout",
                f"the run exceeded the server's run_timeout ({c.settings.run_timeout} s) "
                "and was cancelled",
                session_id=str(id),
            ) from None
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]
            run.abandon()
        yield RunChunk(seq=seq + 1, event="result", data=js(result))

    @strawberry.subscription(
        description="Each session of the filter whose status changed, appeared, or left it (removed: "
        "deleted, expired or no longer matching), looked for every events_poll_interval seconds."
    )
    async def session_changes(
        self, info: Info[Any, Any], filter: SessionFilter | None = None
    ) -> AsyncGenerator[SessionChange, None]:
        c = ctx(info)
        req = search_request(filter, MAX_WATCHED, None)
        owner, empty = owner_filter(c.principal, req.owner)
        statuses = [s.value for s in req.status] if req.status else None
        watch = ChangeWatch(c.manager, statuses, list_filters(req, owner))
        interval = c.settings.events_poll_interval
        while not c.stopping.is_set():
            if not empty:
                for change in await watch.look():
                    yield SessionChange(
                        session=Session.of(c.manager.session(change.info)),
                        previous_status=change.previous_status,
                        removed=change.removed,
                    )
            await first_of(c.stopping, timeout=interval)
