"""``python -m graph_sessions.server [GRAPH] [--config FILE] [--host H] [--port P] [--backend URL]``.

Reads the configuration file (``--config``, ``$GRAPH_SESSIONS_CONFIG`` or ./langgraph.json)
and ``GRAPH_SESSIONS_*`` environment variables (``GRAPH_SESSIONS_GRAPH`` names a graph
reference when no GRAPH argument is given), then serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from graph_sessions.core.manager import GraphSessionManager
from graph_sessions.errors import GraphSessionError
from graph_sessions.graphs.config import load_config
from graph_sessions.server.bind import EXIT_CANNOT_LISTEN, cannot_listen
from graph_sessions.server.runner import serve
from graph_sessions.server.settings import ApiKey, ServerSettings, parse_api_keys


def settings_from(
    server: dict[str, Any], environ: dict[str, str] | os._Environ[str], **cli: Any
) -> ServerSettings:
    """Server settings: the config file's ``server`` section, then the environment, then
    command-line values (``None`` ignored)."""
    values = dict(server)
    keys: list[ApiKey] = []
    for item in values.pop("api_keys", None) or []:
        keys.extend(parse_api_keys(item) if isinstance(item, str) else [ApiKey(**item)])
    values["api_keys"] = keys
    values.update(ServerSettings.env_values(dict(environ)))
    values.update({k: v for k, v in cli.items() if v is not None})
    return ServerSettings.model_validate(values)


_DESCRIPTION = (
    "Serve graph sessions over REST + SSE. Reads the configuration file (--config, "
    "$GRAPH_SESSIONS_CONFIG or ./langgraph.json) and GRAPH_SESSIONS_* environment variables "
    "(GRAPH_SESSIONS_GRAPH names a graph when no GRAPH argument is given), then serves until "
    "SIGTERM/SIGINT. Exit codes: 2 bad usage or configuration, 6 cannot listen."
)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, build the manager and settings, serve."""
    p = argparse.ArgumentParser(prog="python -m graph_sessions.server", description=_DESCRIPTION)
    p.add_argument("graph", nargs="?", help="graph reference or an id of the config's graphs")
    p.add_argument("--config", help="configuration file (langgraph.json format)")
    p.add_argument("--host", help="interface to bind (127.0.0.1)")
    p.add_argument("--port", type=int, help="port (8123)")
    p.add_argument("--backend", help="storage URL (sqlite:///sessions.db)")
    p.add_argument("--output-key", help='state key returned as a run\'s "output"')
    args = p.parse_args(argv)
    try:
        cfg = load_config(args.config)
        graph = args.graph or os.environ.get("GRAPH_SESSIONS_GRAPH") or None
        for note in cfg.notes:
            print(f"note: {cfg.path.name if cfg.path else 'config'}: {note}", file=sys.stderr)
        overrides: dict[str, Any] = {"backend": args.backend, "output_key": args.output_key}
        if graph is not None and graph in cfg.graphs:
            overrides["graph_id"] = graph
        elif graph is not None:
            cfg.graphs = {}
            overrides["graph"] = graph
        kwargs = cfg.manager_kwargs(**overrides)
        if kwargs.get("graph") is None:
            p.error("a graph is needed: pass GRAPH, set GRAPH_SESSIONS_GRAPH, or use a config file")
        settings = settings_from(cfg.server, os.environ, host=args.host, port=args.port)
        if "shutdown_timeout" not in kwargs:
            kwargs["shutdown_timeout"] = settings.shutdown_timeout
        manager = GraphSessionManager(**kwargs)
    except GraphSessionError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: server settings: {exc}", file=sys.stderr)
        return 2
    why = cannot_listen(settings.host, settings.port)
    if why is not None:
        print(f"error: {why} (another server? choose --port)", file=sys.stderr)
        return EXIT_CANNOT_LISTEN
    try:
        serve(manager, settings)
    except SystemExit as exc:  # uvicorn's startup failure
        if exc.code in (0, None):
            raise
        print("error: the server could not start (see the log above)", file=sys.stderr)
        return EXIT_CANNOT_LISTEN
    return 0


if __name__ == "__main__":
    sys.exit(main())
