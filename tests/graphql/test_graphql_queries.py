"""Queries and mutations through httpx against the app, on a real SQLite file: the same
results as REST, owner scoping, typed errors as extensions.code."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from support.gql import ALICE, BOB, ROOT, codes, gql

INVOKE = """
mutation($id: ID!, $input: JSON) {
  invoke(id: $id, input: $input) { status output state interrupts runId checkpointId sessionId }
}"""
SESSION = """
query($id: ID!) {
  session(id: $id) {
    id status owner graphId metadata ttl expiresAt createdAt updatedAt runCount
    state pendingInterrupts next
    checkpoints(first: 2) { checkpointId step source }
    events { id type runId }
    runs { runId status kind }
    messages { id role }
  }
}"""


async def test_invoke_then_read_the_session(client: httpx.AsyncClient) -> None:
    out = await gql(client, INVOKE, {"id": "s1", "input": {"user_input": "hi"}})
    assert "errors" not in out, out
    result = out["data"]["invoke"]
    assert result["status"] == "complete"
    assert result["output"] == "echo:hi"
    assert result["state"]["log"] == ["hi"]
    assert result["sessionId"] == "s1" and result["runId"] and result["checkpointId"]

    got = (await gql(client, SESSION, {"id": "s1"}))["data"]["session"]
    assert got["id"] == "s1" and got["status"] == "COMPLETED" and got["owner"] == "alice"
    assert got["graphId"] == "work" and got["runCount"] == 1
    assert got["state"]["response"] == "echo:hi"
    assert got["pendingInterrupts"] == [] and got["next"] == []
    assert len(got["checkpoints"]) == 2
    assert got["checkpoints"][0]["checkpointId"] == result["checkpointId"]
    assert [r["runId"] for r in got["runs"]] == [result["runId"]]
    assert got["runs"][0]["status"] == "success"
    types = [e["type"] for e in got["events"]]
    assert "run_started" in types and "run_completed" in types

    rest = (await client.get("/sessions/s1/state", headers=ALICE)).json()
    assert rest["values"] == got["state"]


async def test_another_owners_session_does_not_exist(client: httpx.AsyncClient) -> None:
    await gql(client, INVOKE, {"id": "mine", "input": {"user_input": "x"}})
    assert (await gql(client, SESSION, {"id": "mine"}, headers=BOB))["data"]["session"] is None
    for mutation in (
        'invoke(id: "mine", input: {user_input: "steal"}) { status }',
        'updateMetadata(id: "mine", metadata: {a: 1}) { id }',
        'setTtl(id: "mine", ttl: 60) { id }',
        'fork(id: "mine", checkpointId: "x") { checkpointId }',
        'updateState(id: "mine", values: {user_input: "y"}) { checkpointId }',
        'resume(id: "mine", value: "v") { status }',
        'deleteSession(id: "mine")',
    ):
        out = await gql(client, "mutation { " + mutation + " }", headers=BOB)
        assert codes(out) == ["NOT_FOUND"], (mutation, out)
        assert out["errors"][0]["extensions"]["error"] == "session_not_found"
    listed = await gql(client, "{ sessions { totalCount edges { node { id } } } }", headers=BOB)
    assert listed["data"]["sessions"] == {"totalCount": 0, "edges": []}
    admin = await gql(client, SESSION, {"id": "mine"}, headers=ROOT)
    assert admin["data"]["session"]["owner"] == "alice"
    # still alice's, untouched
    got = (await gql(client, SESSION, {"id": "mine"}))["data"]["session"]
    assert got["status"] == "COMPLETED" and got["metadata"] == {}


async def test_interrupt_resume_suspend_and_lifecycle(client: httpx.AsyncClient) -> None:
    out = (await gql(client, INVOKE, {"id": "q", "input": {"user_input": "ask"}}))["data"]
    assert out["invoke"]["status"] == "interrupted"
    assert out["invoke"]["interrupts"][0]["value"]["question"] == "really?"
    pending = (await gql(client, SESSION, {"id": "q"}))["data"]["session"]
    assert pending["status"] == "INTERRUPTED" and pending["pendingInterrupts"]

    suspended = await gql(
        client, 'mutation { suspend(id: "q", reason: "r") { status suspendReason } }'
    )
    assert suspended["data"]["suspend"] == {"status": "SUSPENDED", "suspendReason": "r"}
    refused = await gql(client, 'mutation { resume(id: "q", value: "yes") { status } }')
    assert codes(refused) == ["INVALID_INPUT"], refused
    lifted = await gql(client, 'mutation { unsuspend(id: "q") { status } }')
    assert lifted["data"]["unsuspend"]["status"] == "INTERRUPTED"
    again = await gql(client, 'mutation { unsuspend(id: "q") { status } }')
    assert codes(again) == ["CONFLICT"]

    resumed = await gql(client, 'mutation { resume(id: "q", value: "yes") { status output } }')
    assert resumed["data"]["resume"] == {"status": "complete", "output": "yes"}
    nothing = await gql(client, 'mutation { resume(id: "q", value: "no") { status } }')
    assert codes(nothing) == ["CONFLICT"]

    meta = await gql(
        client, 'mutation { updateMetadata(id: "q", metadata: {plan: "pro"}) { metadata } }'
    )
    assert meta["data"]["updateMetadata"]["metadata"] == {"plan": "pro"}
    ttl = await gql(client, 'mutation { setTtl(id: "q", ttl: 3600) { ttl expiresAt } }')
    assert ttl["data"]["setTtl"]["ttl"] == 3600 and ttl["data"]["setTtl"]["expiresAt"]

    history = (await gql(client, SESSION, {"id": "q"}))["data"]["session"]["checkpoints"]
    older = history[1]["checkpointId"]
    forked = await gql(
        client,
        'mutation($c: String!) { fork(id: "q", checkpointId: $c) { checkpointId } }',
        {"c": older},
    )
    assert "errors" not in forked, forked
    written = await gql(
        client, 'mutation { updateState(id: "q", values: {response: "set"}) { checkpointId } }'
    )
    assert written["data"]["updateState"]["checkpointId"]
    state = await gql(client, '{ session(id: "q") { state } }')
    assert state["data"]["session"]["state"]["response"] == "set"

    assert (await gql(client, 'mutation { deleteSession(id: "q") }'))["data"]["deleteSession"]
    gone = await gql(client, 'mutation { deleteSession(id: "q") }')
    assert codes(gone) == ["NOT_FOUND"]
    assert (await client.get("/sessions/q", headers=ALICE)).status_code == 404


async def test_create_list_filters_and_pages(client: httpx.AsyncClient) -> None:
    for i in range(5):
        made = await gql(
            client,
            "mutation($id: ID!, $m: JSON) { createSession(id: $id, metadata: $m) { id status } }",
            {"id": f"c{i}", "m": {"n": i % 2}},
        )
        assert made["data"]["createSession"] == {"id": f"c{i}", "status": "CREATED"}
    dup = await gql(client, 'mutation { createSession(id: "c0") { id } }')
    assert codes(dup) == ["CONFLICT"]
    await gql(client, 'mutation { createSession(id: "b0") { id } }', headers=BOB)

    page_q = """query($after: String) {
      sessions(first: 2, after: $after, filter: {sort: "created_at", order: "asc"}) {
        totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id } } } }"""
    seen: list[str] = []
    after = None
    while True:
        page = (await gql(client, page_q, {"after": after}))["data"]["sessions"]
        assert page["totalCount"] == 5
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["c0", "c1", "c2", "c3", "c4"]

    prefixed = await gql(
        client, '{ sessions(filter: {idPrefix: "c"}) { totalCount edges { node { id } } } }'
    )
    assert prefixed["data"]["sessions"]["totalCount"] == 5
    everyone = await gql(
        client, '{ sessions(filter: {idPrefix: "b"}) { totalCount } }', headers=ROOT
    )
    assert everyone["data"]["sessions"]["totalCount"] == 1  # bob's b0
    odd = await gql(client, "{ sessions(filter: {metadata: {n: 1}}) { totalCount } }")
    assert odd["data"]["sessions"]["totalCount"] == 2
    status = await gql(
        client, "{ sessions(filter: {status: [CREATED]}) { totalCount } }", headers=ROOT
    )
    assert status["data"]["sessions"]["totalCount"] == 6
    other = await gql(client, '{ sessions(filter: {owner: "bob"}) { totalCount } }')
    assert other["data"]["sessions"]["totalCount"] == 0
    bad = await gql(client, '{ sessions(filter: {sort: "nope"}) { totalCount } }')
    assert codes(bad) == ["INVALID_INPUT"]
    cursor = await gql(client, '{ sessions(after: "garbage") { totalCount } }')
    assert codes(cursor) == ["INVALID_INPUT"]

    stats = (await gql(client, "{ stats { scope total byStatus } graphs { graphs default } }"))[
        "data"
    ]
    assert stats["stats"] == {"scope": "owner", "total": 5, "byStatus": {"created": 5}}
    assert stats["graphs"] == {"graphs": ["work", "approval"], "default": "work"}
    everyone = (await gql(client, "{ stats { scope total } }", headers=ROOT))["data"]["stats"]
    assert everyone == {"scope": "all", "total": 6}


async def test_wrong_key_is_refused(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"X-Api-Key": "nope"}):
        out = await gql(client, "{ graphs { default } }", headers=headers or {"X": "y"}, status=401)
        assert codes(out) == ["UNAUTHENTICATED"]
    r = await client.get("/graphql", params={"query": "{ graphs { default } }"})
    assert r.status_code == 401


async def test_failed_run_and_bad_input_are_typed(client: httpx.AsyncClient) -> None:
    failed = await gql(client, INVOKE, {"id": "f", "input": {"user_input": "fail"}})
    assert codes(failed) == ["UNPROCESSABLE"]
    assert failed["errors"][0]["extensions"]["error"] == "run_failed"
    bad = await gql(
        client, 'mutation { invoke(id: "f", input: {a: 1}, multitask: "sometimes") { status } }'
    )
    assert codes(bad) == ["INVALID_INPUT"]
    not_obj = await gql(client, 'mutation { invoke(id: "f", input: [1, 2]) { status } }')
    assert codes(not_obj) == ["INVALID_INPUT"]
    unknown = await gql(client, "{ nope }")
    assert codes(unknown) == ["GRAPHQL_VALIDATION_FAILED"]
    garbage = await gql(client, "{ sessions ", status=200)
    assert codes(garbage) == ["GRAPHQL_PARSE_FAILED"]


async def test_messages_and_unknown_checkpoint(client: httpx.AsyncClient) -> None:
    await gql(client, INVOKE, {"id": "m", "input": {"user_input": "x"}})
    body = {"messages": [{"role": "user", "content": "hello"}, {"role": "ai", "content": "hi"}]}
    assert (await client.post("/sessions/m/messages", json=body, headers=ALICE)).status_code == 201
    out = await gql(
        client,
        '{ session(id: "m") { messages { role content } last: messages(last: 1) { role } } }',
    )
    assert out["data"]["session"]["messages"] == [
        {"role": "user", "content": "hello"},
        {"role": "ai", "content": "hi"},
    ]
    assert out["data"]["session"]["last"] == [{"role": "ai"}]
    missing = await gql(client, '{ session(id: "m") { state(checkpointId: "nope") } }')
    assert codes(missing) == ["NOT_FOUND"]
    assert missing["errors"][0]["extensions"]["error"] == "checkpoint_not_found"


async def test_total_count_is_counted_only_when_selected(
    gql_app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sessions`` without ``totalCount`` runs no count query; with it, exactly one."""
    backend = gql_app.state.manager.backend
    counted: list[Any] = []
    real = backend.count_sessions

    async def count_sessions(query: Any) -> int:  # the real count, recorded
        counted.append(query)
        n: int = await real(query)
        return n

    monkeypatch.setattr(backend, "count_sessions", count_sessions)
    for i in range(3):
        await gql(client, f'mutation {{ createSession(id: "n{i}") {{ id }} }}')
    page = await gql(client, "{ sessions(first: 2) { edges { node { id } } } }")
    assert len(page["data"]["sessions"]["edges"]) == 2
    assert counted == []
    page = await gql(client, "{ sessions(first: 2) { totalCount edges { node { id } } } }")
    assert page["data"]["sessions"]["totalCount"] == 3
    assert len(counted) == 1
