"""A server whose graph-sessions app is mounted under ``/gs`` of another FastAPI app (as a
user embeds it): ``python -m support.embedded_app PORT DB`` serves it on 127.0.0.1."""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI

from graph_sessions import GraphSessionManager
from graph_sessions.server.app import create_app
from graph_sessions.settings import ServerSettings
from support.server import API_KEYS_ENV
from support.server_graphs import work


def main() -> None:
    port, db = int(sys.argv[1]), sys.argv[2]
    manager = GraphSessionManager(graph=work, backend=f"sqlite:///{db}", output_key="response")
    outer = FastAPI()

    @outer.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    outer.mount("/gs", create_app(manager, ServerSettings(api_keys=API_KEYS_ENV)))
    uvicorn.run(outer, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
