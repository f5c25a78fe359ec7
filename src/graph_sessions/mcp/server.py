"""``build_mcp_server(manager)``: the MCP server of a session manager (the SDK's low-level
``Server``, so each graph's tool carries the graph's own input schema).

Tools: ``run_<graph>`` per graph the manager serves, ``list_sessions``, ``get_session``,
``resume_session``, ``suspend_session``, ``delete_session``. Resources (templates):
``session://{session_id}/state`` and ``session://{session_id}/events``. Every tool calls the
core (``GraphSessionManager``/``GraphSession``); a typed core error answers a tool error
(``isError``) with its code and message, never a failed server. Who calls (the owner whose
sessions are visible) comes from ``caller_of(ctx)``: on stdio the local user sees every
session; over HTTP ``server/mcp_mount.py`` passes the authenticated owner.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import jsonschema
import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.shared.exceptions import MCPError

from graph_sessions.core.manager import GraphSessionManager
from graph_sessions.core.session import GraphSession
from graph_sessions.errors import (
    GraphMismatch,
    GraphSessionError,
    InvalidInput,
    SessionNotFound,
)
from graph_sessions.jsonable import dumps, to_jsonable
from graph_sessions.mcp.caller import LOCAL, Caller
from graph_sessions.mcp.limits import UNLIMITED, RunLimits
from graph_sessions.mcp.schemas import (
    describe_graph,
    input_validation_schema,
    run_tool_names,
    run_tool_schema,
)
from graph_sessions.models import InvokeResult, SessionInfo, SessionStatus

log = logging.getLogger("graph_sessions.mcp")

#: a state (or output) longer than this many JSON characters is summarized, not returned whole
STATE_SUMMARY_CHARS = 4000
#: at most this many sessions per ``list_sessions`` page
MAX_LIST = 100
#: seconds a cancelled run gets to record its end before the tool call gives up waiting
CANCEL_GRACE = 10.0
#: JSON-RPC error code of an unknown resource (the MCP specification's)
RESOURCE_NOT_FOUND = -32002

_STATE_URI = re.compile(r"^session://(?P<id>[^/]+)/(?P<what>state|events)$")


CallerOf = Callable[[ServerRequestContext[Any]], Caller]
T = TypeVar("T")


class ToolError(Exception):
    """A tool's refusal of its arguments (answered as an ``isError`` result)."""


class RunTimedOut(Exception):
    """A run went past the server's ``run_timeout`` and was cancelled (answered as an
    ``isError`` result with the code ``run_timeout``, as REST answers 504)."""

    code = "run_timeout"

    def __init__(self, timeout: float, session_id: str) -> None:
        super().__init__(
            f"the run exceeded the server's run_timeout ({timeout} s) and was cancelled"
        )
        self.session_id = session_id


def _text(value: Any) -> str:
    return dumps(value, indent=True).decode()


def _sized(value: Any) -> Any:
    """``value`` as JSON, or a preview of it when it is long (the resource has it whole)."""
    data = to_jsonable(value)
    text = dumps(data).decode()
    if len(text) <= STATE_SUMMARY_CHARS:
        return data
    return {"truncated": True, "chars": len(text), "preview": text[:STATE_SUMMARY_CHARS]}


def _question(value: Any) -> Any:
    """What an interrupt asks: its ``question`` (or ``message``/``prompt``) key, else the
    whole value."""
    if isinstance(value, dict):
        for key in ("question", "message", "prompt"):
            if key in value:
                return value[key]
    return value


