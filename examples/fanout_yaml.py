"""A map/fan-out YAML graph (examples/graphs/fanout.yaml) run in a durable session.

    python examples/fanout_yaml.py [db path]     # default: ./fanout_yaml.db

Each invoke fans out over ``topics`` (one LangGraph ``Send`` per item), collects the
results in item order and writes a report; a second invoke starts a fresh map.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from graph_sessions import GraphSessionManager

GRAPH = Path(__file__).resolve().parent / "graphs" / "fanout.yaml"


async def main(db: str) -> None:
    async with GraphSessionManager(
        graph_path=GRAPH, backend=f"sqlite:///{db}", output_key="report"
    ) as manager:
        session = await manager.create(owner="alice")
        for topics in (["pricing", "onboarding", "docs"], ["api", "billing"]):
            result = await session.invoke({"topics": topics})
            print(f"{result.status}: {result.output}")
        await manager.delete(session.session_id)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "fanout_yaml.db"))
