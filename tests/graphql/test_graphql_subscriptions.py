"""Subscriptions over graphql-transport-ws with a real WebSocket client (``websockets``)
against a real server process: the live log while a run executes from another request, a
run's chunks, status changes; another owner's subscription gets nothing; a wrong key is
refused at connection_init."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from support.gql import WsClient, ws_connect
from support.server import API_KEYS_ENV, JWT_SECRET, KEYS, ServerProcess, start_module_server

pytestmark = pytest.mark.slow

EVENTS = "subscription($id: ID!, $after: Int) { sessionEvents(id: $id, after: $after) { id type runId } }"
RUN = """subscription($id: ID!, $input: JSON, $mode: [String!]) {
  run(id: $id, input: $input, mode: $mode) { seq event data } }"""
CHANGES = """subscription($f: SessionFilter) {
  sessionChanges(filter: $f) { session { id status owner } previousStatus removed } }"""


def bearer(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[who]}"}


@pytest.fixture(scope="module")
def gql_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = start_module_server(
        tmp_path_factory.mktemp("gql-server"),
        env={
            "GRAPH_SESSIONS_API_KEYS": API_KEYS_ENV,
            "GRAPH_SESSIONS_EVENTS_POLL_INTERVAL": "0.2",
            "GRAPH_SESSIONS_RUN_TIMEOUT": "5",
            "GRAPH_SESSIONS_JWT_SECRET": JWT_SECRET,
        },
    )
    yield proc
    proc.stop()


def ws_url(server: ServerProcess) -> str:
    return server.url.replace("http://", "ws://") + "/graphql"


async def next_of(client: WsClient, op: str) -> dict[str, Any]:
    """The next message of operation ``op``."""
    msg = await client.message()
    assert msg.get("id") == op, msg
    return msg


async def test_events_arrive_while_a_run_executes_in_another_request(
    gql_server: ServerProcess, tmp_path: Path
) -> None:
    async with httpx.AsyncClient(base_url=gql_server.url, headers=bearer("alice"), timeout=30) as c:
        first = await c.post("/sessions/live/invoke", json={"input": {"user_input": "a"}})
        assert first.status_code == 200, first.text
        async with (
            ws_connect(ws_url(gql_server), bearer("alice")) as alice,
            ws_connect(ws_url(gql_server), {"apiKey": KEYS["bob"]}) as bob,
        ):
            spy = await bob.subscribe(EVENTS, {"id": "live"})
            refused = await next_of(bob, spy)
            assert refused["type"] == "next" and refused["payload"]["data"] is None, refused
            assert refused["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"
            assert (await next_of(bob, spy))["type"] == "complete"

            op = await alice.subscribe(EVENTS, {"id": "live"})
            backlog: list[dict[str, Any]] = []
            while not backlog or backlog[-1]["type"] != "run_completed":
                msg = await next_of(alice, op)
                assert msg["type"] == "next", msg
                backlog.append(msg["payload"]["data"]["sessionEvents"])
            last_old = backlog[-1]["id"]

            invoke = asyncio.create_task(
                c.post("/sessions/live/invoke", json={"input": {"user_input": "b", "delay": 2.0}})
            )
            msg = await next_of(alice, op)
            started = msg["payload"]["data"]["sessionEvents"]
            assert started["type"] == "run_started" and started["id"] > last_old
            assert not invoke.done()  # the event came while the run was executing
            done = await invoke
            assert done.status_code == 200 and done.json()["output"] == "echo:b"
            while True:
                event = (await next_of(alice, op))["payload"]["data"]["sessionEvents"]
                if event["type"] == "run_completed":
                    assert event["runId"] == done.json()["run_id"]
                    break

            # bob's connection saw nothing else: his next message is his own operation's
            mine = await bob.subscribe(EVENTS, {"id": "bobs-own"})
            assert (await bob.message())["id"] == mine

            # deleting the session completes the tail
            assert (await c.delete("/sessions/live")).status_code == 204
            assert (await next_of(alice, op))["type"] == "complete"


async def test_run_streams_its_chunks_then_the_result(gql_server: ServerProcess) -> None:
    async with ws_connect(ws_url(gql_server), bearer("alice")) as alice:
        op = await alice.subscribe(
            RUN, {"id": "streamed", "input": {"user_input": "s"}, "mode": ["custom"]}
        )
        got: list[dict[str, Any]] = []
        while True:
            msg = await next_of(alice, op)
            if msg["type"] == "complete":
                break
            assert msg["type"] == "next", msg
            got.append(msg["payload"]["data"]["run"])
        assert [g["event"] for g in got] == ["custom", "custom", "result"]
        assert got[0]["data"] == {"progress": 0, "input": "s"}
        assert got[-1]["data"]["output"] == "echo:s" and got[-1]["data"]["status"] == "complete"
        assert [g["seq"] for g in got] == [1, 2, 3]
    async with ws_connect(ws_url(gql_server), bearer("bob")) as bob:
        op = await bob.subscribe(RUN, {"id": "streamed", "input": {"user_input": "x"}})
        msg = await next_of(bob, op)
        errors = msg["payload"] if msg["type"] == "error" else msg["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "NOT_FOUND"


async def test_session_changes_for_a_filter(gql_server: ServerProcess) -> None:
    async with (
        httpx.AsyncClient(base_url=gql_server.url, timeout=30) as c,
        ws_connect(ws_url(gql_server), bearer("alice")) as alice,
        ws_connect(ws_url(gql_server), bearer("bob")) as bob,
    ):
        ok = await c.post("/sessions", json={"session_id": "watched"}, headers=bearer("alice"))
        assert ok.status_code == 201
        a_op = await alice.subscribe(CHANGES, {"f": {"status": ["COMPLETED", "SUSPENDED"]}})
        b_op = await bob.subscribe(CHANGES, {"f": {}})
        await asyncio.sleep(0.5)  # let both take their first look (no assertion on time)
        r = await c.post(
            "/sessions/watched/invoke", json={"input": {"user_input": "w"}}, headers=bearer("alice")
        )
        assert r.status_code == 200
        change = (await next_of(alice, a_op))["payload"]["data"]["sessionChanges"]
        assert change["session"] == {"id": "watched", "status": "COMPLETED", "owner": "alice"}
        assert change["previousStatus"] is None and change["removed"] is False
        r = await c.post("/sessions/watched/suspend", json={}, headers=bearer("alice"))
        assert r.status_code == 200
        change = (await next_of(alice, a_op))["payload"]["data"]["sessionChanges"]
        assert (
            change["session"]["status"] == "SUSPENDED" and change["previousStatus"] == "COMPLETED"
        )

        r = await c.post("/sessions", json={"session_id": "bobs"}, headers=bearer("bob"))
        assert r.status_code == 201
        # bob's first change is his own session: alice's never reached him
        change = (await next_of(bob, b_op))["payload"]["data"]["sessionChanges"]
        assert change["session"]["id"] == "bobs" and change["session"]["owner"] == "bob"


async def test_wrong_key_is_refused_at_connection_init(gql_server: ServerProcess) -> None:
    for payload in ({"Authorization": "Bearer wrong"}, {"apiKey": "wrong"}, {}):
        async with websockets.connect(
            ws_url(gql_server), subprotocols=["graphql-transport-ws"]
        ) as ws:  # type: ignore[list-item]
            await ws.send(
                '{"type": "connection_init", "payload": ' + __import__("json").dumps(payload) + "}"
            )
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


async def test_a_run_past_the_run_timeout_ends_with_timeout(gql_server: ServerProcess) -> None:
    async with ws_connect(ws_url(gql_server), bearer("alice")) as alice:
        variables = {"id": "slow", "input": {"user_input": "z", "delay": 30}, "mode": ["custom"]}
        op = await alice.subscribe(RUN, variables)
        first = await next_of(alice, op)
        assert first["payload"]["data"]["run"]["event"] == "custom"
        msg = await next_of(alice, op)
        assert msg["type"] == "next" and msg["payload"]["data"] is None, msg
        error = msg["payload"]["errors"][0]
        assert error["extensions"]["code"] == "TIMEOUT"
        assert error["extensions"]["error"] == "run_timeout"
        assert (await next_of(alice, op))["type"] == "complete"
    async with httpx.AsyncClient(base_url=gql_server.url, headers=bearer("alice")) as c:
        runs = (await c.get("/sessions/slow/runs")).json()
        assert runs[0]["status"] != "running"


async def test_a_jwt_in_connection_init_names_the_owner(gql_server: ServerProcess) -> None:
    import jwt

    token = jwt.encode({"sub": "carol"}, JWT_SECRET, algorithm="HS256")
    async with ws_connect(ws_url(gql_server), {"Authorization": f"Bearer {token}"}) as carol:
        op = await carol.subscribe(RUN, {"id": "carols", "input": {"user_input": "c"}})
        while (msg := await next_of(carol, op))["type"] != "complete":
            assert "errors" not in msg["payload"], msg
    async with httpx.AsyncClient(base_url=gql_server.url, headers=bearer("root")) as c:
        assert (await c.get("/sessions/carols")).json()["owner"] == "carol"
    bad = jwt.encode({"sub": "carol"}, "another-secret-of-enough-length!!", algorithm="HS256")
    async with websockets.connect(ws_url(gql_server), subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {bad}"}})
        )
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


async def test_a_websocket_runs_a_bounded_number_of_operations(gql_server: ServerProcess) -> None:
    from graph_sessions.graphql.router import MAX_SUBSCRIPTIONS

    async with httpx.AsyncClient(base_url=gql_server.url, headers=bearer("alice")) as c:
        assert (await c.post("/sessions", json={"session_id": "many"})).status_code == 201
    async with ws_connect(ws_url(gql_server), bearer("alice")) as alice:
        for _ in range(MAX_SUBSCRIPTIONS):
            await alice.subscribe(EVENTS, {"id": "many"})
        one_more = await alice.subscribe(EVENTS, {"id": "many"})
        msg = await alice.message()
        while msg["id"] != one_more:  # the session's backlog to the others, if any
            msg = await alice.message()
        assert msg["type"] == "error" and "limit" in msg["payload"][0]["message"]
