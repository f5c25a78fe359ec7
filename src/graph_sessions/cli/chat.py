"""``graph-sessions chat``: talk to a graph in the terminal, answer its interrupts, and come
back to the same session later.

The prompt runs in the main thread with ``readline`` (line editing, history, and Ctrl-C that
acts at once); each turn runs on one persistent event loop (``asyncio.Runner``) with a
spinner naming the node at work. Ctrl-C during a turn cancels the run and returns to the
prompt; Ctrl-C (or Ctrl-D, or ``/quit``) at the prompt leaves, keeping the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from langgraph.types import Command
from rich.console import Console

from graph_sessions.cli.common import safe, short
from graph_sessions.core.manager import GraphSessionManager
from graph_sessions.core.session import GraphSession
from graph_sessions.errors import BackendError, GraphSessionError, InvalidInput, RunCancelled
from graph_sessions.models import InvokeResult, SessionStatus

with contextlib.suppress(ImportError):  # line editing and history for input() (not on Windows)
    import readline  # noqa: F401

T = TypeVar("T")

HELP = (
    "commands: /state (the state; /state all: with internal keys)  "
    "/quit (keep the session and leave)  /help"
)
_REPLY_KEYS = ("response", "output", "answer", "reply")
_PROMPT_KEYS = ("message", "question", "prompt", "text")


def input_key_for(manager: GraphSessionManager, graph_id: str, requested: str | None) -> str:
    """Which state key the user's line goes to: ``requested``, else the first of
    ``user_input``, ``messages``, ``input``, ``question`` the graph takes. A key the graph
    does not take is refused (LangGraph would drop the line without a word)."""
    keys = _input_keys(manager.graph_for(graph_id))
    if requested:
        if requested in keys or not keys:
            return requested
        raise InvalidInput(
            f"graph {graph_id!r} has no input key {requested!r}: "
            f"--input-key takes one of {', '.join(keys)}"
        )
    for key in ("user_input", "messages", "input", "question"):
        if key in keys:
            return key
    raise InvalidInput(
        f"graph {graph_id!r} takes none of user_input, messages, input, question: say which "
        f"key your line goes to with --input-key (one of {', '.join(keys)})"
    )


def _input_keys(graph: Any) -> list[str]:
    """The keys of the graph's input (its input schema's properties; else its channels
    that are not LangGraph's own). Empty when it takes no object (a root value)."""
    try:
        schema = graph.get_input_jsonschema()
    except Exception:  # a type pydantic cannot describe: fall back to the channels
        schema = None
    if isinstance(schema, dict) and isinstance(schema.get("properties"), dict):
        return list(schema["properties"])
    return [c for c in graph.channels if not c.startswith("__") and ":" not in c]


def make_input(key: str, text: str) -> dict[str, Any]:
    """The graph input for one line typed by the user."""
    if key == "messages":
        return {"messages": [{"role": "user", "content": text}]}
    return {key: text}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else short(value, 2000)


def reply_text(
    result: InvokeResult, before: dict[str, Any] | None = None, output_key: str | None = None
) -> str | None:
    """What to show as the graph's answer to this turn: the output key, a reply-like key, or
    the last message's content, but only when this run changed it (``before`` is the state
    before the run): a turn that stops at an interrupt has not answered yet."""
    state = result.state
    before = before or {}
    if result.output is not None:
        if output_key is None or state.get(output_key) != before.get(output_key):
            return _text(result.output)
        return None
    for key in _REPLY_KEYS:
        if state.get(key):
            return _text(state[key]) if state[key] != before.get(key) else None
    messages = state.get("messages")
    if isinstance(messages, list) and len(messages) > len(before.get("messages") or []):
        last = messages[-1]
        content = last.get("content") if isinstance(last, dict) else getattr(last, "content", None)
        if content:
            return _text(content)
    return None


def interrupt_prompt(interrupts: list[dict[str, Any]]) -> str:
    """The question an interrupt asks, as one line."""
    if not interrupts:
        return "the graph is waiting for an answer"
    value = interrupts[0].get("value")
    if isinstance(value, dict):
        for key in _PROMPT_KEYS:
            if isinstance(value.get(key), str):
                return str(value[key])
    return value if isinstance(value, str) else short(value, 500)


def node_of(chunk: Any) -> str | None:
    """The node a ``debug`` stream chunk says starts now, if it says so."""
    if isinstance(chunk, dict) and chunk.get("type") == "task":
        payload = chunk.get("payload")
        if isinstance(payload, dict) and isinstance(payload.get("name"), str):
            return str(payload["name"])
    return None


class ChatCancelled(Exception):
    """The user pressed Ctrl-C while a turn ran; the run was cancelled."""


def continue_command(
    graph_label: str, session_id: str, backend: str | None, config: str | None
) -> str:
    """The command line that reopens this session with the same graph and database."""
    parts = ["graph-sessions", "chat", graph_label, "--session", session_id]
    if backend:
        parts += ["--backend", backend]
    if config:
        parts += ["--config", config]
    return " ".join(shlex.quote(p) for p in parts)


