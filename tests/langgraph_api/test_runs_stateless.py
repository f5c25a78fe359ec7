"""Stateless runs (``/runs``, ``/runs/wait``, ``/runs/stream``, ``/runs/batch``,
``/runs/cancel``) and owners: another owner's thread is a 404 on every run route."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from support.lgapi import start_lg_server
from support.server import API_KEYS_ENV, KEYS, ServerProcess

pytestmark = pytest.mark.slow

CHAT_IN = {"messages": [{"role": "user", "content": "hello there"}]}


async def test_stateless_wait_deletes_the_thread_unless_kept(
    lg_server: ServerProcess, lg_client: LangGraphClient
) -> None:
    seen: dict[str, str] = {}
    out = await lg_client.runs.wait(None, "chat", input=CHAT_IN, on_run_created=seen.update)
    assert out["messages"][-1]["content"] == "echo: hello there"
    assert seen.get("thread_id") and seen.get("run_id")
    with lg_server.client() as c:
        assert c.get(f"/sessions/{seen['thread_id']}").status_code == 404
    kept: dict[str, str] = {}
    await lg_client.runs.wait(
        None, "chat", input=CHAT_IN, on_completion="keep", on_run_created=kept.update
    )
    with lg_server.client() as c:
        info = c.get(f"/sessions/{kept['thread_id']}").json()
        assert info["status"] == "completed" and info["metadata"]["graph_id"] == "chat"
        r = c.post("/runs/wait", json={"assistant_id": "chat", "input": CHAT_IN})
        tid = r.headers["content-location"].split("/")[2]
        rid = r.headers["content-location"].rsplit("/", 1)[1]
        assert r.headers["location"] == f"/threads/{tid}/runs/{rid}/join"


async def test_stateless_stream_background_and_batch(
    lg_server: ServerProcess, lg_client: LangGraphClient
) -> None:
    parts = [
        p
        async for p in lg_client.runs.stream(
            None, "chat", input=CHAT_IN, stream_mode=["values", "messages-tuple"]
        )
    ]
    ev = [p.event for p in parts]
    assert ev[0] == "metadata" and "messages" in ev and "values" in ev
    with (
        lg_server.client() as c,
        c.stream("POST", "/runs/stream", json={"assistant_id": "chat", "input": CHAT_IN}) as r,
    ):
        rid = r.headers["content-location"].rsplit("/", 1)[1]
        assert r.headers["content-location"] == f"/runs/{rid}"
        assert r.headers["location"] == f"/runs/{rid}/stream"
        r.read()
    run = await lg_client.runs.create(None, "chat", input=CHAT_IN)
    assert run["status"] in ("pending", "running", "success") and run["thread_id"]
    batch = await lg_client.runs.create_batch(
        [
            {"assistant_id": "chat", "input": CHAT_IN},
            {"assistant_id": "parent", "input": {"items": []}},
        ]
    )
    assert len(batch) == 2 and len({b["thread_id"] for b in batch}) == 2
    with lg_server.client() as c:
        r = c.post("/runs/batch", json=[{"assistant_id": "nope"}])
        assert r.status_code == 404
        r = c.post("/runs/batch", json={"assistant_id": "chat"})
        assert r.status_code == 422


async def test_cancel_many(lg_server: ServerProcess, lg_client: LangGraphClient) -> None:
    with lg_server.client() as c:
        tid = c.post("/sessions", json={}).json()["session_id"]
    r = await lg_client.runs.create(
        tid, "slow", input={"n": 0}, config={"configurable": {"sleep": 3}}
    )
    for _ in range(100):
        if (await lg_client.runs.get(tid, r["run_id"]))["status"] == "running":
            break
        await asyncio.sleep(0.05)
    await lg_client.runs.cancel_many(thread_id=tid, run_ids=[r["run_id"]])
    for _ in range(100):
        if (await lg_client.runs.get(tid, r["run_id"]))["status"] == "interrupted":
            break
        await asyncio.sleep(0.05)
    assert (await lg_client.runs.get(tid, r["run_id"]))["status"] == "interrupted"
    with lg_server.client() as c:
        r2 = c.post("/runs/cancel", json={"thread_id": tid, "run_ids": [r["run_id"]]})
        assert r2.status_code == 404 and r2.json() == {"detail": "No runs found to cancel."}
        assert c.post("/runs/cancel", json={}).status_code == 422


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = start_lg_server(
        tmp_path_factory.mktemp("lgkeys"),
        env={"GRAPH_SESSIONS_API_KEYS": API_KEYS_ENV, "GRAPH_SESSIONS_RUN_TIMEOUT": "1.5"},
    )
    try:
        yield srv
    finally:
        srv.stop()


async def test_another_owners_thread_is_404_on_every_run_route(keyed_server: ServerProcess) -> None:
    alice = get_client(url=keyed_server.url, api_key=KEYS["alice"])
    tid = str(uuid.uuid4())
    out = await alice.runs.wait(tid, "approval", input={"request": "a"}, if_not_exists="create")
    assert "__interrupt__" in out
    rid = (await alice.runs.list(tid))[0]["run_id"]
    body = {"assistant_id": "approval", "command": {"resume": "stolen"}}
    with keyed_server.client("bob") as bob:
        for method, path, json in [
            ("POST", f"/threads/{tid}/runs", body),
            ("POST", f"/threads/{tid}/runs/wait", body),
            ("POST", f"/threads/{tid}/runs/stream", body),
            ("POST", f"/threads/{tid}/runs/wait", {**body, "if_not_exists": "create"}),
            ("GET", f"/threads/{tid}/runs", None),
            ("GET", f"/threads/{tid}/runs/{rid}", None),
            ("GET", f"/threads/{tid}/runs/{rid}/join", None),
            ("GET", f"/threads/{tid}/runs/{rid}/stream", None),
            ("POST", f"/threads/{tid}/runs/{rid}/cancel", None),
            ("DELETE", f"/threads/{tid}/runs/{rid}", None),
        ]:
            r = bob.request(method, path, json=json)
            assert r.status_code == 404, (method, path, r.status_code, r.text)
            assert set(r.json()) == {"detail"}
        assert bob.post("/runs/cancel", json={"status": "all"}).status_code == 404
    with keyed_server.client() as anon:
        assert anon.post(f"/threads/{tid}/runs/wait", json=body).status_code == 401
    # nothing moved: alice still answers her own interrupt
    out = await alice.runs.wait(tid, "approval", command={"resume": "mine"})
    assert out["decision"] == "mine"


async def test_run_timeout_ends_the_run_with_status_timeout(keyed_server: ServerProcess) -> None:
    alice = get_client(url=keyed_server.url, api_key=KEYS["alice"])
    tid = str(uuid.uuid4())
    with keyed_server.client("alice") as c:
        r = c.post(
            f"/threads/{tid}/runs/wait",
            json={
                "assistant_id": "slow",
                "input": {"n": 0},
                "config": {"configurable": {"sleep": 5}},
                "if_not_exists": "create",
            },
        )
        assert r.status_code == 200
        assert r.json()["__error__"]["error"] == "TimeoutError"
    runs = await alice.runs.list(tid)
    assert runs[0]["status"] == "timeout"
