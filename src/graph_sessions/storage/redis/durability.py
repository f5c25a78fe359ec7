"""Stub of the Redis durability report (written on branch redis-parts)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Durability:
    """What a crash of the Redis server can lose (unknown in this stub)."""

    def summary(self) -> str:
        """One line: what a crash can lose."""
        return "unknown"


async def read_durability(client: Any) -> Durability:
    """The server's persistence settings (not read by this stub)."""
    return Durability()
