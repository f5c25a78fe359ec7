"""The project's closed sets of words, each spelled once.

Every layer (storage, core, config, server, CLI) takes its value sets, defaults and
validation messages from here, so adding a value (a multitask strategy, a sort field)
means editing one ``Literal`` below plus the code that implements what the value does.
This module imports nothing of the package, so anything may import it.
"""

from __future__ import annotations

from typing import Any, Final, Literal, get_args

#: What a run does when its session is busy: wait its turn, fail, cancel the runs ahead of
#: it, or cancel them and drop what they wrote.
MultitaskStrategy = Literal["enqueue", "reject", "interrupt", "rollback"]
#: How a run is cancelled: keep its finished steps, or drop what it wrote (the multitask
#: strategies that cancel, as LangGraph's cancel routes name them).
CancelAction = Literal["interrupt", "rollback"]
#: LangGraph's durability: when checkpoints are written.
Durability = Literal["sync", "async", "exit"]
#: ``sliding``: each activity extends a session's TTL; ``absolute``: it counts from creation.
TTLMode = Literal["sliding", "absolute"]
#: What the sweeper does with an expired session: delete it, or keep its latest checkpoint.
ExpiryStrategy = Literal["delete", "keep_latest"]
#: What a streamed run does when its client goes away.
OnDisconnect = Literal["continue", "cancel"]
#: The columns sessions can be listed by.
SortField = Literal["created_at", "updated_at", "expires_at"]
#: The direction of a listing.
SortOrder = Literal["asc", "desc"]
#: What an authenticated caller may do: its own sessions, or every session.
Role = Literal["user", "admin"]

MULTITASK_STRATEGIES: Final[tuple[MultitaskStrategy, ...]] = get_args(MultitaskStrategy)
DURABILITIES: Final[tuple[Durability, ...]] = get_args(Durability)
CANCEL_ACTIONS: Final[tuple[CancelAction, ...]] = get_args(CancelAction)
TTL_MODES: Final[tuple[TTLMode, ...]] = get_args(TTLMode)
EXPIRY_STRATEGIES: Final[tuple[ExpiryStrategy, ...]] = get_args(ExpiryStrategy)
ON_DISCONNECT: Final[tuple[OnDisconnect, ...]] = get_args(OnDisconnect)
SORT_FIELDS: Final[tuple[SortField, ...]] = get_args(SortField)
SORT_ORDERS: Final[tuple[SortOrder, ...]] = get_args(SortOrder)
ROLES: Final[tuple[Role, ...]] = get_args(Role)

DEFAULT_MULTITASK: Final[MultitaskStrategy] = "enqueue"
DEFAULT_DURABILITY: Final[Durability] = "async"
DEFAULT_TTL_MODE: Final[TTLMode] = "sliding"
DEFAULT_EXPIRY: Final[ExpiryStrategy] = "delete"
DEFAULT_ON_DISCONNECT: Final[OnDisconnect] = "continue"
DEFAULT_SORT: Final[SortField] = "created_at"
DEFAULT_ORDER: Final[SortOrder] = "desc"
DEFAULT_ROLE: Final[Role] = "user"


def one_of(choices: tuple[str, ...]) -> str:
    """How a validation message names the choices: ``'a' or 'b'``, ``one of a, b, c``."""
    if len(choices) == 2:
        return f"{choices[0]!r} or {choices[1]!r}"
    return f"one of {', '.join(choices)}"


def choice_error(name: str, value: Any, choices: tuple[str, ...]) -> str | None:
    """``None`` when ``value`` is one of ``choices``, else the message saying what is allowed."""
    if isinstance(value, str) and value in choices:
        return None
    return f"{name} must be {one_of(choices)}, not {value!r}"


def pattern(choices: tuple[str, ...]) -> str:
    """A regular expression matching exactly one of ``choices`` (for query parameters)."""
    return f"^({'|'.join(choices)})$"


__all__ = [
    "CANCEL_ACTIONS",
    "DEFAULT_DURABILITY",
    "DEFAULT_EXPIRY",
    "DEFAULT_MULTITASK",
    "DEFAULT_ON_DISCONNECT",
    "DEFAULT_ORDER",
    "DEFAULT_ROLE",
    "DEFAULT_SORT",
    "DEFAULT_TTL_MODE",
    "DURABILITIES",
    "EXPIRY_STRATEGIES",
    "MULTITASK_STRATEGIES",
    "ON_DISCONNECT",
    "ROLES",
    "SORT_FIELDS",
    "SORT_ORDERS",
    "TTL_MODES",
    "CancelAction",
    "Durability",
    "ExpiryStrategy",
    "MultitaskStrategy",
    "OnDisconnect",
    "Role",
    "SortField",
    "SortOrder",
    "TTLMode",
    "choice_error",
    "one_of",
    "pattern",
]
