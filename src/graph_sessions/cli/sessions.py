"""``graph-sessions sessions ...``: list, show, resume, suspend, delete and clean up sessions."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from graph_sessions.cli.common import (
    EXIT_NOT_FOUND,
    BackendOpt,
    ConfigOpt,
    JsonOpt,
    clean,
    command,
    console,
    fail,
    open_manager,
    parse_json_arg,
    print_json,
    safe,
    short,
    when,
)
from graph_sessions.core.session import GraphSession
from graph_sessions.errors import SessionNotFound
from graph_sessions.models import Event, EventType, InvokeResult, SessionStats, SessionStatus
from graph_sessions.vocabulary import DEFAULT_SORT, SORT_FIELDS

app = typer.Typer(
    help="List, inspect, resume, suspend, delete and clean up sessions.",
    no_args_is_help=True,
)

STATUS_STYLE = {
    "created": "cyan",
    "running": "bold blue",
    "interrupted": "yellow",
    "completed": "green",
    "failed": "bold red",
    "suspended": "magenta",
    "expired": "dim",
}


def status_text(status: SessionStatus | str) -> str:
    """A status coloured for the terminal."""
    value = str(status)
    return f"[{STATUS_STYLE.get(value, 'white')}]{safe(value)}[/]"


def parse_metadata(pairs: list[str] | None) -> dict[str, Any] | None:
    """``key=value`` pairs (values parsed as JSON when they are JSON) as a dict."""
    if not pairs:
        return None
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise fail(f"--metadata takes key=value, not {pair!r}")
        out[key] = parse_json_arg(raw, f"--metadata {key}")
    return out


async def find_session(manager: Any, session_id: str) -> GraphSession:
    """The session, or ``SessionNotFound`` when it does not exist."""
    session = await manager.get(session_id)
    if session is None:
        raise SessionNotFound(f"session {session_id!r} not found", session_id=session_id)
    return session


@app.command("list")
@command
async def list_sessions(
    status: Annotated[
        list[str] | None,
        typer.Option("--status", "-s", help="Only these statuses (repeatable)."),
    ] = None,
    graph_id: Annotated[str | None, typer.Option("--graph-id", help="Only this graph.")] = None,
    owner: Annotated[str | None, typer.Option(help="Only this owner's sessions.")] = None,
    task_id: Annotated[str | None, typer.Option("--task-id", help="Only this task id.")] = None,
    metadata: Annotated[
        list[str] | None,
        typer.Option("--metadata", "-m", help="key=value the metadata must contain (repeatable)."),
    ] = None,
    sort: Annotated[str, typer.Option(help=f"{', '.join(SORT_FIELDS)}.")] = DEFAULT_SORT,
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many.")] = 50,
    cursor: Annotated[str | None, typer.Option(help="Continue after a previous page.")] = None,
    include_expired: Annotated[
        bool, typer.Option("--include-expired", help="Also list expired, unswept sessions.")
    ] = False,
    as_json: JsonOpt = False,
    backend: BackendOpt = None,
    config: ConfigOpt = None,
) -> None:
    """List sessions, newest first."""
    async with open_manager(backend, config) as m:
        page = await m.list(
            status or None,
            sort=sort,  # type: ignore[arg-type]  # checked by the manager
            limit=limit,
            cursor=cursor,
            graph_id=graph_id,
            owner=owner,
            task_id=task_id,
            metadata=parse_metadata(metadata),
            include_expired=include_expired,
        )
    if as_json:
        print_json({"sessions": page.sessions, "next_cursor": page.next_cursor})
        return
    table = Table(title=f"{len(page.sessions)} session(s)", title_justify="left")
    for col in ("id", "status", "graph", "owner", "runs", "updated", "expires", "metadata"):
        table.add_column(col, overflow="fold", no_wrap=col in _NO_WRAP)
    for s in page.sessions:
        table.add_row(
            safe(s.session_id),
            status_text(s.status),
            safe(s.graph_id),
            safe(s.owner or "-"),
            str(s.run_count),
            when(s.updated_at),
            when(s.expires_at),
            safe(short(s.metadata, 40)) if s.metadata else "",
        )
    console.print(table)
    if page.next_cursor:
        console.print(f"more: --cursor {safe(page.next_cursor)}", highlight=False)


# Short columns stay on one line; long values (metadata, data) fold instead.
_NO_WRAP = {"status", "runs", "updated", "expires"}


@app.command("show")
@command
async def show(
    session_id: Annotated[str, typer.Argument(help="The session id.")],
    events: Annotated[int, typer.Option(help="How many recent events to show.")] = 10,
    as_json: JsonOpt = False,
    backend: BackendOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Show one session: metadata, status, state summary, pending interrupt, last events."""
    async with open_manager(backend, config) as m:
        s = await find_session(m, session_id)
        state = await s.get_state()
        recent = await s.events(limit=10_000)
        trace = _last_traceback(recent) if s.info.status == SessionStatus.FAILED else None
        recent = recent[-events:] if events > 0 else []
    info = s.info
    if as_json:
        print_json({"session": info, "state": state, "events": recent})
        return
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    grid.add_row("session", safe(info.session_id))
    grid.add_row("status", status_text(info.status))
    grid.add_row("graph", safe(info.graph_id))
    grid.add_row("owner", safe(info.owner or "-"))
    if info.task_id:
        grid.add_row("task", safe(info.task_id))
    grid.add_row("created", when(info.created_at))
    grid.add_row("updated", when(info.updated_at))
    grid.add_row("expires", when(info.expires_at))
    grid.add_row("runs", str(info.run_count))
    if info.metadata:
        grid.add_row("metadata", safe(short(info.metadata, 200)))
    if info.last_error:
        grid.add_row("last error", f"[red]{safe(info.last_error, newlines=True)}[/]")
    for intr in info.interrupts:
        grid.add_row("interrupt", f"[yellow]{safe(short(intr.get('value'), 200))}[/]")
    console.print(grid)
    if trace:
        console.print("[bold]traceback[/] (of the failed run)")
        console.print(Text(clean(trace.rstrip("\n"), newlines=True), style="red"), highlight=False)
    if state:
        table = Table(title="state", title_justify="left")
        table.add_column("key", style="bold")
        table.add_column("value", overflow="fold")
        for key, value in state.items():
            size = f" ({len(value)} items)" if isinstance(value, list | dict) else ""
            table.add_row(safe(key), safe(short(value, 100)) + size)
        console.print(table)
    if recent:
        table = Table(title="events", title_justify="left")
        for col in ("#", "at", "type", "run", "data"):
            table.add_column(col, overflow="fold", no_wrap=col != "data")
        for e in recent:
            table.add_row(
                str(e.id),
                when(e.at),
                safe(e.type),
                safe((e.run_id or "")[:8]),
                safe(short(e.data, 60)),
            )
        console.print(table)


