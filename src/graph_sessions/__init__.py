"""graph-sessions: durable, multi-user sessions for LangGraph graphs."""

from graph_sessions.clock import ManualClock
from graph_sessions.config import ProjectConfig, load_config
from graph_sessions.core.manager import GraphSessionManager
from graph_sessions.core.session import GraphSession, RunStream
from graph_sessions.core.sweeper import SweepReport
from graph_sessions.errors import (
    BackendError,
    CheckpointNotFound,
    ConfigError,
    GraphLoadError,
    GraphMismatch,
    GraphSessionError,
    InvalidInput,
    InvalidTransition,
    LeaseLost,
    LeaseWaitTimeout,
    ManagerClosed,
    RunCancelled,
    RunFailed,
    SessionBusy,
    SessionExists,
    SessionExpired,
    SessionNotFound,
    SessionSuspended,
)
from graph_sessions.jsonable import to_jsonable
from graph_sessions.models import (
    CheckpointInfo,
    Event,
    EventType,
    InvokeResult,
    Message,
    MessageSummary,
    RunInfo,
    RunStatus,
    SessionInfo,
    SessionPage,
    SessionStats,
    SessionStatus,
)
from graph_sessions.sync import SyncGraphSession, SyncGraphSessionManager

__version__ = "0.1.0"

__all__ = [
    "BackendError",
    "CheckpointInfo",
    "CheckpointNotFound",
    "ConfigError",
    "Event",
    "EventType",
    "GraphLoadError",
    "GraphMismatch",
    "GraphSession",
    "GraphSessionError",
    "GraphSessionManager",
    "InvalidInput",
    "InvalidTransition",
    "InvokeResult",
    "LeaseLost",
    "LeaseWaitTimeout",
    "ManagerClosed",
    "ManualClock",
    "ProjectConfig",
    "Message",
    "MessageSummary",
    "RunCancelled",
    "RunFailed",
    "RunInfo",
    "RunStatus",
    "RunStream",
    "SessionBusy",
    "SessionExists",
    "SessionExpired",
    "SessionInfo",
    "SessionNotFound",
    "SessionPage",
    "SessionStats",
    "SessionStatus",
    "SessionSuspended",
    "SweepReport",
    "SyncGraphSession",
    "SyncGraphSessionManager",
    "__version__",
    "load_config",
    "to_jsonable",
]
