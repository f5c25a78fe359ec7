"""Runs: ``/sessions/{id}/invoke``, ``/stream`` (SSE) and ``/resume``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any

from fastapi import Request, Response
from langgraph.types import Command
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.background import BackgroundTask

from graph_sessions.core.session import GraphSession, RunStream
from graph_sessions.errors import GraphSessionError
from graph_sessions.models import InvokeResult, SessionStatus
from graph_sessions.server.deps import (
    Caller,
    OwnedSession,
    SessionIdPath,
    info_dict,
    manager_of,
    metrics_of,
    run_with_limits,
    session_for_run,
    settings_of,
)
from graph_sessions.server.errors import error_body, error_responses, sse_schema
from graph_sessions.server.jsonable import JSONResponse, dumps
from graph_sessions.server.routing import GuardedRouter
from graph_sessions.server.schemas import (
    InvokeRequest,
    ResumeOut,
    ResumeRequest,
    RunConfig,
    StreamRequest,
)

router = GuardedRouter(tags=["runs"])

RUN_ERRORS = error_responses(400, 401, 404, 409, 413, 422, 423, 503, 504)


def config_of(config: RunConfig | None) -> dict[str, Any] | None:
    """A validated run config as the core takes it."""
    return config.model_dump(exclude_none=True) if config is not None else None


def invoke_call(session: GraphSession, body: InvokeRequest) -> Awaitable[InvokeResult | None]:
    """The core call an invoke body asks for: ``resume`` with its value, else ``invoke``
    (REST's ``/invoke`` and GraphQL's ``invoke``)."""
    if body.has_resume:
        return session.resume(
            body.resume,
            multitask=body.multitask,
            config=config_of(body.config),
            durability=body.durability,
        )
    return session.invoke(
        body.input,
        multitask=body.multitask,
        config=config_of(body.config),
        durability=body.durability,
        checkpoint_id=body.checkpoint_id,
    )


@router.post(
    "/sessions/{session_id}/invoke",
    response_model=InvokeResult,
    responses=RUN_ERRORS,
    summary="Run the graph and wait for the result",
)
async def invoke(
    session_id: SessionIdPath, body: InvokeRequest, request: Request, principal: Caller
) -> Response:
    """Run the graph with ``input`` until it ends or pauses at an interrupt. The session is
    created (for the caller) on first use. On an interrupted session the input resumes it.

    409 ``session_busy`` when a run is executing and ``multitask`` is ``reject``
    (``enqueue``, the default, waits its turn); 423 when the session is suspended; 422
    ``run_failed`` when the graph raises (the session becomes ``failed``); 504 when the run
    exceeds the server's ``run_timeout`` (the run is cancelled)."""
    manager = manager_of(request)
    session = await session_for_run(manager, session_id, principal, body.graph_id)
    result = await run_with_limits(
        request, "invoke", invoke_call(session, body), settings_of(request).run_timeout, session_id
    )
    assert result is not None  # resuming with a value never just lifts a suspension
    return JSONResponse(result)


@router.post(
    "/sessions/{session_id}/resume",
    response_model=ResumeOut,
    responses=RUN_ERRORS,
    summary="Answer the pending interrupt, or lift a suspension",
)
async def resume(
    session_id: SessionIdPath,
    request: Request,
    session: OwnedSession,
    body: ResumeRequest | None = None,
) -> Response:
    """On an interrupted session, ``value`` answers the interrupt and the run's result is
    returned (``resumed: "interrupt"``). On a suspended session, a body without ``value``
    lifts the suspension (``resumed: "suspension"``). 409 ``invalid_transition`` when there
    is nothing to resume."""
    body = body or ResumeRequest()
    has_value = "value" in body.model_fields_set
    if session.info.status == SessionStatus.SUSPENDED and not has_value:
        await session.resume()
        return JSONResponse({"resumed": "suspension", "session": info_dict(session.info)})
    options: dict[str, Any] = {
        "multitask": body.multitask,
        "config": config_of(body.config),
        "durability": body.durability,
    }
    call = session.resume(body.value, **options) if has_value else session.resume(**options)
    result = await run_with_limits(
        request, "resume", call, settings_of(request).run_timeout, session_id
    )
    if result is None:  # the suspension was lifted meanwhile
        return JSONResponse({"resumed": "suspension", "session": info_dict(session.info)})
    return JSONResponse(
        {"resumed": "interrupt", "session": info_dict(session.info), "result": result}
    )


_STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "An SSE stream. `event: start` (data: session_id, mode), then one "
        "event per LangGraph chunk named by its stream mode (`values`, `updates`, `messages`, "
        "`custom`, ...; data: the chunk as JSON, `{ns, data}` with subgraphs), then exactly one "
        "final event: `result` (data: the InvokeResult) or `error` (data: the error body "
        "plus `status`, the HTTP status it would have had).",
        "content": {
            "text/event-stream": {
                "schema": sse_schema(
                    [
                        "start",
                        "values",
                        "updates",
                        "messages",
                        "custom",
                        "debug",
                        "tasks",
                        "checkpoints",
                        "chunk",
                        "result",
                        "error",
                    ],
                    "one server-sent event of the run",
                )
            }
        },
    }
}


