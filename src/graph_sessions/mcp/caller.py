"""Who calls an MCP tool (no import of the SDK: the HTTP mount uses it without it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Caller:
    """Who calls a tool: ``owner`` for new sessions, ``scope`` the owner whose sessions are
    visible (``None``: every session)."""

    owner: str | None = None
    scope: str | None = None


#: the local user of ``graph-sessions mcp`` (stdio): sees every session
LOCAL = Caller()
