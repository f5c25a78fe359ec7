"""Helpers of the GraphQL tests: credentials, posting a document, reading error codes, and a
``graphql-transport-ws`` client over ``websockets``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import websockets

KEYS = "ka:alice,kb:bob,kr:root:admin"
ALICE = {"Authorization": "Bearer ka"}
BOB = {"X-Api-Key": "kb"}
ROOT = {"Authorization": "Bearer kr"}


async def gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    status: int = 200,
) -> dict[str, Any]:
    """POST a document to /graphql; the JSON answer (its status checked)."""
    r = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers or ALICE
    )
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    return body


def codes(body: dict[str, Any]) -> list[str]:
    """The extensions.code of each error of an answer."""
    return [e.get("extensions", {}).get("code") for e in body.get("errors") or []]


class WsClient:
    """One graphql-transport-ws connection: ``subscribe`` starts an operation, ``next``
    reads the next message of it."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.seq = 0

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        """Start an operation; its id."""
        self.seq += 1
        op = str(self.seq)
        payload = {"query": query, "variables": variables or {}}
        await self.ws.send(json.dumps({"id": op, "type": "subscribe", "payload": payload}))
        return op

    async def message(self, timeout: float = 20.0) -> dict[str, Any]:
        """The next message that is not a ping (pings are answered)."""
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), timeout)
            msg: dict[str, Any] = json.loads(raw)
            if msg["type"] == "ping":
                await self.ws.send(json.dumps({"type": "pong"}))
                continue
            return msg


@asynccontextmanager
async def ws_connect(url: str, payload: dict[str, Any] | None) -> AsyncIterator[WsClient]:
    """A connection to ``url`` (ws://.../graphql), acknowledged after ``connection_init``
    with ``payload``; the ack is checked."""
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": payload or {}}))
        client = WsClient(ws)
        ack = await client.message()
        assert ack["type"] == "connection_ack", ack
        yield client
