"""``python -m graph_sessions.server [GRAPH] [--config FILE] [--host H] [--port P] [--backend URL]``.

Reads the configuration file (``--config``, ``$GRAPH_SESSIONS_CONFIG`` or ./langgraph.json)
and ``GRAPH_SESSIONS_*`` environment variables (``GRAPH_SESSIONS_GRAPH`` names a graph
reference when no GRAPH argument is given), then serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import sys

from graph_sessions.config import ProjectConfig
from graph_sessions.errors import GraphSessionError
from graph_sessions.server.bind import EXIT_CANNOT_LISTEN
from graph_sessions.server.bootstrap import plan_server, run_plan

_DESCRIPTION = (
    "Serve graph sessions over REST + SSE. Reads the configuration file (--config, "
    "$GRAPH_SESSIONS_CONFIG or ./langgraph.json) and GRAPH_SESSIONS_* environment variables "
    "(GRAPH_SESSIONS_GRAPH names a graph when no GRAPH argument is given), then serves until "
    "SIGTERM/SIGINT. Exit codes: 2 bad usage or configuration, 6 cannot listen."
)


def _print_notes(cfg: ProjectConfig, backend_url: str) -> None:
    for note in cfg.notes:
        print(f"note: {cfg.path.name if cfg.path else 'config'}: {note}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, then start the server as ``graph-sessions serve`` does."""
    p = argparse.ArgumentParser(prog="python -m graph_sessions.server", description=_DESCRIPTION)
    p.add_argument("graph", nargs="?", help="graph reference or an id of the config's graphs")
    p.add_argument("--config", help="configuration file (langgraph.json format)")
    p.add_argument("--host", help="interface to bind (127.0.0.1)")
    p.add_argument("--port", type=int, help="port (8123)")
    p.add_argument("--backend", help="storage URL (sqlite:///sessions.db)")
    p.add_argument("--output-key", help='state key returned as a run\'s "output"')
    args = p.parse_args(argv)
    try:
        plan = plan_server(
            args.graph,
            config=args.config,
            host=args.host,
            port=args.port,
            backend=args.backend,
            output_key=args.output_key,
            on_config=_print_notes,
        )
        why = run_plan(plan)
    except GraphSessionError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    if why is not None:
        print(f"error: {why}", file=sys.stderr)
        return EXIT_CANNOT_LISTEN
    return 0


if __name__ == "__main__":
    sys.exit(main())
