"""The project configuration file: LangGraph's ``langgraph.json``, read as it is, plus our keys.

One file configures a deployment for the Python API, the CLI and the server::

    {
      "dependencies": ["."],                        # ignored (we run in your environment)
      "graphs": {"agent": "./agent.py:graph", "support": "./graphs/support.yaml"},
      "env": ".env",                                # or {"KEY": "value"}
      "checkpointer": {"ttl": {"strategy": "delete", "default_ttl": 43200,
                               "sweep_interval_minutes": 10}},        # minutes, as LangGraph
      "graph_sessions": {                           # our namespace, for what LangGraph has no key
        "backend": "sqlite:///sessions.db", "ttl": 3600, "ttl_mode": "sliding",
        "on_expire": "delete", "checkpoint_retention": 50, "multitask": "enqueue",
        "server": {"host": "127.0.0.1", "port": 8123, "api_keys": ["${KEY}:alice:user"]}
      }
    }

Precedence, highest first: explicit arguments, environment variables (``GRAPH_SESSIONS_*``),
the file, defaults. ``${VAR}`` and ``${VAR:-default}`` expand in every string of the file.

The manager's keys are defined here; the ``server`` section's keys, their environment
variables and their checks are :class:`~graph_sessions.settings.ServerSettings`'s.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from graph_sessions.errors import BackendError, ConfigError
from graph_sessions.settings import ServerSettings
from graph_sessions.storage.urls import DEFAULT_BACKEND_URL, resolve_backend_url
from graph_sessions.vocabulary import (
    Durability,
    ExpiryStrategy,
    MultitaskStrategy,
    TTLMode,
)
from graph_sessions.webhook_settings import from_langgraph

log = logging.getLogger("graph_sessions")

CONFIG_FILE_NAMES = ("langgraph.json", "graph-sessions.json")
NAMESPACE = "graph_sessions"

# langgraph.json keys that describe a container build or platform features we do not have.
_IGNORED_LANGGRAPH_KEYS = {
    "dependencies": "ignored: graph-sessions runs in the environment you installed it in",
    "python_version": "ignored (container build setting)",
    "node_version": "ignored (container build setting)",
    "pip_config_file": "ignored (container build setting)",
    "pip_installer": "ignored (container build setting)",
    "dockerfile_lines": "ignored (container build setting)",
    "base_image": "ignored (container build setting)",
    "image_distro": "ignored (container build setting)",
    "keep_pkg_tools": "ignored (container build setting)",
    "api_version": "ignored (container build setting)",
    "ui": "ignored: generative UI components are not served",
    "ui_config": "ignored: generative UI components are not served",
    "$schema": "",
}
_KNOWN_LANGGRAPH_KEYS = {
    "graphs",
    "env",
    "auth",
    "checkpointer",
    "store",
    "http",
    "webhooks",
    NAMESPACE,
}

# GRAPH_SESSIONS_<NAME> environment variables and the key each overrides.
ENV_MANAGER_KEYS = {
    "BACKEND": "backend",
    "DEFAULT_GRAPH": "default_graph",
    "TTL": "ttl",
    "TTL_MODE": "ttl_mode",
    "ON_EXPIRE": "on_expire",
    "SWEEP_INTERVAL": "sweep_interval",
    "CHECKPOINT_RETENTION": "checkpoint_retention",
    "MULTITASK": "multitask",
    "DURABILITY": "durability",
    "OUTPUT_KEY": "output_key",
    "RESUME_KEY": "resume_key",
    "RECURSION_LIMIT": "recursion_limit",
    "SHUTDOWN_TIMEOUT": "shutdown_timeout",
    "LEASE_TTL": "lease_ttl",
    "ENCRYPTION_KEY": "encryption_key",
}
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _FileServer(ServerSettings):
    """The ``server`` section as the file must write it: the settings, no unknown key."""

    model_config = ConfigDict(extra="forbid")


class Section(_Strict):
    """``graph_sessions``: our settings that ``langgraph.json`` has no key for."""

    backend: str | None = None
    default_graph: str | None = None
    ttl: float | None = Field(default=None, gt=0)
    ttl_mode: TTLMode | None = None
    on_expire: ExpiryStrategy | None = None
    sweep_interval: float | None = Field(default=None, gt=0)
    sweep_batch: int | None = Field(default=None, ge=1)
    checkpoint_retention: int | None = Field(default=None, ge=1)
    multitask: MultitaskStrategy | None = None
    durability: Durability | None = None
    output_key: str | None = None
    resume_key: str | None = None
    recursion_limit: int | None = Field(default=None, ge=1)
    shutdown_timeout: float | None = Field(default=None, ge=0)
    lease_ttl: float | None = Field(default=None, gt=0)
    #: keys for encryption at rest (``graph_sessions.crypto``), or the path of a key file
    encryption_key: str | None = None
    #: metadata keys whose values stay readable (and filterable) under encryption
    indexable_metadata: list[str] | None = None
    # Checked against ServerSettings by _server_values (with the environment on top).
    server: dict[str, Any] = Field(default_factory=dict)


class _TTL(BaseModel):
    model_config = ConfigDict(extra="allow")

    strategy: ExpiryStrategy | None = None
    default_ttl: float | None = Field(default=None, gt=0)  # minutes, as LangGraph
    sweep_interval_minutes: float | None = Field(default=None, gt=0)


class _Checkpointer(BaseModel):
    model_config = ConfigDict(extra="allow")

    ttl: _TTL | None = None


class _File(BaseModel):
    model_config = ConfigDict(extra="allow")

    graphs: dict[str, str | dict[str, Any]] = Field(default_factory=dict)
    env: str | dict[str, str | int | float | bool] | None = None
    auth: dict[str, Any] | None = None
    checkpointer: _Checkpointer | None = None
    store: dict[str, Any] | None = None
    http: dict[str, Any] | None = None
    webhooks: dict[str, Any] | None = None
    graph_sessions: Section = Field(default_factory=Section)


@dataclass
class ProjectConfig:
    """A loaded configuration: graphs by id, manager options, server options, and notes about
    what was ignored. Build a manager with :meth:`manager_kwargs` or
    ``GraphSessionManager.from_config``."""

    path: Path | None = None
    graphs: dict[str, str] = field(default_factory=dict)
    default_graph: str | None = None
    manager: dict[str, Any] = field(default_factory=dict)
    server: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    auth: dict[str, Any] | None = None
    store: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def base_dir(self) -> Path:
        """The folder relative paths in the file are resolved against."""
        return self.path.parent if self.path else Path.cwd()

    def manager_kwargs(self, **overrides: Any) -> dict[str, Any]:
        """Keyword arguments for ``GraphSessionManager``: the file's, then ``overrides`` (those
        that are not ``None``) on top."""
        kwargs: dict[str, Any] = dict(self.manager)
        if self.graphs:
            kwargs["graph"] = dict(self.graphs)
            if self.default_graph:
                kwargs["graph_id"] = self.default_graph
        kwargs.update({k: v for k, v in overrides.items() if v is not None})
        return kwargs


def find_config(
    start: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> Path | None:
    """The configuration file to use when none is named: ``$GRAPH_SESSIONS_CONFIG``, else
    ``langgraph.json`` (or ``graph-sessions.json``) in ``start`` (the working directory)."""
    env = os.environ if environ is None else environ
    named = env.get("GRAPH_SESSIONS_CONFIG")
    if named:
        return Path(named)
    folder = Path(start) if start else Path.cwd()
    for name in CONFIG_FILE_NAMES:
        if (folder / name).is_file():
            return folder / name
    return None


def _expand(value: Any, where: str, env: Mapping[str, str], file: str) -> Any:
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            raise ConfigError(
                f"{file}: {where}: environment variable {name} is not set "
                f"(write ${{{name}:-default}} for a default)"
            )

        return _VAR.sub(sub, value)
    if isinstance(value, dict):
        return {
            k: _expand(v, f"{where}.{k}" if where else str(k), env, file) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_expand(v, f"{where}[{i}]", env, file) for i, v in enumerate(value)]
    return value


def _field_errors(exc: ValidationError, file: str, where: str = "") -> ConfigError:
    lines = []
    for err in exc.errors():
        loc = ".".join([*([where] if where else []), *(str(p) for p in err["loc"])])
        loc = loc or "(top level)"
        got = err.get("input")
        shown = "" if isinstance(got, dict | list) else f" (got {got!r})"
        lines.append(f"{file}: {loc}: {err['msg']}{shown}")
    return ConfigError("\n".join(lines))


def _resolve_graph_ref(ref: str, base: Path) -> str:
    """Make a file reference absolute (relative to the config file); leave module refs."""
    text = ref.strip()
    if text.endswith((".yaml", ".yml", ".json")) and ":" not in Path(text).name:
        path = Path(text).expanduser()
        return str(path if path.is_absolute() else (base / path).resolve())
    module_part, sep, attr = text.rpartition(":")
    if sep and (module_part.endswith(".py") or "/" in module_part or "\\" in module_part):
        path = Path(module_part).expanduser()
        path = path if path.is_absolute() else (base / path).resolve()
        return f"{path}:{attr}"
    return text


def _load_env(value: str | dict[str, Any] | None, base: Path, file: str) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    from dotenv import dotenv_values

    path = Path(value).expanduser()
    path = path if path.is_absolute() else base / path
    if not path.is_file():
        raise ConfigError(f"{file}: env: file {str(path)!r} does not exist")
    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def _env_value(name: str, raw: str) -> Any:
    if name == "lease_ttl":
        return float(raw)
    if name in {"ttl", "sweep_interval", "shutdown_timeout"}:
        if raw.strip().lower() in {"", "none", "never"}:
            return None
        return float(raw)
    if name in {"checkpoint_retention", "recursion_limit"}:
        return int(raw)
    return raw


def _env_overrides(
    env: Mapping[str, str], keys: dict[str, str]
) -> tuple[dict[str, Any], list[str]]:
    out: dict[str, Any] = {}
    bad: list[str] = []
    for suffix, name in keys.items():
        var = f"GRAPH_SESSIONS_{suffix}"
        if var in env:
            try:
                out[name] = _env_value(name, env[var])
            except ValueError:
                bad.append(f"{var}={env[var]!r}: not a valid {name}")
    return out, bad


def _server_values(section: Mapping[str, Any], env: Mapping[str, str], file: str) -> dict[str, Any]:
    """The ``server`` section with the ``GRAPH_SESSIONS_*`` server variables on top, checked
    by :class:`ServerSettings` (unknown keys refused); values typed as the settings type
    them, API keys left as written (a list of ``key:owner[:role]`` strings and objects)."""
    written = {k: v for k, v in section.items() if v is not None}
    try:
        _FileServer.model_validate(written)
    except ValidationError as exc:
        raise _field_errors(exc, file, "graph_sessions.server") from None
    from_env = ServerSettings.env_values(env)
    merged = {**written, **from_env}
    try:
        checked = _FileServer.model_validate(merged)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "setting"
            var = ServerSettings.env_var(name)
            problems.append(f"{var}={env.get(var)!r}: not a valid {name}: {err['msg']}")
        raise ConfigError("environment: " + "; ".join(problems)) from None
    typed = checked.model_dump(mode="json", include=set(merged) - {"api_keys"})
    values = {k: typed.get(k, merged[k]) for k in merged}
    return {k: v for k, v in values.items() if v is not None}


def load_config(
    path: str | Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    apply_env: bool = True,
) -> ProjectConfig:
    """Read a configuration file (``None``: :func:`find_config`; none found: defaults plus
    environment overrides). ``apply_env`` puts the file's ``env`` into ``os.environ``
    (without replacing variables already set) so graphs can read them."""
    env: dict[str, str] = dict(os.environ if environ is None else environ)
    chosen = Path(path) if path is not None else find_config(environ=env)
    cfg = ProjectConfig(path=chosen.resolve() if chosen else None)
    file = str(chosen) if chosen else "(no config file)"
    raw = _read_file(chosen, file) if chosen is not None else {}
    base = cfg.base_dir
    # The file's own env block may define variables the rest of the file refers to.
    try:
        file_env = _load_env(_expand(raw.get("env"), "env", env, file), base, file)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"{file}: env: {exc}") from None
    cfg.env = file_env
    raw = _expand(raw, "", {**file_env, **env}, file)
    _note_keys(raw, cfg)
    try:
        parsed = _File.model_validate(raw)
    except ValidationError as exc:
        raise _field_errors(exc, file) from None
    _set_graphs(parsed, cfg, base, file)

    section = parsed.graph_sessions
    manager = _file_manager_values(parsed, chosen is not None, base, file)
    # LangGraph's own keys for server settings; the graph_sessions.server section wins.
    server = _server_values({**_langgraph_server_values(parsed, base), **section.server}, env, file)

    if apply_env:
        for k, v in file_env.items():
            os.environ.setdefault(k, v)
    env_manager, bad = _env_overrides(env, ENV_MANAGER_KEYS)
    if bad:
        raise ConfigError("environment: " + "; ".join(bad))
    default_graph = env_manager.pop("default_graph", None) or section.default_graph
    manager.update(env_manager)
    try:  # validate the merged values once more, so env overrides get the same checks
        checked = Section.model_validate({**manager, "server": server})
    except ValidationError as exc:
        raise _field_errors(exc, f"{file} (with GRAPH_SESSIONS_* overrides)") from None
    cfg.manager = checked.model_dump(exclude={"server", "default_graph"}, exclude_none=True)
    for key in ("ttl", "sweep_interval"):  # an explicit "never" from the environment
        if key in env_manager and env_manager[key] is None:
            cfg.manager[key] = None
    cfg.server = server
    if default_graph is not None:
        if cfg.graphs and default_graph not in cfg.graphs:
            raise ConfigError(
                f"{file}: graph_sessions.default_graph: {default_graph!r} is not one of the "
                f"graphs: {', '.join(cfg.graphs)}"
            )
        cfg.default_graph = default_graph
    cfg.auth = parsed.auth
    cfg.store = parsed.store
    _note_unsupported(parsed, cfg)
    for note in cfg.notes:
        log.info("%s: %s", file, note)
    return cfg


def _read_file(chosen: Path, file: str) -> dict[str, Any]:
    """The file's JSON object, or a ``ConfigError`` saying where it is wrong."""
    if not chosen.is_file():
        raise ConfigError(f"{file}: configuration file does not exist")
    try:
        data = json.loads(chosen.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{file}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: the top level must be a JSON object")
    return data


def _note_keys(raw: dict[str, Any], cfg: ProjectConfig) -> None:
    """Notes for the top-level keys of LangGraph's file that we ignore or do not know."""
    for key in raw:
        if key in _IGNORED_LANGGRAPH_KEYS:
            if _IGNORED_LANGGRAPH_KEYS[key]:
                cfg.notes.append(f"{key}: {_IGNORED_LANGGRAPH_KEYS[key]}")
        elif key not in _KNOWN_LANGGRAPH_KEYS:
            cfg.notes.append(f"{key}: unknown key, ignored")


def _set_graphs(parsed: _File, cfg: ProjectConfig, base: Path, file: str) -> None:
    """``cfg.graphs`` from the file's ``graphs`` (a reference string or ``{"path": ...}``)."""
    for gid, ref in parsed.graphs.items():
        if isinstance(ref, dict):
            target = ref.get("path")
            if not isinstance(target, str):
                raise ConfigError(f"{file}: graphs.{gid}: an object needs a 'path' string")
            ref = target
        if not ref.strip():
            raise ConfigError(f"{file}: graphs.{gid}: empty graph reference")
        cfg.graphs[gid] = _resolve_graph_ref(ref, base)
    if cfg.graphs and str(base) not in sys.path:
        # What LangGraph's "dependencies": ["."] gives: modules next to the file import.
        sys.path.append(str(base))


def _file_manager_values(parsed: _File, from_file: bool, base: Path, file: str) -> dict[str, Any]:
    """The manager's options the file sets: its ``graph_sessions`` section, the backend
    next to the file, and LangGraph's ``checkpointer.ttl`` where the section is silent."""
    manager = parsed.graph_sessions.model_dump(
        exclude={"server", "default_graph"}, exclude_none=True
    )
    if from_file:
        # The file's database lives next to the file, whatever the working directory.
        try:
            manager["backend"] = resolve_backend_url(
                manager.get("backend", DEFAULT_BACKEND_URL), base
            )
        except BackendError as exc:
            raise ConfigError(f"{file}: graph_sessions.backend: {exc.message}") from None
    ttl = parsed.checkpointer.ttl if parsed.checkpointer else None
    if ttl is not None:
        if ttl.default_ttl is not None and "ttl" not in manager:
            manager["ttl"] = ttl.default_ttl * 60.0
        if ttl.strategy is not None and "on_expire" not in manager:
            manager["on_expire"] = ttl.strategy
        if ttl.sweep_interval_minutes is not None and "sweep_interval" not in manager:
            manager["sweep_interval"] = ttl.sweep_interval_minutes * 60.0
    return manager


def _langgraph_server_values(parsed: _File, base: Path) -> dict[str, Any]:
    """Server settings LangGraph's own keys give: ``http.cors`` → ``cors``, ``auth.path``
    → ``auth_path`` (a file path made absolute, relative to the file), ``store.ttl`` →
    ``store_ttl``, ``webhooks`` (and ``http.disable_webhooks``) → ``webhooks``. Checked
    with the rest of the server section."""
    values: dict[str, Any] = {}
    if parsed.http and "cors" in parsed.http:
        values["cors"] = parsed.http["cors"]
    if parsed.auth and parsed.auth.get("path") is not None:
        path = parsed.auth["path"]
        values["auth_path"] = _resolve_graph_ref(path, base) if isinstance(path, str) else path
    if parsed.store and parsed.store.get("ttl") is not None:
        values["store_ttl"] = parsed.store["ttl"]
    webhooks: dict[str, Any] = {}
    if parsed.webhooks:
        try:
            webhooks = from_langgraph(parsed.webhooks)
        except ValueError as exc:
            raise ConfigError(f"webhooks: {exc}") from None
    if parsed.http and parsed.http.get("disable_webhooks"):
        webhooks["enabled"] = False
    if webhooks:
        values["webhooks"] = webhooks
    return values


def _note_unsupported(parsed: _File, cfg: ProjectConfig) -> None:
    """Notes for the parts of LangGraph's file read but not acted on yet."""
    for key in sorted(set(parsed.http or {}) - {"cors", "disable_webhooks"}):
        cfg.notes.append(f"http.{key}: ignored (only http.cors and http.disable_webhooks are read)")
    for key in sorted(set(parsed.auth or {}) - {"path"}):
        cfg.notes.append(f"auth.{key}: ignored (only auth.path is read)")
    if parsed.store and parsed.store.get("index"):
        cfg.notes.append("store.index: semantic search of the store is not supported yet")