def _interrupts(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for item in raw:
        value = to_jsonable(item.get("value"))
        out.append({"id": item.get("id"), "question": _question(value), "value": value})
    return out


def run_summary(result: InvokeResult, session_id: str) -> dict[str, Any]:
    """What a run tool answers: session id, status, output, state summary, pending
    interrupt (with its question)."""
    interrupts = _interrupts(result.interrupts)
    out: dict[str, Any] = {
        "session_id": session_id,
        "status": result.status,
        "output": _sized(result.output),
        "state_keys": sorted(result.state),
        "state": _sized(result.state),
        "interrupt": interrupts[0] if interrupts else None,
        "interrupts": interrupts,
        "run_id": result.run_id,
    }
    if result.resume_key:
        out["resume_key"] = result.resume_key
    out["state_resource"] = f"session://{session_id}/state"
    return out


def session_summary(info: SessionInfo) -> dict[str, Any]:
    """A session's registry row for a tool answer."""
    return {
        "session_id": info.session_id,
        "graph_id": info.graph_id,
        "owner": info.owner,
        "status": str(info.status.value),
        "metadata": to_jsonable(info.metadata),
        "created_at": info.created_at.isoformat(),
        "updated_at": info.updated_at.isoformat(),
        "expires_at": info.expires_at.isoformat() if info.expires_at else None,
        "run_count": info.run_count,
        "last_error": info.last_error,
        "suspend_reason": info.suspend_reason,
        "pending_interrupts": _interrupts(info.interrupts),
    }


def _error_result(exc: BaseException) -> types.CallToolResult:
    if isinstance(exc, GraphSessionError):
        body: dict[str, Any] = dict(exc.to_dict())
    elif isinstance(exc, ToolError):
        body = {"error": "invalid_arguments", "message": str(exc), "session_id": None}
    elif isinstance(exc, RunTimedOut):
        body = {"error": exc.code, "message": str(exc), "session_id": exc.session_id}
    else:
        body = {"error": "internal_error", "message": f"{type(exc).__name__}: {exc}"}
    text = f"{body['error']}: {body['message']}"
    return types.CallToolResult(
        content=[types.TextContent(text=text)], structured_content=body, is_error=True
    )


def _ok(data: dict[str, Any]) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(text=_text(data))], structured_content=data
    )


