"""The core: manager, sessions, runs, lifecycle, sweeper."""

from graph_sessions.core.manager import GraphSessionManager
from graph_sessions.core.session import GraphSession, RunStream

__all__ = ["GraphSession", "GraphSessionManager", "RunStream"]
