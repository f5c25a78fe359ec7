"""The founding document's FastAPI example, as written there, on plain Redis.

    REDIS_URL=redis://127.0.0.1:6379/0 uvicorn examples.fastapi_redis:app --port 8000
    curl -X POST localhost:8000/invoke/user-123 -H 'content-type: application/json' \\
         -d '{"user_input": "my parcel never arrived"}'      # -> "interrupted"
    curl -X POST localhost:8000/invoke/user-123 -H 'content-type: application/json' \\
         -d '{"user_input": "yes"}'                           # -> "complete"

The session lives in Redis: stop the app between the two calls and the second still
resumes it. Only the import path differs from the founding document (``graph_sessions``
instead of ``yamlgraph.sessions``), and the graph is this folder's support bot (it drafts a
reply and pauses for approval). ``REDIS_URL`` may carry backend options, e.g.
``?prefix=myapp:`` to share one Redis between deployments (docs/backends.md).
"""

import os
from pathlib import Path

from fastapi import FastAPI

from graph_sessions import GraphSessionManager

GRAPH = Path(__file__).resolve().parent / "graphs" / "support_bot.yaml"

app = FastAPI()
manager: GraphSessionManager = None  # type: ignore[assignment]


@app.on_event("startup")
async def startup():
    global manager
    manager = GraphSessionManager(
        graph_path=GRAPH,
        checkpointer_config={"type": "redis", "url": os.getenv("REDIS_URL"), "ttl": 3600},
        output_key="response",
    )


@app.on_event("shutdown")
async def shutdown():
    await manager.cleanup()


@app.post("/invoke/{thread_id}")
async def invoke_graph(thread_id: str, input_data: dict):
    session = await manager.get_or_create(thread_id)
    result = await session.invoke(input_data)
    return {
        "status": result.status,
        "output": result.output,
        "complete": result.status == "complete",
    }