def _last_traceback(events: list[Event]) -> str | None:
    """The traceback the last failed run kept in its ``run_failed`` event, if any."""
    for e in reversed(events):
        if e.type == EventType.RUN_FAILED:
            trace = e.data.get("traceback") if isinstance(e.data, dict) else None
            return trace if isinstance(trace, str) else None
    return None


def print_result(result: InvokeResult | None, as_json: bool) -> None:
    """Print a run's result (or that a suspension was lifted)."""
    if as_json:
        print_json(result.__dict__ if result is not None else {"status": "resumed"})
        return
    if result is None:
        console.print("suspension lifted")
        return
    console.print(f"status: {result.status}", highlight=False)
    if result.output is not None:
        console.print(f"output: {safe(short(result.output, 500))}", highlight=False)
    for intr in result.interrupts:
        console.print(f"[yellow]interrupt:[/] {safe(short(intr.get('value'), 500))}")


@app.command("resume")
@command
async def resume(
    session_id: Annotated[str, typer.Argument(help="The session id.")],
    input: Annotated[
        str | None,
        typer.Option(
            "--input",
            "-i",
            help="The answer to the pending interrupt, as JSON (a bare word is a string). "
            "Without it, a suspended session is un-suspended.",
        ),
    ] = None,
    graph: Annotated[
        str | None, typer.Option("--graph", "-g", help="Graph reference or config graph id.")
    ] = None,
    as_json: JsonOpt = False,
    backend: BackendOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Resume a session: answer its interrupt (--input), or lift its suspension."""
    value = parse_json_arg(input, "--input")
    async with open_manager(backend, config, graph=graph, session_id=session_id) as m:
        s = await find_session(m, session_id)
        result = await (s.resume(value) if input is not None else s.resume())
    print_result(result, as_json)


@app.command("suspend")
@command
async def suspend(
    session_id: Annotated[str, typer.Argument(help="The session id.")],
    reason: Annotated[str | None, typer.Option(help="Why (kept in the event log).")] = None,
    backend: BackendOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Suspend a session: invokes are refused until it is resumed."""
    async with open_manager(backend, config) as m:
        s = await find_session(m, session_id)
        info = await s.suspend(reason)
    console.print(f"{safe(info.session_id)}: {status_text(info.status)}")


@app.command("delete")
@command
async def delete(
    session_ids: Annotated[list[str], typer.Argument(help="One or more session ids.")],
    backend: BackendOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Delete sessions with everything they hold (checkpoints, runs, events, messages)."""
    missing = []
    async with open_manager(backend, config) as m:
        for sid in session_ids:
            if await m.delete(sid):
                console.print(f"deleted {safe(sid)}", highlight=False)
            else:
                missing.append(sid)
    if missing:
        raise fail(f"not found: {', '.join(missing)}", EXIT_NOT_FOUND)


@app.command("cleanup")
@command
async def cleanup(
    as_json: JsonOpt = False,
    backend: BackendOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Expire every session whose TTL has passed, now (delete or archive, per the config)."""
    async with open_manager(backend, config) as m:
        total = (await m.stats()).expired
        with Progress(
            TextColumn("sweeping"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            console=console,
            transient=True,
            disable=as_json or total == 0,
        ) as progress:
            task = progress.add_task("sweep", total=total)
            report = await m.sweep(
                on_batch=lambda r: progress.update(task, completed=r.expired + r.skipped_running)
            )
    if as_json:
        print_json(report.__dict__ | {"expired": report.expired})
        return
    console.print(
        f"expired {report.expired} session(s): {report.deleted} deleted, "
        f"{report.archived} archived, {report.skipped_running} skipped (running)",
        highlight=False,
    )


def print_stats(stats: SessionStats, as_json: bool) -> None:
    """Print registry totals."""
    if as_json:
        print_json(stats)
        return
    table = Table(
        title=f"{stats.total} session(s), {stats.runs_total} run(s)", title_justify="left"
    )
    table.add_column("status")
    table.add_column("sessions", justify="right")
    for status, n in sorted(stats.by_status.items()):
        table.add_row(status_text(status), str(n))
    table.add_row("[dim]expired, not yet swept[/]", str(stats.expired))
    console.print(table)


@app.command("stats")
@command
async def stats_command(
    as_json: JsonOpt = False, backend: BackendOpt = None, config: ConfigOpt = None
) -> None:
    """Totals: sessions by status, expired, runs."""
    async with open_manager(backend, config) as m:
        stats = await m.stats()
    print_stats(stats, as_json)
