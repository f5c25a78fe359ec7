"""Server settings: bind address, authentication, limits, run behaviour, logging.

``ServerSettings`` is a Pydantic model and the one definition of the server's settings:
each field is also the config file's ``graph_sessions.server`` key of that name and the
``GRAPH_SESSIONS_<NAME>`` environment variable (read only here, by
:meth:`ServerSettings.env_values`). Build it directly, with :meth:`ServerSettings.from_env`,
or from every source at once with :meth:`ServerSettings.from_sources`.

API keys are hashed (SHA-256) as soon as they are loaded: the settings never hold a key in
clear after validation, and requests are checked with :func:`hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from graph_sessions.errors import InvalidInput
from graph_sessions.setting_text import object_setting
from graph_sessions.vocabulary import (
    DEFAULT_ON_DISCONNECT,
    DEFAULT_ROLE,
    ROLES,
    OnDisconnect,
    Role,
    choice_error,
)
from graph_sessions.webhook_settings import WebhookSettings, webhooks_value

_HASH_PREFIX = "sha256:"
ENV_PREFIX = "GRAPH_SESSIONS_"
# Values of an optional number's environment variable that mean "none" (no run timeout).
_NONE_WORDS = {"none", "never"}


def hash_key(key: str) -> str:
    """``sha256:<hex>`` of an API key (the form keys are kept in once loaded)."""
    return _HASH_PREFIX + hashlib.sha256(key.encode()).hexdigest()


class ApiKey(BaseModel):
    """One API key mapping to an owner and a role.

    ``key`` may be given in clear or already hashed (``sha256:<64 hex digits>``); either
    way it is stored hashed.
    """

    model_config = ConfigDict(frozen=True)

    key: str = Field(min_length=1, description="the key, hashed (sha256:<hex>) once loaded")
    owner: str = Field(min_length=1)
    role: Role = DEFAULT_ROLE

    @field_validator("key")
    @classmethod
    def _hash(cls, value: str) -> str:
        if value.startswith(_HASH_PREFIX) and len(value) == len(_HASH_PREFIX) + 64:
            return value
        return hash_key(value)

    def matches(self, candidate: str) -> bool:
        """True when ``candidate`` (a key in clear) is this key (constant-time compare)."""
        return hmac.compare_digest(self.key, hash_key(candidate))

    def __repr__(self) -> str:
        return f"ApiKey(owner={self.owner!r}, role={self.role!r})"


def parse_api_keys(text: str) -> list[ApiKey]:
    """Parse ``"key:owner[:role],..."`` (whitespace around items is ignored)."""
    keys: list[ApiKey] = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        parts = item.split(":")
        if parts[0] == "sha256" and len(parts) >= 2:  # a pre-hashed key: sha256:<hex>:owner
            parts = [f"sha256:{parts[1]}", *parts[2:]]
        if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
            raise InvalidInput(
                f"API key entry {item.split(':')[0][:4]}… is not 'key:owner' or 'key:owner:role'"
            )
        role = parts[2] if len(parts) == 3 else DEFAULT_ROLE
        problem = choice_error("API key role", role, ROLES)
        if problem is not None:
            raise InvalidInput(problem)
        keys.append(ApiKey(key=parts[0], owner=parts[1], role=role))  # type: ignore[arg-type]
    return keys


#: The response headers a browser may read cross-origin by default (LangGraph's list).
DEFAULT_EXPOSE_HEADERS = ("x-pagination-total", "x-pagination-next", "content-location")


class CorsSettings(BaseModel):
    """Cross-origin requests (browser clients on another origin, e.g. Agent Chat UI).

    The defaults are LangGraph's server's: any origin, any method and header, the pagination
    and ``Content-Location`` headers exposed, preflights cached 600 s. ``allow_credentials``
    left ``None`` is on exactly when ``allow_origins`` does not hold ``"*"`` (as LangGraph).
    The keys are those of ``http.cors`` in ``langgraph.json``; ``enabled: false`` (or the
    setting ``false``/``"off"``) turns CORS handling off.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    allow_origins: list[str] = Field(default_factory=lambda: ["*"])
    allow_origin_regex: str | None = None
    allow_methods: list[str] = Field(default_factory=lambda: ["*"])
    allow_headers: list[str] = Field(default_factory=lambda: ["*"])
    allow_credentials: bool | None = None
    expose_headers: list[str] = Field(default_factory=lambda: list(DEFAULT_EXPOSE_HEADERS))
    max_age: int = Field(default=600, ge=0)
    allow_private_network: bool = True

    @property
    def credentials(self) -> bool:
        """Whether credentialed requests are allowed (auto: when origins are listed)."""
        if self.allow_credentials is not None:
            return self.allow_credentials
        return "*" not in self.allow_origins


