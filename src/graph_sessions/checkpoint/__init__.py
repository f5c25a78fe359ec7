"""LangGraph checkpoint savers for SQLite whose cost per turn does not grow with history.

``SqliteSaver`` and ``AsyncSqliteSaver`` are drop-in replacements for LangGraph's classes
of the same names (``langgraph.checkpoint.sqlite``): change the import, keep the code.
See ``docs/checkpoint-saver.md``.
"""

from graph_sessions.checkpoint.async_saver import AsyncSqliteSaver
from graph_sessions.checkpoint.sync_saver import SqliteSaver

# The storage engine under both savers (``checkpoint.engine``) is internal, not exported.
__all__ = ["AsyncSqliteSaver", "SqliteSaver"]
