"""LangGraph's run-create body (``RunCreateStateful`` / ``RunCreateStateless``) and its
translation into one core call: which session, which graph, which input and options.

Unknown body fields are ignored, as LangGraph's server does. The thread is the caller's
session (another owner's is a 404, like a missing one); an assistant id is a system
assistant id or a graph id (:func:`~graph_sessions.server.langgraph_api.ids.graph_of_assistant`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from langgraph.types import Command, Send
from pydantic import BaseModel, ConfigDict, Field, field_validator

from graph_sessions.core.manager import GraphSessionManager
from graph_sessions.core.session import GraphSession
from graph_sessions.errors import SessionExists, SessionExpired, SessionNotFound
from graph_sessions.server.auth import Principal
from graph_sessions.server.deps import load_session
from graph_sessions.server.errors import ApiError
from graph_sessions.server.langgraph_api.ids import graph_of_assistant, new_id, system_assistant_id
from graph_sessions.vocabulary import Durability, MultitaskStrategy, OnDisconnect

#: every stream mode LangGraph's server accepts in ``stream_mode``
StreamMode = Literal[
    "values",
    "messages",
    "messages-tuple",
    "tasks",
    "checkpoints",
    "updates",
    "events",
    "debug",
    "custom",
]
STREAM_MODES: tuple[str, ...] = get_args(StreamMode)

NOT_FOUND = "Thread or assistant not found."
BUSY = (
    "Thread is already running a task. Wait for it to finish or choose a different "
    "multitask strategy."
)


class RunCommand(BaseModel):
    """``command``: resume an interrupt (a value, or a map of interrupt id to value), update
    the state, go to nodes."""

    model_config = ConfigDict(extra="ignore")

    resume: Any = None
    update: Any = None
    goto: Any = None

    def to_command(self) -> Command:
        """LangGraph's ``Command``, mapped as LangGraph's server does (``map_cmd``)."""
        goto = self.goto
        if goto is not None and not isinstance(goto, list):
            goto = [goto]
        update = self.update
        if isinstance(update, list | tuple) and all(
            isinstance(t, list | tuple) and len(t) == 2 and isinstance(t[0], str) for t in update
        ):
            update = [tuple(t) for t in update]
        targets: list[Any] | None = None
        if goto:
            targets = []
            for item in goto:
                if isinstance(item, str):
                    targets.append(item)
                elif isinstance(item, dict) and isinstance(item.get("node"), str):
                    targets.append(Send(item["node"], item.get("input")))
                else:
                    raise ApiError(
                        422, "validation_error", "command.goto: a node name or {node, input}"
                    )
        return Command(update=update, goto=targets or (), resume=self.resume)


class RunCreate(BaseModel):
    """The body of ``POST /threads/{id}/runs[/wait|/stream]`` and of the stateless
    ``/runs[...]`` routes (which add ``on_completion``)."""

    model_config = ConfigDict(extra="ignore")

    assistant_id: str = Field(min_length=1, max_length=256)
    input: Any = None
    command: RunCommand | None = None
    metadata: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    checkpoint_id: str | None = None
    checkpoint: dict[str, Any] | None = None
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    webhook: str | None = None
    multitask_strategy: MultitaskStrategy | None = None
    if_not_exists: Literal["reject", "create"] | None = None
    on_disconnect: OnDisconnect | None = None
    on_completion: Literal["delete", "keep"] | None = None
    after_seconds: float | None = Field(default=None, ge=0)
    stream_mode: StreamMode | list[StreamMode] | None = None
    stream_subgraphs: bool = False
    stream_resumable: bool = False
    durability: Durability | None = None
    checkpoint_during: bool | None = None
    feedback_keys: list[str] | None = None

    @field_validator("input")
    @classmethod
    def _input_shape(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, dict):
            raise ValueError("input must be an object or null")
        return value

    @property
    def modes(self) -> list[str]:
        """The requested stream modes as a list (default ``["values"]``)."""
        if self.stream_mode is None:
            return ["values"]
        modes = [self.stream_mode] if isinstance(self.stream_mode, str) else self.stream_mode
        return list(dict.fromkeys(modes)) or ["values"]

    @property
    def strategy(self) -> MultitaskStrategy:
        """The multitask strategy: LangGraph's default is ``enqueue``."""
        return self.multitask_strategy or "enqueue"

    @property
    def fork_from(self) -> str | None:
        """The checkpoint to run from (``checkpoint_id`` or ``checkpoint.checkpoint_id``)."""
        if self.checkpoint_id:
            return self.checkpoint_id
        ckpt = (self.checkpoint or {}).get("checkpoint_id")
        return ckpt if isinstance(ckpt, str) and ckpt else None

    def graph_input(self) -> Any:
        """What the graph gets: the ``command`` when given, else ``input``."""
        if self.command is not None:
            return self.command.to_command()
        return self.input

    def graph_options(self) -> dict[str, Any] | None:
        """LangGraph run options: breakpoints and the runtime context."""
        options: dict[str, Any] = {}
        if self.interrupt_before:
            options["interrupt_before"] = self.interrupt_before
        if self.interrupt_after:
            options["interrupt_after"] = self.interrupt_after
        if self.context is not None:
            options["context"] = self.context
        return options or None

    def kwargs(self) -> dict[str, Any]:
        """The run's ``kwargs`` as LangGraph's Run JSON shows them."""
        return {
            "input": self.input,
            "command": self.command.model_dump() if self.command is not None else None,
            "config": self.config or {},
            "context": self.context or {},
            "stream_mode": self.modes,
            "interrupt_before": self.interrupt_before,
            "interrupt_after": self.interrupt_after,
            "webhook": self.webhook,
            "feedback_keys": self.feedback_keys,
            "temporary": False,
            "subgraphs": self.stream_subgraphs,
            "resumable": self.stream_resumable,
            "durability": self.durability or "async",
        }


