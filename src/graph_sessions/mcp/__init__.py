"""The MCP surface: a session manager's graphs and sessions as Model Context Protocol tools
and resources (the official ``mcp`` SDK, installed with the ``mcp`` extra).

``graph-sessions mcp`` serves it over stdio (:mod:`graph_sessions.mcp.stdio`);
``graph-sessions serve`` mounts it over streamable HTTP at ``/mcp``
(``server/mcp_mount.py``). :func:`~graph_sessions.mcp.server.build_mcp_server` builds it
from a manager. See docs/mcp.md.
"""
