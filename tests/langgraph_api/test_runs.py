"""Runs on a thread over the LangGraph API, driven by the real ``langgraph_sdk`` clients:
wait, background + join, list/get/delete, interrupts and resume, multitask strategies,
cancel, graph errors, bad bodies. A thread is a session: its runs are our run rows."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient, SyncLangGraphClient
from langgraph_sdk.schema import Command
from support.server import ServerProcess

pytestmark = pytest.mark.slow

NS_GRAPH = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")
CHAT_IN = {"messages": [{"role": "user", "content": "hello there"}]}


def slow(seconds: float, **more: Any) -> dict[str, Any]:
    return {"configurable": {"sleep": seconds, **more}}


def new_thread(srv: ServerProcess) -> str:
    """A thread made over ``/sessions`` (a thread is a session)."""
    with srv.client() as c:
        r = c.post("/sessions", json={})
        assert r.status_code == 201, r.text
        return str(r.json()["session_id"])


async def wait_status(c: LangGraphClient, tid: str, rid: str, status: str) -> None:
    for _ in range(100):
        if (await c.runs.get(tid, rid))["status"] == status:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {rid} never became {status}")


async def test_wait_list_get_and_our_run_rows(
    lg_server: ServerProcess, lg_client: LangGraphClient
) -> None:
    tid = new_thread(lg_server)
    out = await lg_client.runs.wait(tid, "chat", input=CHAT_IN)
    assert [m["type"] for m in out["messages"]] == ["human", "ai"]
    assert out["messages"][-1]["content"] == "echo: hello there"
    await lg_client.runs.wait(tid, str(uuid.uuid5(NS_GRAPH, "chat")), input=CHAT_IN)
    runs = await lg_client.runs.list(tid)
    assert len(runs) == 2 and all(r["status"] == "success" for r in runs)
    assert runs[0]["created_at"] >= runs[1]["created_at"]
    run = runs[0]
    assert run["assistant_id"] == str(uuid.uuid5(NS_GRAPH, "chat"))
    assert run["thread_id"] == tid and run["multitask_strategy"] == "enqueue"
    assert {"run_id", "created_at", "updated_at", "metadata", "kwargs", "status"} <= set(run)
    one = await lg_client.runs.list(tid, limit=1, offset=1)
    assert [r["run_id"] for r in one] == [runs[1]["run_id"]]
    assert (await lg_client.runs.get(tid, run["run_id"]))["status"] == "success"
    with lg_server.client() as c:
        # the runs are our run rows, and the thread carries the graph and assistant
        rows = c.get(f"/sessions/{tid}/runs").json()
        assert {r["run_id"] for r in rows} == {r["run_id"] for r in runs}
        meta = c.get(f"/sessions/{tid}").json()["metadata"]
        assert meta["graph_id"] == "chat" and meta["assistant_id"] == run["assistant_id"]
        # headers as LangGraph's server sends them
        r = c.post(f"/threads/{tid}/runs/wait", json={"assistant_id": "chat", "input": CHAT_IN})
        assert r.status_code == 200
        rid = r.headers["content-location"].rsplit("/", 1)[1]
        assert r.headers["content-location"] == f"/threads/{tid}/runs/{rid}"
        assert r.headers["location"] == f"/threads/{tid}/runs/{rid}/join"


async def test_background_run_pending_then_success(
    lg_server: ServerProcess, lg_client: LangGraphClient
) -> None:
    tid = new_thread(lg_server)
    r = await lg_client.runs.create(
        tid, "slow", input={"n": 0}, config=slow(0.5), metadata={"m": 1}
    )
    assert r["status"] in ("pending", "running") and r["thread_id"] == tid
    assert r["metadata"]["m"] == 1 and r["kwargs"]["stream_mode"] == ["values"]
    await wait_status(lg_client, tid, r["run_id"], "running")
    with lg_server.client() as c:
        rows = c.get(f"/sessions/{tid}/runs").json()
        assert rows[0]["run_id"] == r["run_id"] and rows[0]["status"] == "running"
    out = await lg_client.runs.join(tid, r["run_id"])
    assert out == {"n": 1, "log": ["slept 0.5"]} or out["n"] == 1, out
    got = await lg_client.runs.get(tid, r["run_id"])
    assert got["status"] == "success" and got["metadata"]["m"] == 1
    with lg_server.client() as c:
        r2 = c.post(f"/threads/{tid}/runs", json={"assistant_id": "slow", "input": {"n": 0}})
        assert "location" not in r2.headers
        assert r2.headers["content-location"] == f"/threads/{tid}/runs/{r2.json()['run_id']}"


async def test_interrupt_then_resume_by_command_and_by_id(
    lg_server: ServerProcess, lg_client: LangGraphClient
) -> None:
    tid = new_thread(lg_server)
    out = await lg_client.runs.wait(tid, "approval", input={"request": "deploy"})
    intr = out["__interrupt__"][0]
    assert intr["value"] == {"question": "approve deploy?"} and intr["id"]
    assert set(intr) == {"value", "id", "response_schema"}  # as LangGraph's server shows it
    assert (await lg_client.runs.list(tid))[0]["status"] == "success"
    with lg_server.client() as c:
        assert c.get(f"/sessions/{tid}").json()["status"] == "interrupted"
    out = await lg_client.runs.wait(tid, "approval", command=Command(resume="yes"))
    assert out["decision"] == "yes" and out["log"] == ["prepared", "asked", "finished:yes"]
    assert "__interrupt__" not in out
    # a second turn: resume by the interrupt-id map
    tid2 = new_thread(lg_server)
    out = await lg_client.runs.wait(tid2, "approval", input={"request": "x"})
    iid = out["__interrupt__"][0]["id"]
    out = await lg_client.runs.wait(tid2, "approval", command={"resume": {iid: "mapped"}})
    assert out["decision"] == "mapped"


async def test_interrupt_before_then_continue_and_command_update(
    lg_server: ServerProcess, lg_client: LangGraphClient
) -> None:
    tid = new_thread(lg_server)
    out = await lg_client.runs.wait(
        tid, "approval", input={"request": "y"}, interrupt_before=["ask"]
    )
    assert "__interrupt__" not in out and out["log"] == ["prepared"]
    with lg_server.client() as c:
        assert c.get(f"/sessions/{tid}").json()["status"] == "interrupted"
    out = await lg_client.runs.wait(tid, "approval", input=None)
    assert "__interrupt__" in out
    out = await lg_client.runs.wait(
        tid, "approval", command={"resume": "ok", "update": {"request": "z"}}
    )
    assert out["request"] == "z" and out["decision"] == "ok"


async def test_new_input_on_an_interrupted_thread_starts_a_new_turn(
    lg_server: ServerProcess, lg_client: LangGraphClient
) -> None:
    # LangGraph's semantics (measured on its server): the input runs, the old interrupt is dropped
    tid = new_thread(lg_server)
    await lg_client.runs.wait(tid, "approval", input={"request": "y"})
    out = await lg_client.runs.wait(tid, "approval", input={"request": "second"})
    assert out["log"] == ["prepared", "prepared"] and out["request"] == "second"
    assert out["__interrupt__"][0]["value"] == {"question": "approve second?"}


async def test_fork_from_a_checkpoint_and_after_seconds(
    lg_server: ServerProcess, lg_client: LangGraphClient
) -> None:
    tid = new_thread(lg_server)
    await lg_client.runs.wait(tid, "chat", input={"messages": [{"role": "user", "content": "one"}]})
    with lg_server.client() as c:
        history = c.get(f"/sessions/{tid}/checkpoints", params={"limit": 50}).json()
    first = [h for h in history if h["metadata"]["source"] == "input"][0]
    out = await lg_client.runs.wait(
        tid,
        "chat",
        input={"messages": [{"role": "user", "content": "two"}]},
        checkpoint_id=first["checkpoint_id"],
    )
    assert [m["content"] for m in out["messages"]] == ["two", "echo: two"]
    out = await lg_client.runs.wait(
        tid,
        "chat",
        input={"messages": [{"role": "user", "content": "three"}]},
        checkpoint={"checkpoint_id": first["checkpoint_id"], "checkpoint_ns": ""},
    )
    assert [m["content"] for m in out["messages"]] == ["three", "echo: three"]
    r = await lg_client.runs.create(tid, "slow", input={"n": 0}, after_seconds=0.5)
    assert r["status"] == "pending"
    await asyncio.sleep(0.2)
    assert (await lg_client.runs.get(tid, r["run_id"]))["status"] == "pending"
    assert (await lg_client.runs.join(tid, r["run_id"]))["n"] == 1
    run = await lg_client.runs.get(tid, r["run_id"])
    assert run["kwargs"]["config"]["configurable"]["run_id"] == r["run_id"]


async def test_command_goto(lg_server: ServerProcess, lg_client: LangGraphClient) -> None:
    # as LangGraph's server answers it: goto runs "finish", then the graph goes on from START
    tid = new_thread(lg_server)
    out = await lg_client.runs.wait(
        tid, "approval", command={"goto": "finish", "update": {"request": "q", "decision": "skip"}}
    )
    assert out["log"] == ["finished:skip", "prepared"], out
    assert out["__interrupt__"][0]["value"] == {"question": "approve q?"}


async def test_graph_error_is_a_200_error_body(
    lg_server: ServerProcess, lg_client: LangGraphClient
) -> None:
    tid = new_thread(lg_server)
    with pytest.raises(Exception, match="boom"):
        await lg_client.runs.wait(tid, "slow", input={"n": 0}, config=slow(0, fail=True))
    with lg_server.client() as c:
        r = c.post(
            f"/threads/{tid}/runs/wait",
            json={"assistant_id": "slow", "input": {"n": 0}, "config": slow(0, fail=True)},
        )
        assert r.status_code == 200
        assert r.json() == {"__error__": {"error": "ValueError", "message": "boom: asked to fail"}}
    runs = await lg_client.runs.list(tid)
    assert runs[0]["status"] == "error"


async def test_multitask_reject_enqueue_interrupt_rollback(
    lg_server: ServerProcess, lg_client: LangGraphClient
) -> None:
    tid = new_thread(lg_server)
    r1 = await lg_client.runs.create(tid, "slow", input={"n": 0}, config=slow(1.0))
    await wait_status(lg_client, tid, r1["run_id"], "running")
    with lg_server.client() as c:
        r = c.post(
            f"/threads/{tid}/runs",
            json={"assistant_id": "slow", "input": {"n": 0}, "multitask_strategy": "reject"},
        )
        assert r.status_code == 409
        assert r.json() == {
            "detail": "Thread is already running a task. Wait for it to finish or choose a "
            "different multitask strategy."
        }
    r2 = await lg_client.runs.create(tid, "slow", input={"n": 0}, config=slow(0.1))
    assert r2["status"] == "pending" and r2["multitask_strategy"] == "enqueue"
    out = await lg_client.runs.join(tid, r2["run_id"])
    assert out["n"] == 2
    assert (await lg_client.runs.get(tid, r1["run_id"]))["status"] == "success"
    # interrupt: the running run ends interrupted, the new one runs
    r3 = await lg_client.runs.create(tid, "slow", input={"n": 0}, config=slow(2))
    await wait_status(lg_client, tid, r3["run_id"], "running")
    r4 = await lg_client.runs.create(
        tid, "slow", input={"n": 0}, config=slow(0.1), multitask_strategy="interrupt"
    )
    out = await lg_client.runs.join(tid, r4["run_id"])
    assert (await lg_client.runs.get(tid, r3["run_id"]))["status"] == "interrupted"
    assert out["n"] == 3
    # rollback: the running run is gone
    r5 = await lg_client.runs.create(tid, "slow", input={"n": 0}, config=slow(2))
    await wait_status(lg_client, tid, r5["run_id"], "running")
    r6 = await lg_client.runs.create(
        tid, "slow", input={"n": 0}, config=slow(0.1), multitask_strategy="rollback"
    )
    out = await lg_client.runs.join(tid, r6["run_id"])
    assert out["n"] == 4
    with pytest.raises(httpx.HTTPStatusError) as e:
        await lg_client.runs.get(tid, r5["run_id"])
    assert e.value.response.status_code == 404
    assert r5["run_id"] not in [r["run_id"] for r in await lg_client.runs.list(tid, limit=100)]


async def test_cancel_interrupt_rollback_and_delete(
    lg_server: ServerProcess, lg_client: LangGraphClient
) -> None:
    tid = new_thread(lg_server)
    r = await lg_client.runs.create(tid, "slow", input={"n": 0}, config=slow(3))
    await wait_status(lg_client, tid, r["run_id"], "running")
    await lg_client.runs.cancel(tid, r["run_id"], wait=True)
    assert (await lg_client.runs.get(tid, r["run_id"]))["status"] == "interrupted"
    # the thread of a run cancelled mid-step reads as LangGraph's: interrupted by the user
    thread = await lg_client.threads.get(tid)
    assert thread["status"] == "interrupted"
    assert thread["error"]["error"] == "UserInterrupt"
    with pytest.raises(httpx.HTTPStatusError) as e:
        await lg_client.runs.cancel(tid, r["run_id"])
    assert e.value.response.status_code == 404
    # a pending run cancelled before it starts
    r1 = await lg_client.runs.create(tid, "slow", input={"n": 0}, config=slow(1))
    r2 = await lg_client.runs.create(tid, "slow", input={"n": 0}, config=slow(0))
    with lg_server.client() as c:
        resp = c.post(f"/threads/{tid}/runs/{r2['run_id']}/cancel")
        assert resp.status_code == 202
    await lg_client.runs.join(tid, r1["run_id"])
    await wait_status(lg_client, tid, r2["run_id"], "interrupted")
    # a run scheduled for later, cancelled before it starts
    later = await lg_client.runs.create(tid, "slow", input={"n": 0}, after_seconds=5)
    await lg_client.runs.cancel(tid, later["run_id"], wait=True)
    assert (await lg_client.runs.get(tid, later["run_id"]))["status"] == "interrupted"
    # rollback deletes the run
    r3 = await lg_client.runs.create(tid, "slow", input={"n": 0}, config=slow(3))
    await wait_status(lg_client, tid, r3["run_id"], "running")
    await lg_client.runs.cancel(tid, r3["run_id"], wait=True, action="rollback")
    with pytest.raises(httpx.HTTPStatusError) as e:
        await lg_client.runs.get(tid, r3["run_id"])
    assert e.value.response.status_code == 404
    # delete
    r4 = await lg_client.runs.create(tid, "chat", input=CHAT_IN)
    await lg_client.runs.join(tid, r4["run_id"])
    await lg_client.runs.delete(tid, r4["run_id"])
    with pytest.raises(httpx.HTTPStatusError) as e:
        await lg_client.runs.get(tid, r4["run_id"])
    assert e.value.response.status_code == 404


async def test_a_custom_assistants_config_reaches_its_runs(
    lg_server: ServerProcess, lg_client: LangGraphClient
) -> None:
    failing = await lg_client.assistants.create("slow", config={"configurable": {"fail": True}})
    tid = new_thread(lg_server)
    result = await lg_client.runs.wait(
        tid, failing["assistant_id"], input={"n": 0}, raise_error=False
    )
    assert result == {"__error__": {"error": "ValueError", "message": "boom: asked to fail"}}
    runs = await lg_client.runs.list(tid)
    assert runs[0]["assistant_id"] == failing["assistant_id"]
    # the run's own config is laid over the assistant's
    ok = await lg_client.runs.wait(
        tid, failing["assistant_id"], input={"n": 0}, config=slow(0, fail=False)
    )
    assert ok["n"] == 1


async def test_if_not_exists_and_not_found(
    lg_server: ServerProcess, lg_client: LangGraphClient
) -> None:
    tid = new_thread(lg_server)
    with lg_server.client() as c:
        for path, body in [
            (f"/threads/{uuid.uuid4()}/runs/wait", {"assistant_id": "chat", "input": CHAT_IN}),
            (f"/threads/{tid}/runs/wait", {"assistant_id": str(uuid.uuid4()), "input": CHAT_IN}),
            (f"/threads/{tid}/runs/stream", {"assistant_id": "nope", "input": CHAT_IN}),
            (f"/threads/{uuid.uuid4()}/runs", {"assistant_id": "chat", "input": CHAT_IN}),
        ]:
            r = c.post(path, json=body)
            assert r.status_code == 404, (path, r.text)
            assert r.json() == {"detail": "Thread or assistant not found."}
        r = c.get(f"/threads/{tid}/runs/{uuid.uuid4()}")
        assert r.status_code == 404 and r.json() == {"detail": "Not Found"}
        r = c.get(f"/threads/{uuid.uuid4()}/runs")
        assert r.status_code == 404 and "not found" in r.json()["detail"]
    new = str(uuid.uuid4())
    out = await lg_client.runs.wait(new, "chat", input=CHAT_IN, if_not_exists="create")
    assert out["messages"][-1]["content"] == "echo: hello there"
    # a thread can be run by another graph later
    out = await lg_client.runs.wait(new, "parent", input={"items": []})
    assert "items" in out


def test_bad_bodies_are_4xx(lg_server: ServerProcess) -> None:
    tid = new_thread(lg_server)
    with lg_server.client() as c:
        for body in [
            {},
            {"assistant_id": "chat", "stream_mode": "nope"},
            {"assistant_id": "chat", "input": [1, 2]},
            {"assistant_id": "chat", "multitask_strategy": "sometimes"},
            {"assistant_id": "chat", "interrupt_before": "ask"},
            {"assistant_id": "chat", "command": {"goto": 5}},
            {"assistant_id": "chat", "after_seconds": -1},
            {"assistant_id": 5},
        ]:
            for suffix in ("", "/wait", "/stream"):
                r = c.post(f"/threads/{tid}/runs{suffix}", json=body)
                assert 400 <= r.status_code < 500, (body, suffix, r.status_code, r.text)
                assert set(r.json()) == {"detail"}, r.text
        r = c.post(
            f"/threads/{tid}/runs/wait",
            content=b"{nope",
            headers={"content-type": "application/json"},
        )
        assert r.status_code in (400, 422)
        r = c.post(f"/threads/{tid}/runs/wait", json={"assistant_id": "chat", "input": None})
        assert r.status_code == 400  # a thread's first run needs an input
        r = c.post(f"/threads/{tid}/runs/x/cancel", params={"action": "explode"})
        assert r.status_code == 422


def test_sync_client_flow(lg_server: ServerProcess, lg_sync_client: SyncLangGraphClient) -> None:
    tid = new_thread(lg_server)
    out = lg_sync_client.runs.wait(tid, "approval", input={"request": "s"})
    assert out["__interrupt__"][0]["value"] == {"question": "approve s?"}
    out = lg_sync_client.runs.wait(tid, "approval", command=Command(resume="fine"))
    assert out["decision"] == "fine"
    r = lg_sync_client.runs.create(tid, "chat", input=CHAT_IN)
    assert (
        lg_sync_client.runs.join(tid, r["run_id"])["messages"][-1]["content"] == "echo: hello there"
    )
    parts = list(lg_sync_client.runs.stream(tid, "chat", input=CHAT_IN, stream_mode="updates"))
    assert parts[0].event == "metadata" and any(p.event == "updates" for p in parts)
    assert len(lg_sync_client.runs.list(tid)) == 4