@dataclass
class ResolvedRun:
    """A run-create body resolved against the core: the session and what to run on it."""

    session: GraphSession
    graph_id: str
    assistant_id: str
    body: RunCreate
    run_id: str = field(default_factory=new_id)
    temporary: bool = False  # a stateless run's thread, deleted after unless kept
    #: thread metadata the run sets as it begins (``graph_id``/``assistant_id``), when not
    #: written at once
    marks: dict[str, Any] | None = None

    @property
    def thread_id(self) -> str:
        """The thread (session) the run executes on."""
        return self.session.session_id

    def config(self) -> dict[str, Any]:
        """The run's LangGraph config: the body's, with the run's ids in ``configurable``
        and its metadata (plus ``graph_id``/``assistant_id``) in ``metadata``, as
        LangGraph's server passes them to the graph."""
        config = dict(self.body.config or {})
        marks = {"graph_id": self.graph_id, "assistant_id": self.assistant_id}
        metadata = config.get("metadata")
        config["metadata"] = {
            **(metadata if isinstance(metadata, dict) else {}),
            **(self.body.metadata or {}),
            **marks,
        }
        configurable = config.get("configurable")
        if configurable is None or isinstance(configurable, dict):  # else the core says why
            config["configurable"] = {
                **(configurable or {}),
                **marks,
                "run_id": self.run_id,
                "thread_id": self.thread_id,
            }
        return config

    def core_options(self) -> dict[str, Any]:
        """Keyword arguments for ``GraphSession.start_stream`` besides input and modes."""
        body = self.body
        return {
            "multitask": body.strategy,
            "config": self.config(),
            "durability": body.durability
            or (
                None
                if body.checkpoint_during is None
                else "async"
                if body.checkpoint_during
                else "exit"
            ),
            "checkpoint_id": body.fork_from,
            "run_id": self.run_id,
            "graph_options": body.graph_options(),
            "set_metadata": self.marks,
        }


@dataclass
class AssistantRef:
    """What a run takes from its assistant: the graph, the assistant's id (a UUID), and
    the config and context it runs with (the run's own are laid over them)."""

    graph_id: str
    assistant_id: str
    config: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)


