"""``graph-sessions export``, ``import`` and ``backup``: move sessions between backends and
copy a SQLite file while it is served. The work is the core's (``core/transfer/``); this
module parses options, shows a progress bar on stderr when it is a terminal, and prints
what was done."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TimeRemainingColumn,
)

from graph_sessions.cli.common import (
    EXIT_CONFLICT,
    BackendOpt,
    ConfigOpt,
    JsonOpt,
    command,
    console,
    err_console,
    exit_code_for,
    fail,
    open_manager,
    print_json,
    read_config,
    safe,
)
from graph_sessions.cli.sessions import parse_metadata
from graph_sessions.core.transfer import (
    ExportFilters,
    count_sessions,
    export_backend,
    import_lines,
)
from graph_sessions.core.transfer.backup import backup_sqlite
from graph_sessions.errors import GraphSessionError
from graph_sessions.models import SessionStatus
from graph_sessions.storage.urls import DEFAULT_BACKEND_URL, describe_backend


@contextmanager
def _progress(total: int | None, what: str) -> Iterator[Any]:
    """A callback moving a progress bar on stderr (a no-op when stderr is not a terminal)."""
    if not sys.stderr.isatty():
        yield lambda done: None
        return
    columns: list[Any] = [BarColumn(), TaskProgressColumn(), TimeRemainingColumn()]
    if what == "sessions":
        columns.insert(1, MofNCompleteColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task(what, total=total)
        yield lambda done: bar.update(task, completed=done)


def _statuses(values: list[str] | None) -> list[SessionStatus] | None:
    if not values:
        return None
    known = [str(s) for s in SessionStatus]
    for v in values:
        if v not in known:
            raise fail(f"--status {v!r} is not one of {', '.join(known)}")
    return [SessionStatus(v) for v in values]


def _time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise fail(f"{option} takes an ISO-8601 time (2026-01-31T12:00:00+00:00)") from None
    return moment if moment.tzinfo else moment.astimezone()


@command
async def export_command(
    status: Annotated[
        list[str] | None,
        typer.Option("--status", "-s", help="Only sessions of these statuses (repeatable)."),
    ] = None,
    owner: Annotated[str | None, typer.Option(help="Only this owner's sessions.")] = None,
    graph_id: Annotated[str | None, typer.Option("--graph-id", help="Only this graph.")] = None,
    metadata: Annotated[
        list[str] | None,
        typer.Option("--metadata", "-m", help="key=value the metadata must contain (repeatable)."),
    ] = None,
    created_after: Annotated[
        str | None, typer.Option(help="Only sessions created at or after this ISO time.")
    ] = None,
    created_before: Annotated[
        str | None, typer.Option(help="Only sessions created before this ISO time.")
    ] = None,
    sessions_only: Annotated[
        bool,
        typer.Option("--sessions-only", help="Leave out assistants, crons and store items."),
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to this file instead of stdout."),
    ] = None,
    backend: BackendOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Write sessions (registry row, runs, events, messages, every checkpoint), assistants,
    crons and store items as JSON lines on stdout (docs/export.md)."""
    filters = ExportFilters(
        status=_statuses(status),
        owner=owner,
        graph_id=graph_id,
        metadata=parse_metadata(metadata),
        created_after=_time(created_after, "--created-after"),
        created_before=_time(created_before, "--created-before"),
    )
    url = backend or read_config(config).manager.get("backend") or DEFAULT_BACKEND_URL
    async with open_manager(backend, config) as m:
        total = await count_sessions(m.backend, filters)
        out: IO[bytes] = output.open("wb") if output is not None else sys.stdout.buffer
        start = time.perf_counter()
        try:
            with _progress(total, "sessions") as progress:
                report = await export_backend(
                    m.backend,
                    out.write,
                    source=describe_backend(url),
                    filters=filters,
                    sessions_only=sessions_only,
                    progress=progress,
                )
        finally:
            if output is not None:
                out.close()
            else:
                out.flush()
    took = time.perf_counter() - start
    rate = report.sessions / took if took > 0 else 0.0
    err_console.print(
        f"exported {report.sessions} session(s) ({report.checkpoints} checkpoints), "
        f"{report.assistants} assistant(s), {report.crons} cron(s), "
        f"{report.store_items} store item(s) in {took:.1f} s ({rate:.0f} sessions/s)",
        highlight=False,
    )


@command
async def import_command(
    file: Annotated[str, typer.Argument(help="The export file ('-' reads stdin).")],
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Overwrite what the target holds with different content (default: refuse "
            "it, report it, go on).",
        ),
    ] = False,
    as_json: JsonOpt = False,
    backend: BackendOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Read an export file into the backend: new sessions are written with their whole
    history, identical ones skipped, different ones refused unless --replace."""
    if file == "-":
        stream: IO[bytes] = sys.stdin.buffer
        size = None
    else:
        try:
            stream = open(file, "rb")  # noqa: SIM115  # closed below
        except OSError as exc:
            raise fail(f"cannot read {file!r}: {exc.strerror}", 3) from None
        size = Path(file).stat().st_size
    start = time.perf_counter()
    try:
        async with open_manager(backend, config, must_exist=False) as m:
            with _progress(size, "bytes") as progress:
                report = await import_lines(m.backend, stream, replace=replace, progress=progress)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    took = time.perf_counter() - start
    if as_json:
        print_json({**report.__dict__, "seconds": round(took, 3)})
    else:
        done = report.imported.get("session", 0) + report.replaced.get("session", 0)
        console.print(
            f"sessions: {report.imported.get('session', 0)} imported, "
            f"{report.replaced.get('session', 0)} replaced, "
            f"{report.skipped.get('session', 0)} already there; "
            f"other lines: {_others(report.imported)} imported, "
            f"{_others(report.replaced)} replaced, {_others(report.skipped)} already there; "
            f"{len(report.conflicts)} conflict(s) refused; "
            f"{took:.1f} s ({done / took if took > 0 else 0:.0f} sessions/s)",
            highlight=False,
        )
    for conflict in report.conflicts:
        err_console.print(f"[yellow]refused:[/] {safe(conflict)}", highlight=False)
    if report.conflicts:
        raise typer.Exit(EXIT_CONFLICT)


def _others(counts: dict[str, int]) -> int:
    return sum(n for kind, n in counts.items() if kind != "session")


def backup_command(
    target: Annotated[Path, typer.Argument(help="The copy to write (a new file).")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite TARGET if it exists.")] = False,
    as_json: JsonOpt = False,
    backend: BackendOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Copy a SQLite backend's file consistently, even while a server writes to it
    (SQLite's online backup API); the copy is checked before it is put in place."""
    url = backend or read_config(config).manager.get("backend") or DEFAULT_BACKEND_URL
    try:
        report = backup_sqlite(url, target, overwrite=force)
    except GraphSessionError as exc:
        raise fail(exc.message, exit_code_for(exc)) from None
    if as_json:
        print_json(report.__dict__)
        return
    console.print(
        f"backed up {safe(report.source)} -> {safe(report.target)}: {report.sessions} "
        f"session(s), {report.bytes} bytes, integrity ok, {report.seconds:.2f} s",
        highlight=False,
    )
