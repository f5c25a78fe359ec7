"""The server's settings, by the import path earlier versions documented
(``from graph_sessions.server.settings import hash_key``). They are defined in
:mod:`graph_sessions.settings`, below the core, so that the configuration file can check its
server section without importing the server."""

from __future__ import annotations

from graph_sessions.settings import (
    ENV_PREFIX,
    ApiKey,
    Role,
    ServerSettings,
    hash_key,
    parse_api_keys,
)

__all__ = ["ENV_PREFIX", "ApiKey", "Role", "ServerSettings", "hash_key", "parse_api_keys"]
