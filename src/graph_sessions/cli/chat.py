"""``graph-sessions chat``: talk to a graph in the terminal, answer its interrupts, and come
back to the same session later."""

from __future__ import annotations

import asyncio
from typing import Any

from rich.console import Console

from graph_sessions.cli.common import short
from graph_sessions.core.manager import GraphSessionManager
from graph_sessions.core.session import GraphSession
from graph_sessions.models import InvokeResult, SessionStatus

HELP = "commands: /state (show the state)  /quit (keep the session and leave)  /help"
_REPLY_KEYS = ("response", "output", "answer", "reply")
_PROMPT_KEYS = ("message", "question", "prompt", "text")


def input_key_for(manager: GraphSessionManager, graph_id: str, requested: str | None) -> str:
    """Which state key the user's line goes to: ``requested``, else ``user_input`` or
    ``messages`` when the graph has it, else ``user_input``."""
    if requested:
        return requested
    channels = manager.graph_for(graph_id).channels
    for key in ("user_input", "messages", "input", "question"):
        if key in channels:
            return key
    return "user_input"


def make_input(key: str, text: str) -> dict[str, Any]:
    """The graph input for one line typed by the user."""
    if key == "messages":
        return {"messages": [{"role": "user", "content": text}]}
    return {key: text}


def reply_text(result: InvokeResult) -> str | None:
    """What to show as the graph's answer: the output key, a reply-like key, or the last
    message's content."""
    if result.output is not None:
        return result.output if isinstance(result.output, str) else short(result.output, 2000)
    state = result.state
    for key in _REPLY_KEYS:
        if state.get(key):
            value = state[key]
            return value if isinstance(value, str) else short(value, 2000)
    messages = state.get("messages")
    if isinstance(messages, list) and messages:
        last = messages[-1]
        content = last.get("content") if isinstance(last, dict) else getattr(last, "content", None)
        if content:
            return content if isinstance(content, str) else short(content, 2000)
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


async def chat_loop(
    manager: GraphSessionManager,
    session: GraphSession,
    graph_label: str,
    input_key: str | None,
    console: Console,
) -> None:
    """Read lines, run the graph, print replies and interrupt prompts until /quit or EOF."""
    key = input_key_for(manager, session.info.graph_id, input_key)
    console.print(
        f"[bold]session[/] {session.session_id} ([dim]{session.status}[/]) - {HELP}",
        highlight=False,
        soft_wrap=True,
    )
    pending = session.info.interrupts if session.status == SessionStatus.INTERRUPTED else []
    if session.status == SessionStatus.INTERRUPTED:
        console.print(f"[yellow]? {interrupt_prompt(pending)}[/]", highlight=False, soft_wrap=True)
    while True:
        try:
            line = await asyncio.to_thread(input, "answer> " if pending else "you> ")
        except EOFError:
            line = "/quit"
        text = line.strip()
        if not text:
            continue
        if text in ("/quit", "/exit", "/q"):
            console.print(
                f"session {session.session_id} kept; continue with: "
                f"graph-sessions chat {graph_label} --session {session.session_id}",
                highlight=False,
                soft_wrap=True,
            )
            return
        if text == "/help":
            console.print(HELP)
            continue
        if text == "/state":
            for k, v in (await session.get_state()).items():
                console.print(f"  [bold]{k}[/]: {short(v, 200)}", highlight=False, soft_wrap=True)
            continue
        if pending:
            result = await session.resume(text)
        else:
            result = await session.invoke(make_input(key, text))
        assert result is not None
        reply = reply_text(result)
        if reply:
            console.print(f"[green]graph>[/] {reply}", highlight=False, soft_wrap=True)
        pending = result.interrupts if result.status == "interrupted" else []
        if pending:
            console.print(
                f"[yellow]? {interrupt_prompt(pending)}[/]", highlight=False, soft_wrap=True
            )
        elif not reply:
            console.print("[dim](the run completed with no reply)[/]")
