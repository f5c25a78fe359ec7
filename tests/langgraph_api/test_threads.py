"""``/threads`` of the LangGraph-compatible API, driven by the real ``langgraph_sdk`` (async
and sync) and raw httpx (headers, bad bodies) against a real server process. Runs are made
over our own ``/sessions/{id}/invoke`` (the same core), so these tests stand without the
LangGraph run routes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient, SyncLangGraphClient
from langgraph_sdk.errors import ConflictError, NotFoundError
from support.lgapi import start_lg_server
from support.server import API_KEYS_ENV, KEYS, ServerProcess

pytestmark = pytest.mark.slow

CHAT_IN = {"messages": [{"role": "user", "content": "hello there"}]}
FRESH_KEYS = {
    "thread_id",
    "created_at",
    "updated_at",
    "state_updated_at",
    "metadata",
    "status",
    "config",
    "values",
}


def invoke(
    server: ServerProcess, thread_id: str, body: dict[str, Any], who: str | None = None
) -> Any:
    """A run over our own route (the same core the LangGraph run routes use)."""
    with server.client(who) as c:
        r = c.post(f"/sessions/{thread_id}/invoke", json=body)
    return r


# create / get / patch / delete ----------------------------------------------------------
async def test_create_get_patch_delete(
    lg_client: LangGraphClient, lg_server: ServerProcess
) -> None:
    tid = str(uuid.uuid4())
    t = await lg_client.threads.create(thread_id=tid, metadata={"user": "u1"})
    assert set(t) == FRESH_KEYS, set(t)
    assert t["thread_id"] == tid and t["status"] == "idle" and t["values"] is None
    assert t["metadata"] == {"user": "u1"} and t["config"] == {}
    assert (await lg_client.threads.get(tid))["thread_id"] == tid
    u = await lg_client.threads.update(tid, metadata={"extra": 1})
    assert u["metadata"] == {"user": "u1", "extra": 1}
    await lg_client.threads.delete(tid)
    with pytest.raises(NotFoundError) as ei:
        await lg_client.threads.get(tid)
    assert ei.value.response.json() == {"detail": f"Thread with ID {tid} not found"}
    with pytest.raises(NotFoundError):
        await lg_client.threads.delete(tid)


async def test_create_if_exists_and_generated_ids(lg_client: LangGraphClient) -> None:
    tid = str(uuid.uuid4())
    await lg_client.threads.create(thread_id=tid, metadata={"a": 1})
    with pytest.raises(ConflictError) as ei:
        await lg_client.threads.create(thread_id=tid, if_exists="raise")
    assert ei.value.response.json() == {"detail": f"Thread with ID {tid} already exists"}
    same = await lg_client.threads.create(thread_id=tid, metadata={"a": 2}, if_exists="do_nothing")
    assert same["metadata"] == {"a": 1}
    made = await lg_client.threads.create()
    assert uuid.UUID(made["thread_id"])  # server-made ids are UUIDs


def test_ttl_in_minutes_is_the_sessions_ttl(lg_server: ServerProcess) -> None:
    with lg_server.client() as c:
        t = c.post("/threads", json={"ttl": {"strategy": "delete", "ttl": 2}}).json()
        assert c.get(f"/sessions/{t['thread_id']}").json()["ttl"] == 120
        r = c.patch(f"/threads/{t['thread_id']}", json={"ttl": {"ttl": 0.5}})
        assert r.status_code == 200
        assert c.get(f"/sessions/{t['thread_id']}").json()["ttl"] == 30


def test_mixed_use_threads_are_sessions(
    lg_server: ServerProcess, lg_sync_client: SyncLangGraphClient
) -> None:
    t = lg_sync_client.threads.create(metadata={"graph_id": "chat", "k": "v"})
    with lg_server.client() as c:
        s = c.get(f"/sessions/{t['thread_id']}").json()
        assert s["session_id"] == t["thread_id"] and s["graph_id"] == "chat"
        assert s["metadata"] == {"graph_id": "chat", "k": "v"}
        sid = f"plain-{uuid.uuid4().hex[:8]}"  # any session id is a thread id (a superset)
        assert c.post("/sessions", json={"session_id": sid, "graph_id": "chat"}).status_code == 201
        assert invoke(lg_server, sid, {"input": CHAT_IN}).status_code == 200
    thread = lg_sync_client.threads.get(sid)
    assert thread["status"] == "idle"
    assert [m["content"] for m in thread["values"]["messages"]] == [
        "hello there",
        "echo: hello there",
    ]
    assert thread["error"] is None and thread["interrupts"] == {}


# status, error, interrupts ---------------------------------------------------------------
async def test_error_and_interrupt_shapes(
    lg_client: LangGraphClient, lg_server: ServerProcess
) -> None:
    bad = await lg_client.threads.create(graph_id="slow")
    r = invoke(
        lg_server, bad["thread_id"], {"input": {"n": 0}, "config": {"configurable": {"fail": True}}}
    )
    assert r.status_code == 422
    failed = await lg_client.threads.get(bad["thread_id"])
    assert failed["status"] == "error"
    assert failed["error"] == {"error": "ValueError", "message": "boom: asked to fail"}

    asked = await lg_client.threads.create(graph_id="approval")
    assert (
        invoke(lg_server, asked["thread_id"], {"input": {"request": "deploy"}}).status_code == 200
    )
    t = await lg_client.threads.get(asked["thread_id"])
    assert t["status"] == "interrupted" and t["error"] is None
    assert t["values"] == {"request": "deploy", "log": ["prepared"]}
    ((task_id, pending),) = t["interrupts"].items()
    assert pending[0]["value"] == {"question": "approve deploy?"} and pending[0]["id"]
    state = await lg_client.threads.get_state(asked["thread_id"])
    assert state["tasks"][0]["id"] == task_id and state["next"] == ["ask"]
    assert state["interrupts"] == pending
    found = await lg_client.threads.search(
        status="interrupted", ids=[asked["thread_id"], bad["thread_id"]]
    )
    assert [x["thread_id"] for x in found] == [asked["thread_id"]]
    assert [
        x["thread_id"]
        for x in await lg_client.threads.search(status="error", ids=[bad["thread_id"]])
    ] == [bad["thread_id"]]


# search / count -----------------------------------------------------------------------------
async def test_search_count_pagination_sort_select(
    lg_client: LangGraphClient, lg_server: ServerProcess
) -> None:
    tag = uuid.uuid4().hex
    ids = [(await lg_client.threads.create(metadata={"tag": tag}))["thread_id"] for _ in range(3)]
    assert await lg_client.threads.count(metadata={"tag": tag}) == 3
    assert await lg_client.threads.count(metadata={"tag": tag}, status="busy") == 0
    p1 = await lg_client.threads.search(metadata={"tag": tag}, limit=2, offset=0)
    p2 = await lg_client.threads.search(metadata={"tag": tag}, limit=2, offset=2)
    assert len(p1) == 2 and len(p2) == 1
    assert [t["thread_id"] for t in p1 + p2] == ids[::-1]  # newest first by default
    asc = await lg_client.threads.search(
        metadata={"tag": tag}, sort_by="created_at", sort_order="asc"
    )
    assert [t["thread_id"] for t in asc] == ids
    by_id = await lg_client.threads.search(
        metadata={"tag": tag}, sort_by="thread_id", sort_order="asc"
    )
    assert [t["thread_id"] for t in by_id] == sorted(ids)
    assert len(await lg_client.threads.search(metadata={"tag": tag}, status="idle")) == 3
    picked = await lg_client.threads.search(ids=ids[:2])
    assert {t["thread_id"] for t in picked} == set(ids[:2])
    sel = await lg_client.threads.search(ids=ids[:1], select=["thread_id", "status"])
    assert sel == [{"thread_id": ids[0], "status": "idle"}]
    with lg_server.client() as c:  # LangGraph's headers: Total is next+1 while pages remain
        body: dict[str, Any] = {"metadata": {"tag": tag}, "limit": 1, "offset": 0}
        r = c.post("/threads/search", json=body)
        assert r.headers["x-pagination-total"] == "2" and r.headers["x-pagination-next"] == "1"
        r = c.post("/threads/search", json={**body, "limit": 2, "offset": 1})
        assert r.headers["x-pagination-total"] == "3" and "x-pagination-next" not in r.headers
        assert c.post("/threads/count", json={"metadata": {"tag": tag}}).json() == 3


async def test_search_by_values(lg_client: LangGraphClient, lg_server: ServerProcess) -> None:
    tag = uuid.uuid4().hex
    a = await lg_client.threads.create(graph_id="slow", metadata={"tag": tag})
    await lg_client.threads.create(graph_id="slow", metadata={"tag": tag})  # values: null
    await lg_client.threads.update_state(a["thread_id"], {"n": 5}, as_node="sleep")
    found = await lg_client.threads.search(metadata={"tag": tag}, values={"n": 5})
    assert [t["thread_id"] for t in found] == [a["thread_id"]]
    assert await lg_client.threads.count(metadata={"tag": tag}, values={"n": 5}) == 1
    assert await lg_client.threads.search(metadata={"tag": tag}, values={"n": 6}) == []


# supersteps, state, history -----------------------------------------------------------------
async def test_supersteps_seed_the_state(
    lg_client: LangGraphClient, lg_server: ServerProcess
) -> None:
    t = await lg_client.threads.create(
        graph_id="chat",
        supersteps=[
            {
                "updates": [
                    {
                        "values": {"messages": [{"role": "user", "content": "seed"}]},
                        "as_node": "chat",
                    }
                ]
            },
            {
                "updates": [
                    {
                        "values": {"messages": [{"role": "ai", "content": "seeded reply"}]},
                        "as_node": "chat",
                    }
                ]
            },
        ],
    )
    assert t["metadata"] == {"graph_id": "chat"}
    msgs = (await lg_client.threads.get_state(t["thread_id"]))["values"]["messages"]
    assert [(m["type"], m["content"]) for m in msgs] == [("human", "seed"), ("ai", "seeded reply")]
    assert t["values"]["messages"][1]["content"] == "seeded reply"
    with lg_server.client() as c:
        r = c.post("/threads", json={"supersteps": [{"updates": [{"values": {"n": 1}}]}]})
        assert r.status_code == 400 and "graph" in r.json()["detail"]
        tid = str(uuid.uuid4())
        r = c.post(
            "/threads",
            json={
                "thread_id": tid,
                "metadata": {"graph_id": "slow"},
                "supersteps": [{"updates": [{"values": {"n": 1}, "as_node": "nowhere"}]}],
            },
        )
        assert r.status_code == 400
        assert c.get(f"/threads/{tid}").status_code == 404  # nothing half-made is left


async def test_state_update_as_node_checkpoint_and_fork(
    lg_client: LangGraphClient, lg_server: ServerProcess
) -> None:
    t = await lg_client.threads.create(graph_id="chat")
    tid = t["thread_id"]
    fresh = await lg_client.threads.get_state(tid)
    assert fresh["values"] == {} and fresh["checkpoint"] is None and fresh["created_at"] is None
    assert invoke(lg_server, tid, {"input": CHAT_IN}).status_code == 200
    s0 = await lg_client.threads.get_state(tid)
    assert set(s0) == {
        "values",
        "next",
        "tasks",
        "checkpoint",
        "metadata",
        "created_at",
        "parent_checkpoint",
        "interrupts",
        "checkpoint_id",
        "parent_checkpoint_id",
    }
    assert s0["checkpoint"] == {
        "checkpoint_id": s0["checkpoint_id"],
        "thread_id": tid,
        "checkpoint_ns": "",
    }
    r = await lg_client.threads.update_state(
        tid, {"messages": [{"role": "user", "content": "added"}]}, as_node="chat"
    )
    assert (
        r["checkpoint"]["thread_id"] == tid
        and r["checkpoint_id"] == r["checkpoint"]["checkpoint_id"]
    )
    assert r["configurable"] == r["checkpoint"]
    s1 = await lg_client.threads.get_state(tid)
    assert len(s1["values"]["messages"]) == 3 and s1["metadata"]["source"] == "update"
    old = await lg_client.threads.get_state(tid, checkpoint_id=s0["checkpoint"]["checkpoint_id"])
    assert len(old["values"]["messages"]) == 2
    old2 = await lg_client.threads.get_state(tid, checkpoint=s0["checkpoint"])
    assert old2["checkpoint"]["checkpoint_id"] == s0["checkpoint"]["checkpoint_id"]
    await lg_client.threads.update_state(
        tid,
        {"messages": [{"role": "user", "content": "fork"}]},
        as_node="chat",
        checkpoint_id=s0["checkpoint"]["checkpoint_id"],
    )
    s2 = await lg_client.threads.get_state(tid)
    assert [m["content"] for m in s2["values"]["messages"]] == [
        "hello there",
        "echo: hello there",
        "fork",
    ]


def test_state_update_needs_a_graph_and_fits_it(lg_server: ServerProcess) -> None:
    with lg_server.client() as c:
        tid = c.post("/threads", json={}).json()["thread_id"]
        r = c.post(f"/threads/{tid}/state", json={"values": {"n": 1}})
        assert r.status_code == 400 and r.json()["detail"].startswith(
            f"Thread '{tid}' has no assigned graph ID"
        )
        # metadata.graph_id set later binds the graph
        assert (
            c.patch(f"/threads/{tid}", json={"metadata": {"graph_id": "slow"}}).status_code == 200
        )
        r = c.post(f"/threads/{tid}/state", json={"values": {"n": 1}, "as_node": "sleep"})
        assert r.status_code == 200
        assert c.get(f"/threads/{tid}").json()["values"] == {"n": 1, "log": []}
        assert c.post(f"/threads/{tid}/state", json={"values": "text"}).status_code in (400, 422)
        r = c.post(f"/threads/{tid}/state", json={"values": {"n": 1}, "checkpoint_id": "nope"})
        assert r.status_code == 404 and set(r.json()) == {"detail"}


async def test_history_limit_before_both_forms_metadata(
    lg_client: LangGraphClient, lg_server: ServerProcess
) -> None:
    tid = (await lg_client.threads.create(graph_id="chat"))["thread_id"]
    for _ in range(2):
        assert invoke(lg_server, tid, {"input": CHAT_IN}).status_code == 200
    h = await lg_client.threads.get_history(tid, limit=100)
    assert len(h) >= 6 and len(h[0]["values"]["messages"]) == 4
    assert [x["created_at"] for x in h] == sorted((x["created_at"] for x in h), reverse=True)
    assert len(await lg_client.threads.get_history(tid, limit=2)) == 2
    older = await lg_client.threads.get_history(tid, limit=2, before=h[0]["checkpoint"])  # SDK form
    assert [x["checkpoint_id"] for x in older] == [h[1]["checkpoint_id"], h[2]["checkpoint_id"]]
    inputs = await lg_client.threads.get_history(tid, metadata={"source": "input"})
    assert inputs and all(x["metadata"]["source"] == "input" for x in inputs)
    with lg_server.client() as c:
        body = {"limit": 1, "before": {"configurable": {"checkpoint_id": h[0]["checkpoint_id"]}}}
        r = c.post(f"/threads/{tid}/history", json=body)  # LangGraph's form
        assert [x["checkpoint_id"] for x in r.json()] == [h[1]["checkpoint_id"]]
        r = c.get(f"/threads/{tid}/history", params={"limit": 1, "before": h[0]["checkpoint_id"]})
        assert [x["checkpoint_id"] for x in r.json()] == [h[1]["checkpoint_id"]]
        assert c.get(f"/threads/{tid}/history", params={"limit": 0}).status_code == 422
        r = c.get(f"/threads/{tid}/state/{h[-1]['checkpoint_id']}")
        assert r.json()["checkpoint_id"] == h[-1]["checkpoint_id"]


async def test_copy_and_prune(lg_client: LangGraphClient, lg_server: ServerProcess) -> None:
    t = await lg_client.threads.create(graph_id="chat", metadata={"k": "v"})
    assert invoke(lg_server, t["thread_id"], {"input": CHAT_IN}).status_code == 200
    cp = await lg_client.threads.copy(t["thread_id"])
    assert cp["thread_id"] != t["thread_id"] and "values" not in cp
    assert cp["metadata"] == {"graph_id": "chat", "k": "v"}
    assert len((await lg_client.threads.get_state(cp["thread_id"]))["values"]["messages"]) == 2
    assert await lg_client.threads.prune([t["thread_id"], str(uuid.uuid4())]) == {"pruned_count": 1}
    with pytest.raises(NotFoundError):
        await lg_client.threads.get(t["thread_id"])
    assert (await lg_client.threads.get(cp["thread_id"]))["status"] == "idle"
    with lg_server.client() as c:
        history = f"/threads/{cp['thread_id']}/history"
        before = c.get(f"/threads/{cp['thread_id']}").json()["values"]
        assert len(c.get(history, params={"limit": 100}).json()) > 1
        body = {"thread_ids": [cp["thread_id"]], "strategy": "keep_latest"}
        assert c.post("/threads/prune", json=body).json() == {"pruned_count": 1}
        assert len(c.get(history, params={"limit": 100}).json()) == 1
        assert c.get(f"/threads/{cp['thread_id']}").json()["values"] == before


def test_sync_client(lg_sync_client: SyncLangGraphClient, lg_server: ServerProcess) -> None:
    t = lg_sync_client.threads.create(metadata={"sync": True}, graph_id="chat")
    assert invoke(lg_server, t["thread_id"], {"input": CHAT_IN}).status_code == 200
    assert (
        lg_sync_client.threads.get(t["thread_id"])["values"]["messages"][-1]["content"]
        == "echo: hello there"
    )
    assert len(lg_sync_client.threads.get_history(t["thread_id"], limit=3)) == 3
    assert lg_sync_client.threads.search(metadata={"sync": True}, limit=1)[0]["thread_id"]
    with pytest.raises(httpx.HTTPStatusError) as ei:
        lg_sync_client.threads.get(str(uuid.uuid4()))
    assert ei.value.response.status_code == 404


# bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/threads", {"if_exists": "sometimes"}),
        ("POST", "/threads", {"ttl": 5}),
        ("POST", "/threads", {"ttl": {"ttl": -1}}),
        ("POST", "/threads", {"metadata": [1]}),
        ("POST", "/threads", {"thread_id": ""}),
        ("POST", "/threads", {"supersteps": [{"nope": []}]}),
        ("POST", "/threads/search", {"status": "nope"}),
        ("POST", "/threads/search", {"limit": 0}),
        ("POST", "/threads/search", {"offset": -1}),
        ("POST", "/threads/search", {"sort_by": "color"}),
        ("POST", "/threads/search", {"select": ["password"]}),
        ("POST", "/threads/search", {"extract": {"x": "values.x"}}),
        ("POST", "/threads/search", {"metadata": {"k": 2**70}}),
        ("POST", "/threads/count", {"status": 3}),
        ("POST", "/threads/prune", {}),
        ("POST", "/threads/prune", {"thread_ids": "abc"}),
        ("PATCH", "/threads/{tid}", {"metadata": "x"}),
        ("POST", "/threads/{tid}/history", {"limit": "many"}),
        ("POST", "/threads/{tid}/history", {"before": {"checkpoint_id": 5}}),
        ("POST", "/threads/{tid}/state/checkpoint", {}),
        ("POST", "/threads/{tid}/state", {"values": {"messages": 7}, "as_node": "nowhere"}),
    ],
)
def test_bad_bodies_are_4xx_with_detail(
    lg_server: ServerProcess, method: str, path: str, body: dict[str, Any]
) -> None:
    with lg_server.client() as c:
        tid = c.post("/threads", json={"metadata": {"graph_id": "chat"}}).json()["thread_id"]
        r = c.request(method, path.format(tid=tid), json=body)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert set(r.json()) == {"detail"}


def test_malformed_json_is_400(lg_server: ServerProcess) -> None:
    with lg_server.client() as c:
        r = c.post("/threads", content=b"{nope", headers={"content-type": "application/json"})
    assert r.status_code == 400 and set(r.json()) == {"detail"}


# owners ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with API keys: alice and bob are users, root an admin."""
    folder: Path = tmp_path_factory.mktemp("lgapi-keys")
    srv = start_lg_server(folder, env={"GRAPH_SESSIONS_API_KEYS": API_KEYS_ENV})
    try:
        yield srv
    finally:
        srv.stop()


