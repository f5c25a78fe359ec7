"""What every command shares: the --backend/--config options, opening a manager, printing,
and turning errors into one clear line and a documented exit code."""

from __future__ import annotations

import asyncio
import functools
import os
import sqlite3
import sys
import unicodedata
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, TypeVar

import orjson
import typer
from rich.console import Console
from rich.markup import escape as escape_markup
from typer.core import TyperArgument, TyperOption

from graph_sessions.config import ProjectConfig, load_config
from graph_sessions.core.manager import GraphSessionManager
from graph_sessions.errors import (
    BackendError,
    CheckpointNotFound,
    ConfigError,
    GraphLoadError,
    GraphSessionError,
    InvalidInput,
    InvalidTransition,
    SessionBusy,
    SessionExists,
    SessionExpired,
    SessionNotFound,
    SessionSuspended,
)
from graph_sessions.jsonable import dumps
from graph_sessions.storage.urls import DEFAULT_BACKEND_URL, describe_backend, sqlite_path_of

T = TypeVar("T")

# Exit codes (documented in docs/cli.md).
EXIT_OK = 0
EXIT_FAILED = 1  # the operation failed: a run raised, storage failed
EXIT_USAGE = 2  # bad arguments, bad input, bad configuration or graph
EXIT_NOT_FOUND = 3  # no such session or checkpoint
EXIT_CONFLICT = 4  # busy, suspended, or not in a state that allows it
EXIT_INVALID = 5  # `validate` found problems

# Piped output (grep, less, files) is not cut to 80 columns; COLUMNS still wins.
console = Console(width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else 160)
err_console = Console(stderr=True, soft_wrap=True)


def _display_type(self: TyperOption | TyperArgument, ctx: Any) -> str | None:
    """Help shows a flag bare (not ``--json <bool>``), and a value as its metavar or a word
    (``TEXT``, ``INTEGER``) instead of a Python type (``<str>``, ``<list[str]>``)."""
    if isinstance(self, TyperOption) and self.is_flag:
        return None
    if self.metavar is not None:
        return self.metavar
    bare = self.bare_type()
    inner = bare[5:-1] if bare.startswith("list[") else bare
    return _TYPE_WORDS.get(inner, inner.upper())


_TYPE_WORDS = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "Path": "PATH", "bool": ""}
TyperOption.display_type_rich = _display_type  # type: ignore[method-assign]
TyperArgument.display_type_rich = _display_type  # type: ignore[method-assign,assignment]

