"""``graph-sessions``: serve sessions, chat with a graph, and operate a session database.

Every command reads the project configuration (``--config``, ``$GRAPH_SESSIONS_CONFIG`` or
``./langgraph.json``); every command that opens the database takes ``--backend URL``; with
neither, it works on ``./sessions.db`` (next to the config file when there is one). Exit
codes: 0 ok, 1 failed, 2 bad usage/input/config, 3 not found (session, checkpoint or
database file), 4 conflict (busy, suspended, wrong status), 5 ``validate`` found problems,
6 ``serve`` cannot listen (address in use), 130 interrupted.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from graph_sessions import __version__
from graph_sessions.cli import rekey as rekey_cmd
from graph_sessions.cli import sessions as sessions_cmd
from graph_sessions.cli import transfer
from graph_sessions.cli.chat import continue_command, run_chat
from graph_sessions.cli.common import (
    EXIT_INVALID,
    BackendOpt,
    ConfigOpt,
    JsonOpt,
    clean,
    command,
    console,
    err_console,
    exit_code_for,
    fail,
    open_manager,
    print_header,
    print_json,
    read_config,
    safe,
    short,
    when,
)
from graph_sessions.core.manager import GraphSessionManager
from graph_sessions.errors import GraphLoadError, GraphSessionError

app = typer.Typer(
    name="graph-sessions",
    help="Durable, multi-user sessions for LangGraph graphs: serve them over HTTP, chat with "
    "a graph in the terminal, and list, inspect, resume, suspend and clean up sessions.\n\n"
    "Configuration: --config FILE, $GRAPH_SESSIONS_CONFIG or ./langgraph.json; storage: "
    "--backend URL (default sqlite:///sessions.db).\n\n"
    "Exit codes: 0 ok · 1 failed · 2 bad usage, input or config · 3 not found (session, "
    "checkpoint, database file) · 4 conflict (busy, suspended, wrong status) · 5 validate "
    "found problems · 6 serve cannot listen (address in use) · 130 interrupted.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
app.add_typer(sessions_cmd.app, name="sessions")
app.command("rekey")(rekey_cmd.rekey_command)
app.command("export")(transfer.export_command)
app.command("import")(transfer.import_command)
app.command("backup")(transfer.backup_command)


def _version(value: bool) -> None:
    if value:
        console.print(f"graph-sessions {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """graph-sessions command line."""


GraphArg = Annotated[
    str | None,
    typer.Argument(
        help="A graph: file.py:attr, package.module:attr, a .yaml file, or a graph id of the "
        "config file (default: the config's graphs).",
        show_default=False,
    ),
]


@app.command()
def serve(
    graph: GraphArg = None,
    host: Annotated[str | None, typer.Option(help="Interface to bind (127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (8123).")] = None,
    output_key: Annotated[
        str | None,
        typer.Option(
            "--output-key",
            metavar="KEY",
            help='State key returned as a run\'s "output" (config: graph_sessions.output_key, '
            "env: GRAPH_SESSIONS_OUTPUT_KEY).",
        ),
    ] = None,
    backend: BackendOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Serve sessions over REST + SSE (FastAPI on uvicorn)."""
    from graph_sessions.server.bind import EXIT_CANNOT_LISTEN
    from graph_sessions.server.bootstrap import plan_server, run_plan

    try:
        plan = plan_server(
            graph,
            config=config,
            host=host,
            port=port,
            backend=backend,
            output_key=output_key,
            on_config=print_header,
        )
        why = run_plan(plan)
    except GraphSessionError as exc:
        raise fail(exc.message) from None
    if why is not None:
        raise fail(why, EXIT_CANNOT_LISTEN)


