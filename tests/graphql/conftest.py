"""Fixtures of the GraphQL tests: the app in process on a real SQLite file (alice and bob
users, root admin) and an httpx client of it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from support.gql import KEYS
from support.server_graphs import approval, work

from graph_sessions import GraphSessionManager
from graph_sessions.server import ServerSettings, create_app


@pytest.fixture
async def gql_app(tmp_path: Path) -> AsyncIterator[FastAPI]:
    manager = GraphSessionManager(
        graph={"work": work, "approval": approval},
        backend=f"sqlite:///{tmp_path / 's.db'}",
        output_key="response",
    )
    async with manager:
        yield create_app(manager, ServerSettings(api_keys=KEYS))


@pytest.fixture
async def client(gql_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=gql_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c