def test_another_owners_thread_is_404_on_every_route(keyed_server: ServerProcess) -> None:
    with keyed_server.client("alice") as alice, keyed_server.client("bob") as bob:
        tid = alice.post(
            "/threads", json={"metadata": {"graph_id": "chat", "who": "alice"}}
        ).json()["thread_id"]
        assert invoke(keyed_server, tid, {"input": CHAT_IN}, who="alice").status_code == 200
        cp = alice.get(f"/threads/{tid}/state").json()["checkpoint"]
        calls = [
            bob.get(f"/threads/{tid}"),
            bob.patch(f"/threads/{tid}", json={"metadata": {"x": 1}}),
            bob.delete(f"/threads/{tid}"),
            bob.post(f"/threads/{tid}/copy"),
            bob.get(f"/threads/{tid}/state"),
            bob.post(f"/threads/{tid}/state", json={"values": {}, "as_node": "chat"}),
            bob.get(f"/threads/{tid}/state/{cp['checkpoint_id']}"),
            bob.post(f"/threads/{tid}/state/checkpoint", json={"checkpoint": cp}),
            bob.get(f"/threads/{tid}/history"),
            bob.post(f"/threads/{tid}/history", json={}),
        ]
        for r in calls:
            assert r.status_code == 404, (r.request.method, r.request.url.path, r.status_code)
            assert r.json() == {"detail": f"Thread with ID {tid} not found"}
        # bob's create under alice's id is a conflict, never her thread
        assert (
            bob.post("/threads", json={"thread_id": tid, "if_exists": "do_nothing"}).status_code
            == 409
        )
        assert bob.post("/threads/search", json={"metadata": {"who": "alice"}}).json() == []
        assert bob.post("/threads/search", json={"ids": [tid]}).json() == []
        assert bob.post("/threads/count", json={"metadata": {"who": "alice"}}).json() == 0
        assert bob.post("/threads/prune", json={"thread_ids": [tid]}).json() == {"pruned_count": 0}
        # still alice's, untouched
        t = alice.get(f"/threads/{tid}").json()
        assert (
            t["metadata"] == {"graph_id": "chat", "who": "alice"}
            and len(t["values"]["messages"]) == 2
        )
        assert alice.post("/threads/count", json={"metadata": {"who": "alice"}}).json() == 1
        with keyed_server.client("root") as root:  # admins see every thread
            assert root.get(f"/threads/{tid}").status_code == 200
        with keyed_server.client() as anon:
            assert anon.get(f"/threads/{tid}").status_code == 401
    assert KEYS["alice"]
