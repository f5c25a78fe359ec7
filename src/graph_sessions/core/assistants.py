"""Assistants: a served graph with its own config, context, metadata and name, versioned
(LangGraph's assistants). Every change is a new version; any stored version can be made the
current one again. An assistant belongs to its owner (``None``: everyone's)."""

from __future__ import annotations

import builtins
import uuid
from typing import Any

from graph_sessions.core.context import CoreContext
from graph_sessions.core.sessions import check_metadata
from graph_sessions.errors import InvalidInput
from graph_sessions.models import AssistantInfo

#: the longest assistant id and name
MAX_ID = 256
MAX_NAME = 1024


def _visible(info: AssistantInfo | None, owner: str | None) -> AssistantInfo | None:
    if info is None or (owner is not None and info.owner != owner):
        return None
    return info


class Assistants:
    """The assistants of one manager (``manager.assistants``)."""

    def __init__(self, ctx: CoreContext) -> None:
        self.ctx = ctx

    def _check(
        self,
        graph_id: str | None,
        name: str | None,
        fields: dict[str, dict[str, Any] | None],
    ) -> None:
        if graph_id is not None and graph_id not in self.ctx.graphs.ids:
            raise InvalidInput(f"graph {graph_id!r} is not served; one of {self.ctx.graphs.ids}")
        if name is not None and (not isinstance(name, str) or len(name) > MAX_NAME):
            raise InvalidInput(f"an assistant name is text of at most {MAX_NAME} characters")
        for label, value in fields.items():
            if value is not None:
                try:
                    check_metadata(value, "")
                except InvalidInput:
                    raise InvalidInput(f"{label} must be a JSON object") from None

    async def create(
        self,
        graph_id: str,
        *,
        assistant_id: str | None = None,
        owner: str | None = None,
        name: str | None = None,
        description: str | None = None,
        config: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> AssistantInfo | None:
        """A new assistant (version 1) of served graph ``graph_id``; ``None`` when
        ``assistant_id`` is taken (nothing written)."""
        self.ctx.require_open()
        self._check(graph_id, name, {"config": config, "context": context, "metadata": metadata})
        if assistant_id is not None and not (0 < len(assistant_id) <= MAX_ID):
            raise InvalidInput(f"an assistant id has 1 to {MAX_ID} characters")
        now = self.ctx.now()
        info = AssistantInfo(
            assistant_id=assistant_id or str(uuid.uuid4()),
            graph_id=graph_id,
            owner=owner,
            name=name if name is not None else "Untitled",
            description=description,
            config=dict(config or {}),
            context=dict(context or {}),
            metadata=dict(metadata or {}),
            created_at=now,
            updated_at=now,
        )
        return info if await self.ctx.backend.create_assistant(info) else None

    async def get(self, assistant_id: str, *, owner: str | None = None) -> AssistantInfo | None:
        """The assistant at its current version; ``None`` when absent or another owner's."""
        self.ctx.require_open()
        return _visible(await self.ctx.backend.get_assistant(assistant_id), owner)

    async def list(self, *, owner: str | None = None) -> list[AssistantInfo]:
        """Every assistant ``owner`` may see (all for ``None``), oldest first."""
        self.ctx.require_open()
        found = await self.ctx.backend.list_assistants()
        return [a for a in found if _visible(a, owner) is not None]

    async def update(
        self,
        assistant_id: str,
        *,
        owner: str | None = None,
        graph_id: str | None = None,
        name: str | None = None,
        description: str | None = None,
        config: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> AssistantInfo | None:
        """A new version (the highest + 1, made current): the given fields replace the
        current version's, ``metadata`` is merged into it. ``None`` when absent or another
        owner's."""
        self.ctx.require_open()
        self._check(graph_id, name, {"config": config, "context": context, "metadata": metadata})
        while True:  # another writer took the next version meanwhile: read again
            current = await self.get(assistant_id, owner=owner)
            if current is None:
                return None
            versions = await self.ctx.backend.list_assistant_versions(assistant_id)
            top = versions[0].version if versions else current.version
            new = current.model_copy(
                update={
                    "graph_id": graph_id if graph_id is not None else current.graph_id,
                    "name": name if name is not None else current.name,
                    "description": description if description is not None else current.description,
                    "config": dict(config) if config is not None else current.config,
                    "context": dict(context) if context is not None else current.context,
                    "metadata": {**current.metadata, **(metadata or {})},
                    "version": top + 1,
                    "updated_at": self.ctx.now(),
                },
                deep=True,
            )
            if await self.ctx.backend.add_assistant_version(new):
                return new

    async def versions(
        self, assistant_id: str, *, owner: str | None = None
    ) -> builtins.list[AssistantInfo]:
        """Every version, newest first (``[]`` when absent or another owner's)."""
        if await self.get(assistant_id, owner=owner) is None:
            return []
        return await self.ctx.backend.list_assistant_versions(assistant_id)

    async def set_version(
        self, assistant_id: str, version: int, *, owner: str | None = None
    ) -> AssistantInfo | None:
        """Make stored ``version`` the current one; ``None`` when the assistant (for this
        owner) or the version does not exist."""
        if await self.get(assistant_id, owner=owner) is None:
            return None
        return await self.ctx.backend.set_assistant_version(assistant_id, version, self.ctx.now())

    async def delete(self, assistant_id: str, *, owner: str | None = None) -> bool:
        """Delete the assistant and its versions; False when absent or another owner's."""
        if await self.get(assistant_id, owner=owner) is None:
            return False
        return await self.ctx.backend.delete_assistant(assistant_id)


__all__ = ["Assistants"]