#: Looks an assistant id up among the assistants made over ``/assistants``
#: (``run_launch.assistant_resolver``): ``None`` when unknown.
AssistantResolver = Callable[[str], Awaitable[AssistantRef | None]]


async def resolve_assistant(
    manager: GraphSessionManager, assistant_id: str, resolver: AssistantResolver | None = None
) -> AssistantRef:
    """The assistant a run names: a system assistant (its id or its graph id) or one the
    ``resolver`` knows; 404 ``Thread or assistant not found.`` otherwise."""
    graph_id = graph_of_assistant(assistant_id, manager.graph_ids)
    if graph_id is not None:
        return AssistantRef(graph_id, system_assistant_id(graph_id))
    found = await resolver(assistant_id) if resolver is not None else None
    if found is None or found.graph_id not in manager.graph_ids:
        raise ApiError(404, "not_found", NOT_FOUND)
    return found


def _layered(base: dict[str, Any], over: dict[str, Any] | None) -> dict[str, Any]:
    """``over`` laid over ``base`` (``configurable`` merged key by key)."""
    out = {**base, **(over or {})}
    inner = (base.get("configurable"), (over or {}).get("configurable"))
    if isinstance(inner[0], dict) and isinstance(inner[1], dict):
        out["configurable"] = {**inner[0], **inner[1]}
    return out


async def resolve_run(
    manager: GraphSessionManager,
    principal: Principal,
    thread_id: str | None,
    body: RunCreate,
    resolver: AssistantResolver | None = None,
    *,
    marks_at_begin: bool = False,
) -> ResolvedRun:
    """Find (or create) the caller's session for a run-create body and bind it to the
    assistant's graph. ``thread_id`` ``None`` is a stateless run: a new temporary thread.
    The thread's metadata gets the run's ``graph_id``/``assistant_id`` now, or, with
    ``marks_at_begin`` (a run its client waits for: nobody looks in between), in the
    transaction that begins the run, sparing a write."""
    assistant = await resolve_assistant(manager, body.assistant_id, resolver)
    graph_id, assistant_id = assistant.graph_id, assistant.assistant_id
    if assistant.config or assistant.context or assistant.metadata:
        body = body.model_copy(
            update={
                "config": _layered(assistant.config, body.config),
                "context": {**assistant.context, **(body.context or {})}
                if assistant.context or body.context is not None
                else None,
                "metadata": {**assistant.metadata, **(body.metadata or {})},
            }
        )
    marks = {"graph_id": graph_id, "assistant_id": assistant_id}
    made = {**(body.metadata or {}), **marks}  # a thread the run creates: LangGraph's metadata
    temporary = thread_id is None
    if thread_id is None:
        session = await manager.create(
            new_id(), owner=principal.owner, graph_id=graph_id, metadata=made
        )
    else:
        try:
            session = await load_session(manager, thread_id, principal)
        except (SessionNotFound, SessionExpired):
            if body.if_not_exists != "create":
                raise ApiError(404, "not_found", NOT_FOUND) from None
            try:
                session = await manager.create(
                    thread_id, owner=principal.owner, graph_id=graph_id, metadata=made
                )
            except SessionExists:  # another owner's (or made meanwhile): never revealed
                raise ApiError(404, "not_found", NOT_FOUND) from None
    if session.info.graph_id != graph_id:
        await session.rebind(graph_id)
    unmarked = any(session.metadata.get(k) != v for k, v in marks.items())
    if unmarked and not marks_at_begin:
        await session.update_metadata(marks)
    resolved = ResolvedRun(session, graph_id, assistant_id, body, temporary=temporary)
    if unmarked and marks_at_begin:
        resolved.marks = marks
    return resolved


__all__ = [
    "BUSY",
    "NOT_FOUND",
    "STREAM_MODES",
    "ResolvedRun",
    "RunCommand",
    "RunCreate",
    "AssistantRef",
    "AssistantResolver",
    "resolve_assistant",
    "resolve_run",
]
