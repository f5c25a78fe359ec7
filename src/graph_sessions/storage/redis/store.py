"""Stub of the Redis store (written on branch redis-parts): LangGraph's in-process store
for now, so the backend can be built and tested."""

from __future__ import annotations

from typing import Any

from langgraph.store.memory import InMemoryStore


class RedisStore(InMemoryStore):
    """Placeholder: ``RedisStore(client, prefix)``; keeps items in this process."""

    def __init__(self, client: Any, prefix: str) -> None:
        super().__init__()
        self.client = client
        self.prefix = prefix