@app.command()
def ui(
    graph: GraphArg = None,
    host: Annotated[str | None, typer.Option(help="Interface to bind (127.0.0.1).")] = None,
    port: Annotated[
        int | None, typer.Option(help="Port (8123; a free one when 8123 is taken).")
    ] = None,
    open_browser: Annotated[
        bool, typer.Option("--open/--no-open", help="Open the inspector in a browser.")
    ] = True,
    backend: BackendOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Serve the sessions with the web inspector at /ui and open it in a browser (the same
    server as `serve`; see docs/ui.md)."""
    from graph_sessions.cli.ui import free_port, inspector_url, open_when_ready
    from graph_sessions.server.bind import EXIT_CANNOT_LISTEN, cannot_listen
    from graph_sessions.server.bootstrap import plan_server, run_plan

    try:
        plan = plan_server(
            graph, config=config, host=host, port=port, backend=backend, on_config=print_header
        )
        settings = plan.settings
        if not settings.ui:
            raise fail("the inspector is turned off (setting ui: false)")
        if port is None and cannot_listen(settings.host, settings.port) is not None:
            settings.port = free_port(settings.host)
        url = inspector_url(settings.host, settings.port)
        console.print(f"inspector: {url}")
        if open_browser:
            open_when_ready(url)
        why = run_plan(plan)
    except GraphSessionError as exc:
        raise fail(exc.message.replace("serve needs", "ui needs", 1)) from None
    if why is not None:
        raise fail(why, EXIT_CANNOT_LISTEN)


@app.command("mcp")
def mcp_command(
    graph: GraphArg = None,
    backend: BackendOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Serve the graphs and sessions as an MCP server over stdio (for desktop assistants;
    needs the mcp extra). See docs/mcp.md."""
    from graph_sessions.server.bootstrap import plan_server

    try:
        from graph_sessions.mcp.stdio import run_stdio
    except ImportError as exc:
        raise fail(f"MCP needs the mcp extra: pip install 'graph-sessions[mcp]' ({exc})") from None
    try:
        plan = plan_server(graph, config=config, backend=backend, on_config=print_header)
        run_stdio(GraphSessionManager(**plan.manager_kwargs))
    except GraphSessionError as exc:
        raise fail(exc.message.replace("serve needs", "mcp needs", 1)) from None


@app.command()
def chat(
    graph: GraphArg = None,
    session: Annotated[
        str | None,
        typer.Option("--session", "-s", help="Continue this session (created if new)."),
    ] = None,
    input_key: Annotated[
        str | None,
        typer.Option(
            "--input-key",
            help="State key your lines go to (default: user_input or messages, by the graph).",
        ),
    ] = None,
    backend: BackendOpt = None,
    config: ConfigOpt = None,
    rebind: Annotated[
        bool,
        typer.Option(
            "--rebind",
            help="Run the session under this graph although it belongs to another one.",
        ),
    ] = False,
) -> None:
    """Talk to a graph in the terminal: replies print, interrupts ask, /quit keeps the session.

    A spinner names the node at work; Ctrl-C cancels a running turn, and at the prompt
    leaves (the session is kept)."""
    opened = open_manager(
        backend, config, graph=graph, need_graph=True, session_id=session, must_exist=False
    )

    async def open_session() -> tuple[GraphSessionManager, Any]:
        m = await opened.__aenter__()
        try:
            s = await m.get_or_create(session)
            if rebind:
                await s.rebind()
            else:
                s.check_graph()
            return m, s
        except BaseException:
            await opened.__aexit__(None, None, None)
            raise

    async def close() -> None:
        await opened.__aexit__(None, None, None)

    try:
        code = run_chat(
            open_session,
            close,
            console,
            input_key=input_key,
            hint=lambda s: continue_command(
                graph or s.info.graph_id, s.session_id, backend, config
            ),
        )
    except GraphSessionError as exc:
        raise fail(exc.message, exit_code_for(exc)) from None
    if code:
        raise typer.Exit(code)


@app.command()
def keygen(
    key_id: Annotated[
        str | None,
        typer.Option("--id", help="The key's id (default: derived from the key)."),
    ] = None,
) -> None:
    """Print a new encryption key (AES-256) for GRAPH_SESSIONS_ENCRYPTION_KEY.

    To rotate, put the new key first and keep the old ones after it, comma-separated:
    "new-id:...,old-id:..." (the newest encrypts, every key decrypts)."""
    from graph_sessions.crypto import generate_key, parse_keys

    key = generate_key(key_id)
    try:
        parse_keys(key)  # the id is one a setting accepts
    except GraphSessionError as exc:
        raise fail(exc.message) from None
    console.print(key, soft_wrap=True, highlight=False)


@app.command()
@command
async def stats(
    as_json: JsonOpt = False, backend: BackendOpt = None, config: ConfigOpt = None
) -> None:
    """Totals: sessions by status, expired, runs."""
    async with open_manager(backend, config) as m:
        result = await m.stats()
    sessions_cmd.print_stats(result, as_json)


@app.command()
@command
async def checkpoints(
    session_id: Annotated[str, typer.Argument(help="The session id.")],
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many.")] = 20,
    before: Annotated[str | None, typer.Option(help="Older than this checkpoint id.")] = None,
    graph: Annotated[
        str | None, typer.Option("--graph", "-g", help="Graph reference or config graph id.")
    ] = None,
    as_json: JsonOpt = False,
    backend: BackendOpt = None,
    config: ConfigOpt = None,
) -> None:
    """A session's checkpoints, newest first (ids to fork from)."""
    async with open_manager(backend, config, graph=graph, session_id=session_id) as m:
        s = await sessions_cmd.find_session(m, session_id)
        items = await s.checkpoints(limit=limit, before=before)
    if as_json:
        print_json(items)
        return
    table = Table(title=f"{len(items)} checkpoint(s) of {safe(session_id)}", title_justify="left")
    for col in ("checkpoint", "step", "source", "created", "next", "interrupts"):
        table.add_column(col, overflow="fold", no_wrap=col in ("step", "source", "created"))
    for c in items:
        table.add_row(
            safe(c.checkpoint_id),
            str(c.step),
            safe(c.source or ""),
            when(c.created_at),
            safe(",".join(c.next)),
            safe(short([i.get("value") for i in c.interrupts], 40)) if c.interrupts else "",
        )
    console.print(table)


@app.command()
@command
async def events(
    session_id: Annotated[str, typer.Argument(help="The session id.")],
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new events (Ctrl-C stops).")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many recent events.")] = 50,
    interval: Annotated[float, typer.Option(help="Seconds between polls with --follow.")] = 0.5,
    as_json: JsonOpt = False,
    backend: BackendOpt = None,
    config: ConfigOpt = None,
) -> None:
    """A session's event log (created, runs, interrupts, suspensions...)."""

    def show(items: list[Any]) -> None:
        for e in items:
            if as_json:
                print_json(e)
            else:
                console.print(
                    f"{e.id:>6}  {when(e.at)}  [bold]{safe(e.type)}[/]  "
                    f"{safe((e.run_id or '')[:8])}  {safe(short(e.data, 80)) if e.data else ''}",
                    highlight=False,
                )

    async with open_manager(backend, config) as m:
        s = await sessions_cmd.find_session(m, session_id)
        items = await s.events(limit=100_000)
        items = items[-limit:] if limit > 0 else []
        show(items)
        last = items[-1].id if items else 0
        while follow:
            await asyncio.sleep(interval)
            new = await s.events(after=last, limit=1000)
            show(new)
            if new:
                last = new[-1].id


