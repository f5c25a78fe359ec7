"""A session's chat transcript: an append-only log kept beside the graph state."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from graph_sessions.core.context import CoreContext
from graph_sessions.errors import InvalidInput
from graph_sessions.models import Message, MessageSummary, SessionInfo
from graph_sessions.storage.backend import NewMessage

_ROLE_OF_TYPE = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


def to_new_message(
    item: Any, content: Any = None, data: dict[str, Any] | None = None
) -> NewMessage:
    """Accept ``("role", content)``, ``{"role", "content", ...}`` or a LangChain message."""
    if isinstance(item, str):
        return NewMessage(role=item, content=content, data=dict(data or {}))
    if isinstance(item, dict):
        if "role" not in item or "content" not in item:
            raise InvalidInput("a message dict needs 'role' and 'content' keys")
        extra = {k: v for k, v in item.items() if k not in ("role", "content")}
        return NewMessage(
            role=str(item["role"]), content=item["content"], data={**extra, **(data or {})}
        )
    msg_type = getattr(item, "type", None)
    if isinstance(msg_type, str) and hasattr(item, "content"):
        extra = {"id": getattr(item, "id", None)} if getattr(item, "id", None) else {}
        return NewMessage(
            role=_ROLE_OF_TYPE.get(msg_type, msg_type),
            content=item.content,
            data={**extra, **(data or {})},
        )
    raise InvalidInput(
        f"cannot store a {type(item).__name__} as a message: pass (role, content), a dict with "
        "'role' and 'content', or a LangChain message"
    )


class TranscriptOwner(Protocol):
    """What a transcript belongs to: a session (its id, context, and a way to check it is
    still live)."""

    context: CoreContext

    @property
    def session_id(self) -> str:
        """The session's id."""
        ...

    async def refresh(self) -> SessionInfo:
        """Re-read the session's row (raises when it is gone or expired)."""
        ...


class SessionMessages:
    """``session.messages``: append, extend, load, clear and summarise the transcript."""

    def __init__(self, session: TranscriptOwner) -> None:
        self._session = session

    async def append(
        self, message: Any, content: Any = None, *, data: dict[str, Any] | None = None
    ) -> Message:
        """Append one message: ``append("user", "hi")``, ``append({"role": ..., "content": ...})``
        or ``append(HumanMessage("hi"))``. Returns it with its id."""
        new = to_new_message(message, content, data)
        ids = await self._append([new])
        return Message(
            id=ids[0],
            session_id=self._session.session_id,
            role=new.role,
            content=new.content,
            data=new.data,
            created_at=self._session.context.now(),
        )

    async def _append(self, messages: list[NewMessage]) -> list[int]:
        await self._session.refresh()
        return await self._session.context.backend.append_messages(
            self._session.session_id, messages, self._session.context.now()
        )

    async def extend(self, messages: Iterable[Any]) -> list[int]:
        """Append several messages in one transaction; returns their ids in order."""
        news = [to_new_message(m) for m in messages]
        return await self._append(news) if news else []

    async def load(self, limit: int | None = None, before: int | None = None) -> list[Message]:
        """The last ``limit`` messages (all when ``None``) older than id ``before``, oldest first."""
        if limit is not None and limit < 0:
            raise InvalidInput("limit must be >= 0", session_id=self._session.session_id)
        await self._session.refresh()
        return await self._session.context.backend.load_messages(
            self._session.session_id, limit=limit, before_id=before
        )

    async def clear(self) -> int:
        """Delete the transcript; returns how many messages were removed."""
        await self._session.refresh()
        return await self._session.context.backend.clear_messages(self._session.session_id)

    async def summary(self) -> MessageSummary:
        """Count by role, first and last timestamps and the last message."""
        await self._session.refresh()
        return await self._session.context.backend.message_summary(self._session.session_id)