def chunk_event(chunk: Any, modes: str | list[str], subgraphs: bool) -> tuple[str, Any]:
    """(event name, data) for one LangGraph chunk."""
    ns: Any = None
    if subgraphs and isinstance(chunk, tuple) and chunk and isinstance(chunk[0], tuple):
        ns, chunk = chunk[0], chunk[1:] if len(chunk) > 2 else chunk[1]
    if isinstance(modes, list):
        if isinstance(chunk, tuple) and len(chunk) == 2 and isinstance(chunk[0], str):
            name, data = chunk
        else:
            name, data = "chunk", chunk
    else:
        name, data = modes, chunk
    if subgraphs:
        data = {"ns": list(ns) if ns else [], "data": data}
    return name, data


async def record_run(request: Request, run: RunStream) -> None:
    """Record the streamed run's metrics when it ends (and retrieve its outcome)."""
    metrics = metrics_of(request)
    start = time.perf_counter()
    metrics.active_runs.inc()
    outcome = "error"
    try:
        result = await run.finished()
        outcome = result.status
    except GraphSessionError as exc:
        outcome = exc.code
    except asyncio.CancelledError:
        outcome = "cancelled"
    except Exception:
        outcome = "error"
    finally:
        metrics.active_runs.dec()
        metrics.observe_run("stream", outcome, time.perf_counter() - start)


@router.post(
    "/sessions/{session_id}/stream",
    response_class=EventSourceResponse,
    responses={**RUN_ERRORS, **_STREAM_DOC},
    summary="Run the graph and stream its events (SSE)",
)
async def stream(
    session_id: SessionIdPath, body: StreamRequest, request: Request, principal: Caller
) -> Response:
    """Like ``/invoke``, but the run's LangGraph chunks arrive as server-sent events, and the
    stream ends with a ``result`` or ``error`` event. Errors found before the run starts
    (404, 409 under ``reject``, 423) answer with their HTTP status instead.

    A client that disconnects does not stop the run (its result is saved in the session)
    unless ``on_disconnect`` is ``cancel``."""
    manager = manager_of(request)
    settings = settings_of(request)
    session = await session_for_run(manager, session_id, principal, body.graph_id)
    modes: str | list[str] = list(body.mode) if isinstance(body.mode, list) else body.mode
    # The core checks the run's preconditions before the response starts: a refused run
    # answers with its HTTP status, as /invoke does.
    run = await session.start_stream(
        Command(resume=body.resume) if body.has_resume else body.input,
        mode=modes,
        subgraphs=body.subgraphs,
        multitask=body.multitask,
        config=config_of(body.config),
        durability=body.durability,
        checkpoint_id=body.checkpoint_id,
        on_disconnect=body.on_disconnect or settings.on_disconnect,
    )
    watcher = asyncio.ensure_future(record_run(request, run))
    timed_out = False
    timer: asyncio.TimerHandle | None = None
    if settings.run_timeout is not None:

        def expire() -> None:
            nonlocal timed_out
            if not watcher.done():
                timed_out = True
                run.cancel()

        timer = asyncio.get_running_loop().call_later(settings.run_timeout, expire)
        watcher.add_done_callback(lambda _: timer.cancel() if timer is not None else None)

    async def events() -> AsyncIterator[ServerSentEvent]:
        seq = 0
        chunks = aiter(run)
        try:
            yield ServerSentEvent(
                event="start", data=dumps({"session_id": session_id, "mode": modes}).decode()
            )
            async for chunk in chunks:
                seq += 1
                name, data = chunk_event(chunk, modes, body.subgraphs)
                yield ServerSentEvent(id=str(seq), event=name, data=dumps(data).decode())
            result = await run.result()
        except asyncio.CancelledError:
            if not timed_out:
                raise
            yield ServerSentEvent(
                event="error",
                data=dumps(
                    {
                        "error": "run_timeout",
                        "message": f"the run exceeded the server's run_timeout "
                        f"({settings.run_timeout} s) and was cancelled",
                        "session_id": session_id,
                        "status": 504,
                    }
                ).decode(),
            )
            return
        except Exception as exc:
            status, err = error_body(exc)
            err.setdefault("session_id", session_id)
            yield ServerSentEvent(event="error", data=dumps({**err, "status": status}).decode())
            return
        finally:
            # The client is gone (or the run ended): stop buffering chunks for it now, so
            # the run goes on (or is cancelled, per on_disconnect) without waiting for room.
            await chunks.aclose()  # type: ignore[attr-defined]
            run.abandon()
        yield ServerSentEvent(event="result", data=dumps(result).decode())

    # A client gone before the first event never starts events(): let go of the run then too.
    return EventSourceResponse(
        events(),
        ping=15,
        sep="\n",
        shutdown_grace_period=settings.shutdown_timeout,
        background=BackgroundTask(run.abandon),
    )