class Chat:
    """One chat: a session, the console, and the event loop its turns run on."""

    def __init__(
        self,
        manager: GraphSessionManager,
        session: GraphSession,
        console: Console,
        run: Callable[[Coroutine[Any, Any, Any]], Any],
        *,
        input_key: str | None = None,
    ) -> None:
        self.manager = manager
        self.session = session
        self.console = console
        self.run = run
        # A session waiting at an interrupt is answered, not sent input: a graph whose
        # input key cannot be told is refused only when a line would go in as input.
        self.key: str | None = None
        self.key_error: InvalidInput | None = None
        try:
            self.key = input_key_for(manager, session.info.graph_id, input_key)
        except InvalidInput as exc:
            if session.info.status != SessionStatus.INTERRUPTED:
                raise
            self.key_error = exc

    def say(self, text: str, style: str | None = None) -> None:
        """Print a line; ``text`` is already safe (escaped) markup."""
        body = f"[{style}]{text}[/]" if style else text
        self.console.print(body, highlight=False, soft_wrap=True)

    def opening(self) -> list[dict[str, Any]]:
        """Print the session line (and why it failed, or what it asks); the pending
        interrupts."""
        info = self.session.info
        self.say(f"[bold]session[/] {safe(info.session_id)} ([dim]{info.status}[/]) - {HELP}")
        if info.status == SessionStatus.FAILED:
            why = info.last_error or "the last run did not finish"
            self.say(f"last run failed: {safe(why, newlines=True)}", "red")
        if info.status == SessionStatus.INTERRUPTED:
            self.say(f"? {safe(interrupt_prompt(info.interrupts))}", "yellow")
            return list(info.interrupts)
        return []

    async def show_state(self, everything: bool) -> None:
        """Print the state; keys starting with ``_`` (internal) only with ``everything``."""
        for k, v in (await self.session.get_state()).items():
            if everything or not str(k).startswith("_"):
                self.say(f"  [bold]{safe(k)}[/]: {safe(short(v, 200))}")

    async def turn(self, text: str, pending: bool) -> InvokeResult:
        """Run one turn with a spinner naming the running node; Ctrl-C cancels the run."""
        if not pending and self.key is None:
            assert self.key_error is not None
            raise self.key_error
        before = await self.session.get_state()
        payload: Any = Command(resume=text) if pending else make_input(self.key or "", text)
        stream = self.session.stream(payload, mode="debug", on_disconnect="cancel")
        try:
            with self.console.status("[dim]running…[/]", spinner="dots") as status:
                async for chunk in stream:
                    node = node_of(chunk)
                    if node is not None:
                        status.update(f"[dim]running[/] {safe(node)}[dim]…[/]")
                result = await stream.result()
        except asyncio.CancelledError:
            stream.cancel()
            with contextlib.suppress(BaseException):
                await stream.result()
            raise ChatCancelled from None
        self._before = before
        return result

    def show_result(self, result: InvokeResult) -> list[dict[str, Any]]:
        """Print this turn's reply and the next question; the pending interrupts."""
        reply = reply_text(result, getattr(self, "_before", None), self.manager.output_key)
        if reply:
            self.say(f"[green]graph>[/] {safe(reply)}")
        pending = result.interrupts if result.status == "interrupted" else []
        if pending:
            self.say(f"? {safe(interrupt_prompt(pending))}", "yellow")
        elif not reply:
            self.say("(the run completed with no reply)", "dim")
        return list(pending)

    def loop(self, hint: str) -> int:
        """Read lines until /quit, Ctrl-D or Ctrl-C at the prompt; the exit code."""
        pending = self.opening()
        while True:
            try:
                line = input("answer> " if pending else "you> ")
            except EOFError:
                line = "/quit"
            except KeyboardInterrupt:
                self.console.print()
                self.say(
                    f"session {safe(self.session.session_id)} kept; continue with: {safe(hint)}"
                )
                return 130
            text = line.strip()
            if not text:
                continue
            if text in ("/quit", "/exit", "/q"):
                self.say(
                    f"session {safe(self.session.session_id)} kept; continue with: {safe(hint)}"
                )
                return 0
            if text == "/help":
                self.say(safe(HELP))
                continue
            if text in ("/state", "/state all"):
                self.run(self.show_state(text == "/state all"))
                continue
            try:
                result = self.run(self.turn(text, bool(pending)))
            except ChatCancelled:
                self.say("cancelled: the run was stopped (Ctrl-C)", "red")
                pending = self.run(self._pending())
                continue
            except RunCancelled as exc:
                self.say(f"cancelled: {safe(exc.message)}", "red")
                pending = self.run(self._pending())
                continue
            except BackendError:  # the storage itself fails: nothing more can be saved
                raise
            except GraphSessionError as exc:  # the run failed: say why and keep chatting
                self.say(f"error: {safe(exc.message, newlines=True)}", "red")
                pending = self.run(self._pending())
                continue
            pending = self.show_result(result)

    async def _pending(self) -> list[dict[str, Any]]:
        info = await self.session.refresh()
        return list(info.interrupts) if info.status == SessionStatus.INTERRUPTED else []


def run_chat(
    open_session: Callable[[], Any],
    close: Callable[[], Coroutine[Any, Any, Any]],
    console: Console,
    *,
    input_key: str | None,
    hint: Callable[[GraphSession], str],
) -> int:
    """Open the session on a persistent event loop, chat in the main thread, close; the
    exit code. ``open_session`` is a coroutine function returning ``(manager, session)``."""
    with asyncio.Runner() as runner:
        manager, session = runner.run(open_session())
        try:
            chat = Chat(manager, session, console, runner.run, input_key=input_key)
            return chat.loop(hint(session))
        finally:
            runner.run(close())
