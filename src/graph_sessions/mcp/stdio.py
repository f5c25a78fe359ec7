"""``graph-sessions mcp``: the MCP server over stdio (what desktop assistants start).

Stdout carries the protocol only: nothing else of ours may print there (notes go to
stderr)."""

from __future__ import annotations

import anyio
from mcp.server.stdio import stdio_server

from graph_sessions.core.manager import GraphSessionManager
from graph_sessions.mcp.server import build_mcp_server


async def serve_stdio(manager: GraphSessionManager) -> None:
    """Open ``manager``, serve its MCP server on stdin/stdout until the client closes
    stdin, then close the manager (letting a run in progress finish or be cancelled)."""
    await manager.open()
    try:
        server = build_mcp_server(manager)
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())
    finally:
        with anyio.CancelScope(shield=True):
            await manager.close()


def run_stdio(manager: GraphSessionManager) -> None:
    """:func:`serve_stdio` on a new event loop (blocks)."""
    anyio.run(serve_stdio, manager)
