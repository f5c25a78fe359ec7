"""Quickstart: a durable session that pauses for approval, survives a restart, and resumes.

    python examples/quickstart.py            # uses ./quickstart.db (SQLite, no server)
    python examples/quickstart.py            # again: the same session continues, with its history
    python examples/quickstart.py --reset    # delete the session (start over)

Each run is one support ticket in the same session ("user-123"): the bot drafts a reply and
pauses for approval; a brand-new manager on the same file (a "restart") finds the paused
session and answers it. The session is kept, so the next run continues from its history.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from graph_sessions import GraphSessionManager

HERE = Path(__file__).resolve().parent
GRAPH = f"{HERE / 'support_bot.py'}:graph"
SESSION = "user-123"


def make_manager(db: str) -> GraphSessionManager:
    return GraphSessionManager(
        graph=GRAPH, backend=f"sqlite:///{db}", output_key="response", ttl=24 * 3600
    )


async def main(db: str, reset: bool = False) -> None:
    if reset:
        async with make_manager(db) as manager:
            deleted = await manager.delete(SESSION)  # every row of it, in one transaction
            print(f"deleted {SESSION}: {deleted}")
        return

    # First process: start a ticket; the graph pauses to ask for approval.
    async with make_manager(db) as manager:
        session = await manager.get_or_create(SESSION, owner="alice", metadata={"plan": "pro"})
        print(f"session {session.session_id}: {session.status}, {session.info.run_count} run(s)")
        if session.status != "interrupted":
            ticket = session.info.run_count // 2 + 1
            result = await session.invoke({"user_input": f"my invoice is wrong (ticket {ticket})"})
            print(f"invoke -> {result.status}; the graph asks: {result.interrupt['message']}")

    # "Restart": a brand-new manager on the same file finds the paused session.
    async with make_manager(db) as manager:
        session = await manager.get_or_create(SESSION, owner="alice")
        pending = session.info.interrupts[0]["value"]["message"]
        print(f"after restart: {session.status}, pending interrupt: {pending}")
        result = await session.invoke({"user_input": "yes"})  # answers the interrupt
        print(f"resume -> {result.status}; reply: {result.output}")
        history = result.state["history"]
        print(f"history: {len(history)} entries over {session.info.run_count} runs")
        page = await manager.list(owner="alice")
        print(f"alice has {len(page)} session(s); stats: {(await manager.stats()).by_status}")
    print("run it again: the same session continues (--reset deletes it)")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--reset"]
    asyncio.run(main(args[0] if args else "quickstart.db", reset="--reset" in sys.argv[1:]))