BackendOpt = Annotated[
    str | None,
    typer.Option(
        "--backend",
        "-b",
        metavar="URL",
        help="Storage URL: sqlite:///sessions.db (default), a .db path, memory://, "
        "postgresql://user:pw@host/db, redis://host:6379/0. "
        "Overrides the config file and GRAPH_SESSIONS_BACKEND.",
        show_default=False,
    ),
]
ConfigOpt = Annotated[
    str | None,
    typer.Option(
        "--config",
        "-c",
        metavar="FILE",
        help="Project configuration file (default: $GRAPH_SESSIONS_CONFIG or ./langgraph.json).",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def exit_code_for(exc: BaseException) -> int:
    """The documented exit code of an error."""
    if isinstance(exc, SessionNotFound | CheckpointNotFound | SessionExpired):
        return EXIT_NOT_FOUND
    if isinstance(exc, SessionBusy | SessionSuspended | InvalidTransition | SessionExists):
        return EXIT_CONFLICT
    if isinstance(exc, InvalidInput | ConfigError | GraphLoadError):
        return EXIT_USAGE
    return EXIT_FAILED


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    """Print ``error: message`` on stderr and return the exit to raise."""
    err_console.print(
        f"[bold red]error:[/] {safe(message, newlines=True)}", highlight=False, markup=True
    )
    return typer.Exit(code)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; typed errors become one line on stderr and an exit code."""
    try:
        return asyncio.run(coro)
    except GraphSessionError as exc:
        raise fail(exc.message, exit_code_for(exc)) from None
    except sqlite3.OperationalError as exc:  # storage trouble the backend did not type
        raise fail(f"storage error: {exc}", EXIT_FAILED) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def command(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Make an async command function a Typer command (same signature, run to completion)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        run(fn(*args, **kwargs))

    return wrapper


def safe(value: Any, *, newlines: bool = False) -> str:
    """A user-supplied value made harmless for the terminal: control and format characters
    (ESC, BEL, bidi overrides...) shown as ``\\x1b``-style escapes, Rich markup escaped."""
    return escape_markup(clean(value, newlines=newlines))


def clean(value: Any, *, newlines: bool = False) -> str:
    """``str(value)`` with control and format characters (Unicode categories Cc, Cf, Cs, Co)
    escaped; ``newlines`` keeps line breaks (multi-line error messages)."""
    text = str(value)
    return "".join(
        ch.encode("unicode_escape").decode("ascii")
        if unicodedata.category(ch) in _UNSAFE and not (newlines and ch == "\n")
        else ch
        for ch in text
    )


_UNSAFE = {"Cc", "Cf", "Cs", "Co"}


def print_header(cfg: ProjectConfig, url: str) -> None:
    """One stderr line naming the database a command opened, then the config's notes."""
    err_console.print(f"[dim]database: {safe(describe_backend(url))}[/]", highlight=False)
    print_notes(cfg)


def print_notes(cfg: ProjectConfig) -> None:
    """The configuration file's notes (ignored LangGraph keys, unsupported features)."""
    where = cfg.path.name if cfg.path else "config"
    for note in cfg.notes:
        err_console.print(f"[yellow]note:[/] {safe(where)}: {safe(note)}", highlight=False)


def read_config(config: str | None) -> ProjectConfig:
    """Load the configuration file (or defaults); errors become one line."""
    try:
        return load_config(config)
    except GraphSessionError as exc:
        raise fail(exc.message, exit_code_for(exc)) from None


@asynccontextmanager
async def open_manager(
    backend: str | None,
    config: str | None,
    *,
    graph: str | None = None,
    need_graph: bool = False,
    session_id: str | None = None,
    must_exist: bool = True,
) -> AsyncIterator[GraphSessionManager]:
    """An open manager for a one-shot command: the config file's settings, ``--backend`` and a
    graph (a reference, or an id of the config's graphs) on top; no background sweeper.

    Prints which database was opened (and the config's notes) on stderr. ``must_exist``:
    a SQLite file that does not exist is "not found" (exit 3) instead of being created.

    A graph reference given for an existing ``session_id`` serves that session's graph id."""
    cfg = read_config(config)
    url = backend or cfg.manager.get("backend") or DEFAULT_BACKEND_URL
    try:
        path = sqlite_path_of(url)
    except BackendError as exc:
        raise fail(exc.message) from None
    if must_exist and path is not None and not os.path.exists(path):
        raise fail(
            f"database {describe_backend(url)} does not exist (pass --backend or "
            "--config, or run from the folder that holds it)",
            EXIT_NOT_FOUND,
        )
    print_header(cfg, url)
    overrides: dict[str, Any] = {"backend": backend}
    if graph is not None:
        if graph in cfg.graphs:
            overrides["graph_id"] = graph
        else:
            cfg.graphs = {}
            graph_id = await _graph_id_of(cfg.manager_kwargs(backend=backend), session_id)
            overrides["graph"] = {graph_id: graph}
    kwargs = cfg.manager_kwargs(**overrides)
    if need_graph and kwargs.get("graph") is None:
        raise fail("this command needs a graph: pass GRAPH, or a config file with 'graphs'")
    kwargs["sweep_interval"] = None
    try:
        manager = GraphSessionManager(**kwargs)
    except BackendError as exc:  # a bad URL, found before anything is opened
        raise fail(exc.message) from None
    async with manager:
        yield manager


async def _graph_id_of(kwargs: dict[str, Any], session_id: str | None) -> str:
    """The graph id an existing session was created with ("default" otherwise)."""
    if session_id is None:
        return "default"
    kwargs = {k: v for k, v in kwargs.items() if k in ("backend",)}
    try:
        async with GraphSessionManager(**kwargs, sweep_interval=None) as m:
            info = await m.backend.get_session(session_id)
    except BackendError as exc:
        raise fail(exc.message) from None
    return info.graph_id if info is not None else "default"


def print_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout."""
    sys.stdout.write(dumps(value, indent=True).decode() + "\n")
    sys.stdout.flush()


def parse_json_arg(text: str | None, what: str) -> Any:
    """Parse a JSON command-line argument; a bare word that is not JSON is taken as a string."""
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        if text.strip() and text.strip()[0] in '{["':
            raise fail(f"{what} is not valid JSON: {text!r}") from None
        return text


def when(value: datetime | None) -> str:
    """A short local-free timestamp for tables."""
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def short(value: Any, width: int = 60) -> str:
    """One line, at most ``width`` characters, of any value."""
    text = value if isinstance(value, str) else dumps(value).decode()
    text = clean(" ".join(text.split()))
    return text if len(text) <= width else text[: width - 1] + "…"