class StoreTTLSettings(BaseModel):
    """``store.ttl`` of ``langgraph.json``: item expiry in the LangGraph store (minutes)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    refresh_on_read: bool = True
    default_ttl: float | None = Field(default=None, gt=0)
    sweep_interval_minutes: float = Field(default=5.0, gt=0)


class ServerSettings(BaseModel):
    """Everything the HTTP server is configured with. See docs/deployment.md."""

    host: str = "127.0.0.1"
    port: int = Field(default=8123, ge=0, le=65535)
    api_keys: list[ApiKey] = Field(default_factory=list)
    jwt_secret: str | None = Field(default=None, description="HS256 secret for bearer JWTs")
    jwks_file: Path | None = Field(
        default=None, description="a JWKS JSON file whose keys verify bearer JWTs (RS256, ES256…)"
    )
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    owner_claim: str = "sub"
    role_claim: str = "role"
    require_auth: bool | None = Field(
        default=None, description="None: on when any API key or JWT verifier is configured"
    )
    max_body_bytes: int = Field(default=1024 * 1024, ge=1)
    run_timeout: float | None = Field(default=None, gt=0)
    on_disconnect: OnDisconnect = DEFAULT_ON_DISCONNECT
    shutdown_timeout: float = Field(default=30.0, ge=0)
    log_json: bool = True
    access_log: bool = Field(default=True, description="one JSON line per request on stderr")
    events_poll_interval: float = Field(
        default=1.0,
        gt=0,
        description="/events?follow=true is woken at once by this process's writes; this is "
        "how often it also looks for events other processes wrote",
    )
    header_timeout: float = Field(
        default=10.0,
        gt=0,
        description="a connection whose request line and headers take longer to arrive is closed",
    )
    keep_alive_timeout: float = Field(
        default=30.0, gt=0, description="an idle kept-alive connection is closed after this"
    )
    metrics_auth: bool = Field(
        default=False,
        description="/metrics needs credentials (any valid key or JWT) when authentication is on",
    )
    metrics_cache_seconds: float = Field(
        default=15.0, ge=0, description="how long /metrics reuses its count of sessions by status"
    )
    cors: CorsSettings = Field(
        default_factory=CorsSettings,
        description="cross-origin requests; also read from langgraph.json http.cors",
    )
    auth_path: str | None = Field(
        default=None,
        description="a LangGraph auth object, './auth.py:auth' or 'module:auth' (langgraph.json "
        "auth.path); its @auth.authenticate replaces JWT checks",
    )
    store_ttl: StoreTTLSettings = Field(
        default_factory=StoreTTLSettings,
        description="expiry of LangGraph store items (langgraph.json store.ttl)",
    )
    webhooks: WebhookSettings = Field(
        default_factory=WebhookSettings,
        description="run-end webhooks: allowed hosts and networks, attempts, timeout "
        "(langgraph.json webhooks)",
    )
    cron_poll_interval: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="seconds between two looks of the cron scheduler for due crons",
    )
    graphql_introspection: bool = Field(
        default=True, description="/graphql answers introspection (__schema, __type) queries"
    )
    graphql_ide: bool = Field(default=True, description="GET /graphql serves GraphiQL")
    ui: bool = Field(default=True, description="/ui serves the web inspector (docs/ui.md)")
    _key_index: dict[str, ApiKey] = PrivateAttr(default_factory=dict)

    @field_validator("cors", mode="before")
    @classmethod
    def _cors_from_text(cls, value: Any) -> Any:
        return object_setting(value, "allow_origins")

    @field_validator("store_ttl", mode="before")
    @classmethod
    def _store_ttl_from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value)
        return value

    @field_validator("webhooks", mode="before")
    @classmethod
    def _webhooks_from_text(cls, value: Any) -> Any:
        return webhooks_value(value)

    @field_validator("api_keys", mode="before")
    @classmethod
    def _keys_from_text(cls, value: Any) -> Any:
        # "key:owner[:role],..." text, or (as the config file has them) a list of such
        # strings and {key, owner, role} objects.
        if isinstance(value, str):
            return parse_api_keys(value)
        if isinstance(value, list):
            keys: list[Any] = []
            for item in value:
                keys.extend(parse_api_keys(item) if isinstance(item, str) else [item])
            return keys
        return value

    def model_post_init(self, __context: Any) -> None:
        """Index the hashed keys for lookup."""
        self._key_index = {k.key: k for k in self.api_keys}

    @property
    def auth_configured(self) -> bool:
        """True when any API key, JWT verifier or LangGraph auth file is configured."""
        return bool(self.api_keys or self.jwt_secret or self.jwks_file or self.auth_path)

    @property
    def auth_enabled(self) -> bool:
        """Whether requests must authenticate (``require_auth``, or auto)."""
        return self.require_auth if self.require_auth is not None else self.auth_configured

    def find_key(self, candidate: str) -> ApiKey | None:
        """The configured key equal to ``candidate``, compared in constant time."""
        hashed = hash_key(candidate)
        found = self._key_index.get(hashed)
        if found is not None and hmac.compare_digest(found.key, hashed):
            return found
        return None

    @classmethod
    def env_var(cls, name: str) -> str:
        """The environment variable of setting ``name``: ``GRAPH_SESSIONS_<NAME>``."""
        return ENV_PREFIX + name.upper()

    @classmethod
    def env_values(cls, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The settings ``GRAPH_SESSIONS_*`` variables give, one variable per field
        (``GRAPH_SESSIONS_PORT``, ``GRAPH_SESSIONS_API_KEYS`` = "key:owner[:role],...", ...),
        unvalidated: text stripped, empty variables skipped, ``none``/``never`` for an
        optional number (``RUN_TIMEOUT``) meaning ``None``, API keys split at commas."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, info in cls.model_fields.items():
            raw = env.get(cls.env_var(name))
            if raw is None or raw.strip() == "":
                continue
            text = raw.strip()
            if text.lower() in _NONE_WORDS and _optional_number(info.annotation):
                values[name] = None
            elif name == "api_keys":
                values[name] = [k.strip() for k in text.split(",") if k.strip()]
            else:
                values[name] = text
        return values

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> ServerSettings:
        """Settings from ``GRAPH_SESSIONS_*`` variables (see :meth:`env_values`), then
        ``overrides`` (``None`` values are ignored, so CLI options left unset do not erase
        the environment)."""
        return cls.from_sources(environ=environ, **overrides)

    @classmethod
    def from_sources(
        cls,
        file: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
        **cli: Any,
    ) -> ServerSettings:
        """Settings by precedence, highest first: ``cli`` values (``None`` ignored), the
        environment (``environ``, default ``os.environ``), ``file`` (the config file's
        ``graph_sessions.server`` section), defaults."""
        values = dict(file or {})
        values.update(cls.env_values(environ))
        values.update({k: v for k, v in cli.items() if v is not None})
        return cls.model_validate(values)


def _optional_number(annotation: Any) -> bool:
    """True for ``float | None``, ``int | None`` and the like."""
    if get_origin(annotation) not in (Union, types.UnionType):
        return False
    args = set(get_args(annotation))
    return type(None) in args and bool(args & {int, float})