def _is_yaml(ref: str) -> bool:
    return ref.strip().lower().endswith((".yaml", ".yml"))


@app.command()
def validate(
    file: Annotated[
        str | None,
        typer.Argument(
            help="A YAML graph, a graph reference, or a config file (default: the config "
            "file and every graph in it).",
            show_default=False,
        ),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Check a YAML graph (every problem with file, line and field), a Python graph or a
    config file and its graphs. Exit code 5 when there are problems."""
    from graph_sessions.graphs.references import load_graph

    targets: list[tuple[str, str]] = []
    if file is None or file.endswith(".json"):
        cfg = read_config(file or config)
        targets = list(cfg.graphs.items())
        where = str(cfg.path) if cfg.path else "(no config file)"
        if not targets:
            raise fail(f"{where}: no graphs to validate")
        console.print(f"ok: {safe(where)}", highlight=False)
    else:
        targets = [(file, file)]
    problems = 0
    for label, ref in targets:
        if _is_yaml(ref):
            from graph_sessions.graphs.yaml import validate_yaml_graph

            found = validate_yaml_graph(ref)
            for p in found:
                err_console.print(clean(p, newlines=True), highlight=False, markup=False)
            problems += len(found)
            if not found:
                console.print(f"ok: {safe(label)}", highlight=False)
            continue
        try:
            source = load_graph(ref)
            if hasattr(source, "compile"):
                source.compile()
            console.print(f"ok: {safe(label)}", highlight=False)
        except GraphLoadError as exc:
            err_console.print(
                clean(f"{label}: {exc.message}", newlines=True), highlight=False, markup=False
            )
            problems += 1
        except Exception as exc:  # compile errors of the user's graph
            err_console.print(
                clean(f"{label}: {type(exc).__name__}: {exc}", newlines=True),
                highlight=False,
                markup=False,
            )
            problems += 1
    if problems:
        err_console.print(f"{problems} problem(s)", highlight=False)
        raise typer.Exit(EXIT_INVALID)


@app.command()
def graph(
    file: Annotated[
        str, typer.Argument(help="A YAML graph, a graph reference, or a config graph id.")
    ],
    config: ConfigOpt = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the diagram to this file.")
    ] = None,
) -> None:
    """Print a graph as a Mermaid diagram."""
    from graph_sessions.graphs.references import load_graph

    ref = file
    if not _is_yaml(file) and ":" not in file:
        cfg = read_config(config)
        if file not in cfg.graphs:
            raise fail(f"{file!r} is not a YAML file, a graph reference or a config graph id")
        ref = cfg.graphs[file]
    try:
        if _is_yaml(ref):
            from graph_sessions.graphs.yaml import yaml_to_mermaid

            text = yaml_to_mermaid(ref)
        else:
            source: Any = load_graph(ref)
            compiled = source.compile() if hasattr(source, "compile") else source
            text = compiled.get_graph().draw_mermaid()
    except GraphSessionError as exc:
        raise fail(exc.message) from None
    if output is not None:
        output.write_text(text)
        console.print(f"wrote {safe(output)}", highlight=False)
    else:
        print(text)


if __name__ == "__main__":  # pragma: no cover
    app()
