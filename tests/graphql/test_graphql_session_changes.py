"""``sessionChanges`` in process (Starlette's WebSocket test client, a real SQLite file):
after its first look a tick reads only the sessions updated since the last one, not every
session of the filter; deletions and sessions leaving the filter are still reported."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from support.gql import KEYS
from support.server_graphs import approval, work

from graph_sessions import GraphSessionManager
from graph_sessions.server import ServerSettings, create_app

pytestmark = pytest.mark.slow  # polls (a short interval)

CHANGES = """subscription($f: SessionFilter) {
  sessionChanges(filter: $f) { session { id status } previousStatus removed } }"""
ALICE = {"Authorization": "Bearer ka"}


def next_change(ws: WebSocketTestSession) -> dict[str, Any]:
    while True:
        msg: dict[str, Any] = ws.receive_json()
        if msg["type"] == "ping":
            ws.send_json({"type": "pong"})
            continue
        assert msg["type"] == "next", msg
        change: dict[str, Any] = msg["payload"]["data"]["sessionChanges"]
        return change


def test_a_tick_reads_only_what_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manager = GraphSessionManager(
        graph={"work": work, "approval": approval},
        backend=f"sqlite:///{tmp_path / 's.db'}",
        output_key="response",
    )
    app = create_app(manager, ServerSettings(api_keys=KEYS, events_poll_interval=0.05))
    read: list[int] = []  # rows each list query of the backend answered
    real = manager.backend.list_sessions

    async def list_sessions(query: Any) -> Any:  # the real listing, its size recorded
        rows = await real(query)
        read.append(len(rows))
        return rows

    monkeypatch.setattr(manager.backend, "list_sessions", list_sessions)
    # a look reads again what was updated within LOOKBACK of the newest update it saw:
    # shortened, and waited out, so the 40 sessions made below are older than that
    monkeypatch.setattr("graph_sessions.graphql.changes.LOOKBACK", timedelta(seconds=0.2))
    with TestClient(app) as http:
        for i in range(40):
            assert http.post("/sessions", json={"session_id": f"s{i}"}, headers=ALICE).is_success
        time.sleep(0.3)
        with http.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            ws.send_json({"type": "connection_init", "payload": ALICE})
            assert ws.receive_json()["type"] == "connection_ack"
            ws.send_json(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": CHANGES, "variables": {"f": {"status": ["CREATED"]}}},
                }
            )
            # wait until the first look has read the 40 sessions
            for _ in range(400):
                if sum(read) >= 40:
                    break
                http.get("/healthz")
            r = http.post("/sessions/s3/invoke", json={"input": {"user_input": "x"}}, headers=ALICE)
            assert r.status_code == 200
            change = next_change(ws)  # completed: it left the filter
            assert change["session"]["id"] == "s3"
            assert change["previousStatus"] == "CREATED" and change["removed"] is True
            before = sum(read)
            assert http.post("/sessions", json={"session_id": "new"}, headers=ALICE).is_success
            change = next_change(ws)
            assert change["session"] == {"id": "new", "status": "CREATED"}
            assert change["previousStatus"] is None and change["removed"] is False
            # the ticks between the two changes read the new session, not the 40 others
            assert sum(read) - before < 10, read
            assert http.delete("/sessions/s7", headers=ALICE).status_code in (200, 204)
            change = next_change(ws)
            assert change["session"]["id"] == "s7" and change["removed"] is True
            ws.send_json({"id": "1", "type": "complete"})


async def test_a_session_whose_ttl_passes_enters_expired_and_leaves_the_rest() -> None:
    """Expiry by time changes no row: the count tells the watch, and membership is the
    listing's own rule (a session past its TTL is ``expired``)."""
    import asyncio

    from graph_sessions.graphql.changes import ChangeWatch

    async with GraphSessionManager(graph=work, backend="memory://", sweep_interval=None) as m:
        await m.create("short", ttl=1)
        await m.create("long")
        expired = ChangeWatch(m, ["expired"], {})
        every = ChangeWatch(m, None, {})
        assert await expired.look() == [] and await every.look() == []
        assert set(every.known) == {"short", "long"} and expired.known == {}
        await asyncio.sleep(1.3)
        entered = await expired.look()
        assert [(c.info.session_id, c.removed) for c in entered] == [("short", False)]
        left = await every.look()
        assert [(c.info.session_id, c.removed) for c in left] == [("short", True)]
        assert await expired.look() == [] and await every.look() == []


async def test_an_update_older_than_the_newest_seen_is_still_read() -> None:
    """A write that commits after a newer one was read (or comes from a server whose clock
    is a little behind) lands behind the watch's newest update: the look-back reads it."""
    from graph_sessions.graphql.changes import LOOKBACK, ChangeWatch

    async with GraphSessionManager(graph=work, backend="memory://", sweep_interval=None) as m:
        a = await m.create("a")
        b = await m.create("b")
        watch = ChangeWatch(m, None, {})  # a status change inside the filter: no count moves
        await watch.look()
        await b.invoke({"user_input": "ask"})
        assert [c.info.session_id for c in await watch.look()] == ["b"]
        assert watch.high_water is not None
        # "a" is run by a writer whose clock runs 2 s behind
        clock = m.context.clock
        m.context.clock = lambda: clock() - timedelta(seconds=2)
        try:
            await a.invoke({"user_input": "ask"})
        finally:
            m.context.clock = clock
        assert a.info.updated_at < watch.high_water
        assert timedelta(seconds=2) < LOOKBACK
        assert [c.info.session_id for c in await watch.look()] == ["a"]
