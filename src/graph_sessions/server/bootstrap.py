"""Starting the server from its sources: one path for ``graph-sessions serve`` and
``python -m graph_sessions.server``.

:func:`plan_server` reads the configuration file and the environment, applies the command
line on top, and returns the manager's arguments and the server settings; :func:`run_plan`
builds the manager, checks the address and serves. Precedence, highest first (as
docs/cli.md and docs/deployment.md say): command-line options, ``GRAPH_SESSIONS_*``
environment variables, the configuration file, defaults.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from graph_sessions.config import ProjectConfig, load_config
from graph_sessions.errors import ConfigError
from graph_sessions.settings import ServerSettings
from graph_sessions.storage.urls import DEFAULT_BACKEND_URL

#: The environment variable naming the graph to serve when no GRAPH argument is given.
GRAPH_ENV = "GRAPH_SESSIONS_GRAPH"


@dataclass
class ServerPlan:
    """What the server will be started with: the configuration read, the manager's keyword
    arguments and the server settings."""

    config: ProjectConfig
    manager_kwargs: dict[str, Any]
    settings: ServerSettings

    @property
    def backend_url(self) -> str:
        """The storage URL the manager will open."""
        return str(self.manager_kwargs.get("backend") or DEFAULT_BACKEND_URL)


def settings_from(
    server: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    *,
    shutdown_timeout: float | None = None,
    **cli: Any,
) -> ServerSettings:
    """Server settings from the config file's ``server`` section, then the environment,
    then command-line values (``None`` ignored). ``shutdown_timeout`` is the config's
    top-level one, used when neither the section nor the environment sets the server's."""
    file = dict(server)
    if shutdown_timeout is not None:
        file.setdefault("shutdown_timeout", shutdown_timeout)
    try:
        return ServerSettings.from_sources(file, environ, **cli)
    except ValidationError as exc:
        raise ConfigError(f"server settings: {_one_line(exc)}") from None


def plan_server(
    graph: str | None = None,
    *,
    config: str | None = None,
    host: str | None = None,
    port: int | None = None,
    backend: str | None = None,
    output_key: str | None = None,
    environ: Mapping[str, str] | None = None,
    on_config: Callable[[ProjectConfig, str], None] | None = None,
) -> ServerPlan:
    """Read the configuration (``config``, ``$GRAPH_SESSIONS_CONFIG`` or ./langgraph.json)
    and the environment (``environ``, default ``os.environ``; only then does the file's
    ``env`` reach ``os.environ``), put the command line on top, and say what to serve.

    ``graph``, else ``$GRAPH_SESSIONS_GRAPH``: a graph reference, or an id of the config's
    graphs. ``on_config(config, backend_url)`` is called once the file is read (to print
    which database is used and the file's notes). Raises ``ConfigError`` (or another
    ``GraphSessionError``) for anything wrong."""
    env: Mapping[str, str] = os.environ if environ is None else environ
    cfg = load_config(config, environ=env, apply_env=environ is None)
    graph = graph or env.get(GRAPH_ENV) or None
    overrides: dict[str, Any] = {"backend": backend, "output_key": output_key}
    if graph is not None and graph in cfg.graphs:
        overrides["graph_id"] = graph
    elif graph is not None:
        cfg.graphs = {}
        overrides["graph"] = graph
    kwargs = cfg.manager_kwargs(**overrides)
    if on_config is not None:
        on_config(cfg, str(kwargs.get("backend") or DEFAULT_BACKEND_URL))
    if kwargs.get("graph") is None:
        raise ConfigError(
            f"serve needs a graph: pass GRAPH, set {GRAPH_ENV}, or use a config file with 'graphs'"
        )
    # cfg.server already holds the environment's server variables (load_config read them
    # through ServerSettings.env_values), so the environment is not read a second time.
    settings = settings_from(
        cfg.server, {}, shutdown_timeout=cfg.manager.get("shutdown_timeout"), host=host, port=port
    )
    kwargs.setdefault("shutdown_timeout", settings.shutdown_timeout)
    return ServerPlan(cfg, kwargs, settings)


def run_plan(plan: ServerPlan) -> str | None:
    """Build the manager, check the address is free, serve until SIGTERM/SIGINT. ``None``
    when the server ran and stopped; else why it could not listen (exit code
    :data:`~graph_sessions.server.bind.EXIT_CANNOT_LISTEN`). A bad graph raises its
    ``GraphSessionError``."""
    from graph_sessions.core.manager import GraphSessionManager
    from graph_sessions.server.bind import cannot_listen
    from graph_sessions.server.runner import serve

    manager = GraphSessionManager(**plan.manager_kwargs)
    settings = plan.settings
    why = cannot_listen(settings.host, settings.port)
    if why is not None:
        return f"{why} (another server? choose --port)"
    try:
        serve(manager, settings)
    except SystemExit as exc:  # uvicorn's startup failure (a bind lost to a race, ...)
        if exc.code in (0, None):
            raise
        return "the server could not start (see the log above)"
    return None


def _one_line(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
        for err in exc.errors()
    )


__all__ = ["GRAPH_ENV", "ServerPlan", "plan_server", "run_plan", "settings_from"]
