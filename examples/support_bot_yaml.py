"""The support bot as a YAML graph (examples/graphs/support_bot.yaml) in a durable session.

    python examples/support_bot_yaml.py [db path]     # default: ./support_bot_yaml.db

The graph drafts a reply and pauses for approval; a second manager on the same file (a
"restart") finds the paused session and approves it.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from graph_sessions import GraphSessionManager

HERE = Path(__file__).resolve().parent
GRAPH = HERE / "graphs" / "support_bot.yaml"


def make_manager(db: str) -> GraphSessionManager:
    """A manager serving the YAML graph from a SQLite file."""
    return GraphSessionManager(graph_path=GRAPH, backend=f"sqlite:///{db}", output_key="response")


async def main(db: str) -> None:
    async with make_manager(db) as manager:
        session = await manager.get_or_create("ticket-42", owner="alice")
        if session.status != "interrupted":
            result = await session.invoke({"user_input": "my parcel never arrived"})
            print(f"invoke -> {result.status}; the graph asks: {result.interrupt['message']}")

    async with make_manager(db) as manager:  # a restart: the pause survived
        session = await manager.get_or_create("ticket-42", owner="alice")
        print(f"after restart: {session.status}")
        result = await session.invoke({"user_input": "yes"})
        print(f"resume -> {result.status}; reply: {result.output}")
        print("history:", " | ".join(result.state["history"]))
        await manager.delete("ticket-42")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "support_bot_yaml.db"))
