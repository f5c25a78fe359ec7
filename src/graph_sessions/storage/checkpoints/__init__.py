"""Checkpoint administration for backends: one :class:`CheckpointAdmin` adapter per saver
kind, chosen once by :func:`admin_for`, so that a backend never branches on its saver's
class nor touches another library's tables or dicts itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver as LangGraphSqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver as LangGraphAsyncSqliteSaver

from graph_sessions.checkpoint.base import SaverBase
from graph_sessions.storage.checkpoints.base import CheckpointAdmin
from graph_sessions.storage.checkpoints.langgraph_sqlite import LangGraphSqliteAdmin
from graph_sessions.storage.checkpoints.memory import InMemoryAdmin
from graph_sessions.storage.checkpoints.public import PublicApiAdmin
from graph_sessions.storage.checkpoints.sessions import SessionsSaverAdmin

AdminFactory = Callable[[Any], CheckpointAdmin[Any]]

_ADMINS: dict[type, AdminFactory] = {
    SaverBase: SessionsSaverAdmin,
    LangGraphSqliteSaver: LangGraphSqliteAdmin,
    LangGraphAsyncSqliteSaver: LangGraphSqliteAdmin,
    InMemorySaver: InMemoryAdmin,
}


def register_admin(saver_type: type, factory: AdminFactory) -> None:
    """Use ``factory(saver)`` as the adapter of ``saver_type`` and its subclasses."""
    _ADMINS[saver_type] = factory


def admin_for(saver: BaseCheckpointSaver[Any]) -> CheckpointAdmin[Any]:
    """The adapter registered for the nearest class of ``saver`` (its own, then its bases),
    else :class:`PublicApiAdmin`."""
    for cls in type(saver).__mro__:
        factory = _ADMINS.get(cls)
        if factory is not None:
            return factory(saver)
    return PublicApiAdmin(saver)


__all__ = [
    "CheckpointAdmin",
    "InMemoryAdmin",
    "LangGraphSqliteAdmin",
    "PublicApiAdmin",
    "SessionsSaverAdmin",
    "admin_for",
    "register_admin",
]
