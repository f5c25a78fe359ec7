"""The python tool of fanout.yaml: one branch of the fan-out."""

from __future__ import annotations

import asyncio
from typing import Any


async def review_topic(state: dict[str, Any]) -> str:
    """Review one topic (``state["topic"]``); async tools run concurrently across branches."""
    topic = str(state["topic"])
    await asyncio.sleep(0.01 * (len(topic) % 3))  # branches finish out of order
    verdict = "solid" if len(topic) % 2 == 0 else "needs work"
    return f"{topic}: {verdict}"