def _str_arg(args: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = args.get(name)
    if value is None:
        if required:
            raise ToolError(f"{name} is required")
        return None
    if not isinstance(value, str) or not value:
        raise ToolError(f"{name} must be a non-empty string")
    return value


_ID_SCHEMA = {"type": "string", "description": "The session's id."}


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


SESSION_TOOLS: list[types.Tool] = [
    types.Tool(
        name="list_sessions",
        description="List your sessions, newest first, optionally only those of one status "
        "(created, running, interrupted, idle, completed, failed, suspended) or one graph. "
        "Returns their ids, statuses and pending interrupts, and next_cursor for the next page.",
        input_schema=_object(
            {
                "status": {"type": "string", "description": "Only sessions of this status."},
                "graph_id": {"type": "string", "description": "Only sessions of this graph."},
                "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIST, "default": 20},
                "cursor": {"type": "string", "description": "next_cursor of the previous page."},
            },
            [],
        ),
    ),
    types.Tool(
        name="get_session",
        description="One session: status, graph, metadata, timestamps, run count, last error "
        "and its pending interrupts (with their questions). Read the resource "
        "session://{id}/state for its full state.",
        input_schema=_object({"session_id": _ID_SCHEMA}, ["session_id"]),
    ),
    types.Tool(
        name="resume_session",
        description="Answer the interrupt a session is paused at and run it on to its end or "
        "next interrupt (answer: the value the graph asked for). Without answer, lifts the "
        "suspension of a suspended session.",
        input_schema=_object(
            {
                "session_id": _ID_SCHEMA,
                "answer": {"description": "The answer to the pending interrupt (any JSON)."},
            },
            ["session_id"],
        ),
    ),
    types.Tool(
        name="suspend_session",
        description="Suspend a session on purpose: runs are refused until resume_session "
        "(without answer) lifts the suspension. A running session cannot be suspended.",
        input_schema=_object(
            {
                "session_id": _ID_SCHEMA,
                "reason": {"type": "string", "description": "Why (kept on the session)."},
            },
            ["session_id"],
        ),
    ),
    types.Tool(
        name="delete_session",
        description="Delete a session and everything of it (state, checkpoints, runs, "
        "events). A run in progress is cancelled first. Cannot be undone.",
        input_schema=_object({"session_id": _ID_SCHEMA}, ["session_id"]),
        annotations=types.ToolAnnotations(destructive_hint=True),
    ),
]

RESOURCE_TEMPLATES = [
    types.ResourceTemplate(
        name="session_state",
        uri_template="session://{session_id}/state",
        description="A session's current state values (the latest checkpoint), as JSON.",
        mime_type="application/json",
    ),
    types.ResourceTemplate(
        name="session_events",
        uri_template="session://{session_id}/events",
        description="A session's execution log (run started/finished, interrupts, status "
        "changes), the latest 100 events, as JSON.",
        mime_type="application/json",
    ),
]


class McpSurface:
    """The tools and resources of one manager; :meth:`server` is the SDK server."""

    def __init__(
        self,
        manager: GraphSessionManager,
        caller_of: CallerOf | None = None,
        limits: RunLimits = UNLIMITED,
    ) -> None:
        self.manager = manager
        self.caller_of: CallerOf = caller_of or (lambda ctx: LOCAL)
        self.limits = limits
        self.run_tools = run_tool_names(manager.graph_ids)
        self._schemas: dict[str, dict[str, Any]] = {}
        self._validators: dict[str, Any] = {}
        self._handlers: dict[
            str, Callable[[ServerRequestContext[Any], Caller, dict[str, Any]], Awaitable[Any]]
        ] = {
            "list_sessions": self._list_sessions,
            "get_session": self._get_session,
            "resume_session": self._resume_session,
            "suspend_session": self._suspend_session,
            "delete_session": self._delete_session,
        }

    async def _ready(self) -> None:
        """The graphs' tool schemas, read once the manager is open (a manager never opened
        opens here, as at its first session call; a closed one raises ``ManagerClosed``)."""
        if self._schemas:
            return
        if not self.manager.is_open:
            await self.manager.count()
        self._schemas = {
            name: run_tool_schema(self.manager.graph_for(gid))
            for name, gid in self.run_tools.items()
        }

    def _validator(self, tool: str) -> Any:
        """The checked, compiled validator of a run tool's ``input`` (made once)."""
        found = self._validators.get(tool)
        if found is None:
            schema = input_validation_schema(self._schemas[tool])
            cls = jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
            found = self._validators[tool] = cls(schema)
        return found

    async def tools(self) -> list[types.Tool]:
        """Every tool: one per graph, then the session tools."""
        await self._ready()
        out = [
            types.Tool(
                name=name,
                title=f"Run {gid}",
                description=describe_graph(gid, self.manager.graph_for(gid)),
                input_schema=self._schemas[name],
            )
            for name, gid in self.run_tools.items()
        ]
        return out + SESSION_TOOLS

    def server(self) -> Server[Any]:
        """The SDK's low-level server with this surface's handlers."""
        return Server(
            "graph-sessions",
            version=_version(),
            instructions="Durable LangGraph sessions: run a graph with its run_<graph> tool, "
            "answer interrupts with resume_session, inspect with get_session and the "
            "session://{id}/state resource.",
            on_list_tools=self._on_list_tools,
            on_call_tool=self._on_call_tool,
            on_list_resources=self._on_list_resources,
            on_list_resource_templates=self._on_list_templates,
            on_read_resource=self._on_read_resource,
        )

    # handlers ------------------------------------------------------------------------
    async def _on_list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=await self.tools())

    async def _on_call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        args = dict(params.arguments or {})
        try:
            caller = self.caller_of(ctx)
            await self._ready()
            if params.name in self.run_tools:
                data = await self._run_graph(ctx, caller, params.name, args)
            elif params.name in self._handlers:
                data = await self._handlers[params.name](ctx, caller, args)
            else:
                raise ToolError(f"unknown tool {params.name!r}")
        except (GraphSessionError, ToolError, RunTimedOut) as exc:
            return _error_result(exc)
        except (asyncio.CancelledError, anyio.get_cancelled_exc_class()):
            raise
        except Exception as exc:  # never take the server down for one call
            log.exception("MCP tool %s failed", params.name)
            return _error_result(exc)
        return _ok(data)

    async def _on_list_resources(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        caller = self.caller_of(ctx)
        page = await self.manager.list(owner=caller.scope, limit=20)
        resources = [
            types.Resource(
                name=f"{info.session_id} state",
                uri=f"session://{info.session_id}/state",
                description=f"State of session {info.session_id} ({info.status.value})",
                mime_type="application/json",
            )
            for info in page.sessions
        ]
        return types.ListResourcesResult(resources=resources)

    async def _on_list_templates(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(resource_templates=RESOURCE_TEMPLATES)

    async def _on_read_resource(
        self, ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        uri = str(params.uri)
        match = _STATE_URI.match(uri)
        if match is None:
            raise MCPError(RESOURCE_NOT_FOUND, f"unknown resource {uri!r}")
        caller = self.caller_of(ctx)
        session = await self.manager.get(match["id"], owner=caller.scope)
        if session is None:
            raise MCPError(RESOURCE_NOT_FOUND, f"session {match['id']!r} not found")
        if match["what"] == "state":
            data: Any = to_jsonable(await session.get_state())
        else:
            events = await session.events(limit=100)
            data = [to_jsonable(e.model_dump(mode="json")) for e in events]
        return types.ReadResourceResult(
            contents=[
                types.TextResourceContents(uri=uri, mime_type="application/json", text=_text(data))
            ]
        )

    # tools ---------------------------------------------------------------------------
    async def _owned(self, caller: Caller, args: dict[str, Any]) -> GraphSession:
        session_id = _str_arg(args, "session_id", required=True)
        assert session_id is not None
        session = await self.manager.get(session_id, owner=caller.scope)
        if session is None:
            raise SessionNotFound(f"session {session_id!r} not found", session_id=session_id)
        return session

    async def _run_graph(
        self, ctx: ServerRequestContext[Any], caller: Caller, tool: str, args: dict[str, Any]
    ) -> dict[str, Any]:
        extra = set(args) - {"session_id", "input"}
        if extra:
            raise ToolError(f"unknown arguments: {', '.join(sorted(extra))}")
        value = args.get("input")
        try:
            self._validator(tool).validate(value)
        except jsonschema.ValidationError as exc:
            where = "/".join(str(p) for p in exc.absolute_path)
            raise ToolError(f"input{'/' + where if where else ''}: {exc.message}") from None
        graph_id = self.run_tools[tool]
        session_id = _str_arg(args, "session_id")
        if session_id is None:
            session = await self.manager.create(owner=caller.owner, graph_id=graph_id)
        else:
            # a user's own or new session (another owner's is not found); an admin's any
            found = None if caller.scope else await self.manager.get(session_id)
            session = found or await self.manager.get_or_create(
                session_id, owner=caller.owner, graph_id=graph_id
            )
            if session.info.graph_id != graph_id:
                other = next(
                    (t for t, g in self.run_tools.items() if g == session.info.graph_id), None
                )
                raise GraphMismatch(
                    f"session {session_id!r} runs the graph {session.info.graph_id!r}, not "
                    f"{graph_id!r}" + (f": use the tool {other}" if other else ""),
                    session_id=session_id,
                )
        result = await self._metered("mcp_run", self._streamed(ctx, session, value))
        return run_summary(result, session.session_id)

    async def _metered(self, kind: str, call: Awaitable[T]) -> T:
        """Await a run, counted in the limits' meter (if any) by ``kind`` and outcome."""
        meter = self.limits.meter
        if meter is None:
            return await call
        start = time.perf_counter()
        meter.active_runs.inc()
        outcome = "error"
        try:
            value = await call
            outcome = getattr(value, "status", None) or "complete"
            return value
        except (GraphSessionError, RunTimedOut) as exc:
            outcome = exc.code
            raise
        except (asyncio.CancelledError, anyio.get_cancelled_exc_class()):
            outcome = "cancelled"
            raise
        finally:
            meter.active_runs.dec()
            meter.observe_run(kind, outcome, time.perf_counter() - start)

    async def _streamed(
        self, ctx: ServerRequestContext[Any], session: GraphSession, value: Any
    ) -> InvokeResult:
        """Run with ``updates`` chunks: one progress notification per node finished (when
        the client asked for progress). A cancelled call cancels the run and waits for it
        to record its end, so the session is not left ``running``; so does a run past the
        limits' ``timeout`` (then :class:`RunTimedOut`)."""
        done = 0

        async def on_chunk(chunk: Any) -> None:
            nonlocal done
            if not isinstance(chunk, dict):
                return
            for node in chunk:
                done += 1
                what = "paused at an interrupt" if node == "__interrupt__" else f"{node} finished"
                with contextlib.suppress(Exception):  # a client gone must not fail the run
                    await ctx.session.report_progress(done, None, what)

        stream = await session.start_stream(
            value, mode="updates", on_disconnect="cancel", on_chunk=on_chunk
        )
        timeout = self.limits.timeout
        try:
            if timeout is None:
                return await asyncio.shield(stream.task)
            try:
                return await asyncio.wait_for(asyncio.shield(stream.task), timeout)
            except TimeoutError:
                if stream.task.done():  # ended just then: its own outcome
                    return stream.task.result()
                await self._cancelled(stream)
                raise RunTimedOut(timeout, session.session_id) from None
        except (asyncio.CancelledError, anyio.get_cancelled_exc_class()):
            await self._cancelled(stream)
            raise

    @staticmethod
    async def _cancelled(stream: Any) -> None:
        """Cancel a run and wait (shielded, up to ``CANCEL_GRACE``) for it to record its
        end."""
        stream.cancel()
        with anyio.CancelScope(shield=True):
            await asyncio.wait([stream.task], timeout=CANCEL_GRACE)

    async def _list_sessions(
        self, ctx: ServerRequestContext[Any], caller: Caller, args: dict[str, Any]
    ) -> dict[str, Any]:
        limit = args.get("limit", 20)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIST:
            raise ToolError(f"limit must be an integer from 1 to {MAX_LIST}")
        status = _str_arg(args, "status")
        if status is not None and status not in {s.value for s in SessionStatus}:
            raise InvalidInput(
                f"unknown status {status!r}: one of {', '.join(s.value for s in SessionStatus)}"
            )
        page = await self.manager.list(
            status,
            owner=caller.scope,
            graph_id=_str_arg(args, "graph_id"),
            limit=limit,
            cursor=_str_arg(args, "cursor"),
        )
        return {
            "sessions": [session_summary(info) for info in page.sessions],
            "next_cursor": page.next_cursor,
        }

    async def _get_session(
        self, ctx: ServerRequestContext[Any], caller: Caller, args: dict[str, Any]
    ) -> dict[str, Any]:
        session = await self._owned(caller, args)
        return session_summary(session.info)

    async def _resume_session(
        self, ctx: ServerRequestContext[Any], caller: Caller, args: dict[str, Any]
    ) -> dict[str, Any]:
        session = await self._owned(caller, args)
        if "answer" not in args:
            if session.info.status == SessionStatus.SUSPENDED:  # lifts it: no run
                return session_summary(await _lifted(session))
            call = session.resume()
        else:
            call = session.resume(args["answer"])
        result = await self._metered("mcp_resume", self._bounded(call, session.session_id))
        if result is None:  # a suspension lifted
            return session_summary(await session.refresh())
        return run_summary(result, session.session_id)

    async def _bounded(self, call: Awaitable[T], session_id: str) -> T:
        """Await ``call`` under the limits' ``timeout`` (past it the call is cancelled, which
        records the run's end, and :class:`RunTimedOut` raised)."""
        timeout = self.limits.timeout
        if timeout is None:
            return await call
        try:
            return await asyncio.wait_for(call, timeout)
        except TimeoutError:
            raise RunTimedOut(timeout, session_id) from None

    async def _suspend_session(
        self, ctx: ServerRequestContext[Any], caller: Caller, args: dict[str, Any]
    ) -> dict[str, Any]:
        session = await self._owned(caller, args)
        return session_summary(await session.suspend(_str_arg(args, "reason")))

    async def _delete_session(
        self, ctx: ServerRequestContext[Any], caller: Caller, args: dict[str, Any]
    ) -> dict[str, Any]:
        session = await self._owned(caller, args)
        deleted = await self.manager.delete(session.session_id, owner=caller.scope)
        return {"session_id": session.session_id, "deleted": deleted}


async def _lifted(session: GraphSession) -> SessionInfo:
    """Lift a suspended session's suspension (no run); its row after."""
    await session.resume()
    return await session.refresh()


def build_mcp_server(
    manager: GraphSessionManager,
    caller_of: CallerOf | None = None,
    limits: RunLimits = UNLIMITED,
) -> Server[Any]:
    """The MCP server of ``manager``'s graphs and sessions. ``caller_of(ctx)`` says who
    calls (default: the local user, who sees every session); ``limits`` bound and count the
    runs its tools start (default: neither)."""
    return McpSurface(manager, caller_of, limits).server()


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("graph-sessions")
    except Exception:
        return "0"
