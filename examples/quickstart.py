"""Quickstart: a durable session that pauses for approval, survives a restart, and resumes.

    python examples/quickstart.py            # uses ./quickstart.db (SQLite, no server)

Run it twice: the second time the session already exists and continues where it stopped.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from graph_sessions import GraphSessionManager

HERE = Path(__file__).resolve().parent
GRAPH = f"{HERE / 'support_bot.py'}:graph"


def make_manager(db: str) -> GraphSessionManager:
    return GraphSessionManager(
        graph=GRAPH, backend=f"sqlite:///{db}", output_key="response", ttl=24 * 3600
    )


async def main(db: str) -> None:
    # First process: start a conversation; the graph pauses to ask for approval.
    async with make_manager(db) as manager:
        session = await manager.get_or_create("user-123", owner="alice", metadata={"plan": "pro"})
        print(f"session {session.session_id}: {session.status}")
        if session.status != "interrupted":
            result = await session.invoke({"user_input": "my invoice is wrong"})
            print(f"invoke -> {result.status}; the graph asks: {result.interrupt['message']}")

    # "Restart": a brand-new manager on the same file finds the paused session.
    async with make_manager(db) as manager:
        session = await manager.get_or_create("user-123", owner="alice")
        print(
            f"after restart: {session.status}, pending interrupt: {session.info.interrupts[0]['value']['message']}"
        )
        result = await session.invoke({"user_input": "yes"})  # answers the interrupt
        print(f"resume -> {result.status}; reply: {result.output}")
        print("events:", ", ".join(e.type for e in await session.events()))
        page = await manager.list(owner="alice")
        print(f"alice has {len(page)} session(s); stats: {(await manager.stats()).by_status}")
        await manager.delete("user-123")  # everything of the session is gone in one transaction
        print(f"deleted; get -> {await manager.get('user-123')}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "quickstart.db"))
