"""Run the real langgraph_sdk client (async + sync) through named checks against a LangGraph Agent Server.

Usage: python sdk_checks.py http://127.0.0.1:2124 [-k substring]

Reference server: `langgraph dev` on /work/research/lgdev-project (graphs: chat, approval, slow, parent).
The graph server under test must serve graphs with the same ids and behaviour:
  chat     - messages with add_messages; node "chat" writes custom {"custom": ...} and answers "echo: <last>"
             with a streaming chat model (so messages / messages-tuple stream tokens)
  approval - prepare -> ask (interrupt({"question": ...})) -> finish ; state request/decision/log(add)
  slow     - one node "sleep" sleeping configurable.sleep seconds (default 1.5), n += 1; configurable.fail raises
  parent   - parent_start -> child (a compiled subgraph sub_a -> sub_b); state items
A check that fails against `langgraph dev` is a wrong check.
"""
import asyncio
import sys
import time
import traceback
import uuid

import httpx
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.schema import Command

BASE = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else "http://127.0.0.1:2124"
ONLY = sys.argv[sys.argv.index("-k") + 1] if "-k" in sys.argv else None
NS_GRAPH = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")  # langgraph_api.graph.NAMESPACE_GRAPH
CHAT_IN = {"messages": [{"role": "user", "content": "hello there"}]}
SLOW = lambda s=1.5: {"configurable": {"sleep": s}}  # noqa: E731

CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


def status_of(exc):
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code
    return None


async def expect_status(coro, code):
    try:
        await coro
    except httpx.HTTPStatusError as e:  # langgraph_sdk.errors.APIStatusError subclasses it
        assert e.response.status_code == code, f"expected {code}, got {e.response.status_code}"
        return e
    raise AssertionError(f"expected HTTP {code}, got success")


async def collect(stream):
    return [p async for p in stream]


# ============================================================== assistants
@check
async def assistants_system_id_is_uuid5(c):
    res = await c.assistants.search(graph_id="chat", metadata={"created_by": "system"})
    assert len(res) == 1, res
    assert res[0]["assistant_id"] == str(uuid.uuid5(NS_GRAPH, "chat")), res[0]["assistant_id"]
    for k in ["assistant_id", "graph_id", "config", "context", "metadata", "name", "created_at", "updated_at", "version", "description"]:
        assert k in res[0], k
    assert res[0]["name"] == "chat" and res[0]["version"] == 1


@check
async def assistants_create_if_exists(c):
    aid = str(uuid.uuid4())
    a = await c.assistants.create("chat", assistant_id=aid, name="mine", metadata={"team": "a"},
                                  config={"configurable": {"x": 1}}, if_exists="raise")
    assert a["assistant_id"] == aid and a["graph_id"] == "chat" and a["version"] == 1
    await expect_status(c.assistants.create("chat", assistant_id=aid, if_exists="raise"), 409)
    b = await c.assistants.create("chat", assistant_id=aid, name="other", if_exists="do_nothing")
    assert b["assistant_id"] == aid and b["name"] == "mine"
    g = await c.assistants.get(aid)
    assert g["metadata"] == {"team": "a"} and g["config"]["configurable"] == {"x": 1}


@check
async def assistants_update_versions_latest(c):
    a = await c.assistants.create("chat", name="v1", metadata={"v": 1})
    u = await c.assistants.update(a["assistant_id"], name="v2", metadata={"v": 2})
    assert u["version"] == 2 and u["name"] == "v2"
    vs = await c.assistants.get_versions(a["assistant_id"])
    assert sorted(v["version"] for v in vs) == [1, 2], vs
    assert all("assistant_id" in v and "config" in v for v in vs)
    l = await c.assistants.set_latest(a["assistant_id"], 1)
    assert l["version"] == 1 and l["name"] == "v1"
    g = await c.assistants.get(a["assistant_id"])
    assert g["version"] == 1


@check
async def assistants_search_count_paging(c):
    tag = uuid.uuid4().hex
    for i in range(3):
        await c.assistants.create("chat", name=f"s{i}", metadata={"tag": tag})
    n = await c.assistants.count(metadata={"tag": tag})
    assert n == 3, n
    p1 = await c.assistants.search(metadata={"tag": tag}, limit=2, offset=0)
    p2 = await c.assistants.search(metadata={"tag": tag}, limit=2, offset=2)
    assert len(p1) == 2 and len(p2) == 1
    assert not {a["assistant_id"] for a in p1} & {a["assistant_id"] for a in p2}
    obj = await c.assistants.search(metadata={"tag": tag}, limit=2, response_format="object")
    assert len(obj["assistants"]) == 2 and obj["next"] == "2", obj["next"]
    sel = await c.assistants.search(metadata={"tag": tag}, select=["assistant_id", "name"])
    assert set(sel[0]) == {"assistant_id", "name"}, sel[0]


@check
async def assistants_graph_schemas(c):
    aid = str(uuid.uuid5(NS_GRAPH, "chat"))
    g = await c.assistants.get_graph(aid)
    ids = {n["id"] for n in g["nodes"]}
    assert {"__start__", "chat", "__end__"} <= ids, ids
    assert g["edges"] and {"source", "target"} <= set(g["edges"][0])
    s = await c.assistants.get_schemas(aid)
    for k in ["graph_id", "input_schema", "output_schema", "state_schema", "config_schema", "context_schema"]:
        assert k in s, k
    assert "messages" in s["state_schema"]["properties"]


@check
async def assistants_subgraphs_xray(c):
    aid = str(uuid.uuid5(NS_GRAPH, "parent"))
    sg = await c.assistants.get_subgraphs(aid)
    assert set(sg) == {"child"}, sg
    assert "sub_a" in str(sg["child"]) or "items" in str(sg["child"])
    x = await c.assistants.get_graph(aid, xray=True)
    ids = {n["id"] for n in x["nodes"]}
    assert any("sub_a" in i for i in ids), ids


@check
async def assistants_delete_404(c):
    a = await c.assistants.create("chat")
    await c.assistants.delete(a["assistant_id"])
    e = await expect_status(c.assistants.get(a["assistant_id"]), 404)
    assert "detail" in e.response.json()


# ============================================================== threads
@check
async def threads_create_get_update(c):
    tid = str(uuid.uuid4())
    t = await c.threads.create(thread_id=tid, metadata={"user": "u1"})
    assert t["thread_id"] == tid and t["status"] == "idle" and t["metadata"] == {"user": "u1"}
    # a fresh thread has no "interrupts" key (it appears once a run has touched the thread)
    assert set(t) >= {"thread_id", "created_at", "updated_at", "state_updated_at", "metadata", "status", "values", "config"}, set(t)
    g = await c.threads.get(tid)
    assert g["thread_id"] == tid
    u = await c.threads.update(tid, metadata={"extra": 1})
    assert u["metadata"] == {"user": "u1", "extra": 1}, u["metadata"]


@check
async def threads_create_if_exists(c):
    tid = str(uuid.uuid4())
    await c.threads.create(thread_id=tid, metadata={"a": 1})
    await expect_status(c.threads.create(thread_id=tid, if_exists="raise"), 409)
    t = await c.threads.create(thread_id=tid, metadata={"a": 2}, if_exists="do_nothing")
    assert t["metadata"] == {"a": 1}, t


@check
async def threads_search_pagination_count(c):
    tag = uuid.uuid4().hex
    ids = [(await c.threads.create(metadata={"tag": tag}))["thread_id"] for _ in range(3)]
    assert await c.threads.count(metadata={"tag": tag}) == 3
    p1 = await c.threads.search(metadata={"tag": tag}, limit=2, offset=0)
    p2 = await c.threads.search(metadata={"tag": tag}, limit=2, offset=2)
    assert len(p1) == 2 and len(p2) == 1
    assert {t["thread_id"] for t in p1 + p2} == set(ids)
    asc = await c.threads.search(metadata={"tag": tag}, sort_by="created_at", sort_order="asc")
    assert [t["thread_id"] for t in asc] == ids
    st = await c.threads.search(metadata={"tag": tag}, status="idle")
    assert len(st) == 3
    by_ids = await c.threads.search(ids=ids[:2])
    assert {t["thread_id"] for t in by_ids} == set(ids[:2])
    sel = await c.threads.search(ids=ids[:1], select=["thread_id", "status"])
    assert set(sel[0]) == {"thread_id", "status"}, sel[0]


@check
async def threads_supersteps_seed(c):
    t = await c.threads.create(graph_id="chat", supersteps=[
        {"updates": [{"values": {"messages": [{"role": "user", "content": "seed"}]}, "as_node": "chat"}]},
        {"updates": [{"values": {"messages": [{"role": "ai", "content": "seeded reply"}]}, "as_node": "chat"}]},
    ])
    # NB: a first superstep with as_node="__input__" is dropped by the reference (only later supersteps show)
    s = await c.threads.get_state(t["thread_id"])
    msgs = s["values"]["messages"]
    assert [m["content"] for m in msgs] == ["seed", "seeded reply"], msgs
    assert msgs[0]["type"] == "human" and msgs[1]["type"] == "ai"
    assert t["metadata"].get("graph_id") == "chat"


@check
async def threads_state_update_as_node_and_checkpoint(c):
    t = await c.threads.create()
    await c.runs.wait(t["thread_id"], "chat", input=CHAT_IN)
    s0 = await c.threads.get_state(t["thread_id"])
    for k in ["values", "next", "checkpoint", "metadata", "created_at", "parent_checkpoint", "tasks", "interrupts"]:
        assert k in s0, k
    r = await c.threads.update_state(t["thread_id"], {"messages": [{"role": "user", "content": "added"}]}, as_node="chat")
    assert r["checkpoint"]["checkpoint_id"] and r["checkpoint"]["thread_id"] == t["thread_id"]
    s1 = await c.threads.get_state(t["thread_id"])
    assert len(s1["values"]["messages"]) == 3 and s1["metadata"]["source"] == "update"
    old = await c.threads.get_state(t["thread_id"], checkpoint_id=s0["checkpoint"]["checkpoint_id"])
    assert len(old["values"]["messages"]) == 2
    old2 = await c.threads.get_state(t["thread_id"], checkpoint=s0["checkpoint"])
    assert old2["checkpoint"]["checkpoint_id"] == s0["checkpoint"]["checkpoint_id"]
    # update from an older checkpoint forks
    await c.threads.update_state(t["thread_id"], {"messages": [{"role": "user", "content": "fork"}]},
                                 as_node="chat", checkpoint_id=s0["checkpoint"]["checkpoint_id"])
    s2 = await c.threads.get_state(t["thread_id"])
    assert [m["content"] for m in s2["values"]["messages"]][-1] == "fork" and len(s2["values"]["messages"]) == 3


@check
async def threads_history(c):
    t = await c.threads.create()
    await c.runs.wait(t["thread_id"], "chat", input=CHAT_IN)
    await c.runs.wait(t["thread_id"], "chat", input=CHAT_IN)
    h = await c.threads.get_history(t["thread_id"], limit=100)
    assert len(h) >= 6, len(h)
    assert h[0]["created_at"] >= h[-1]["created_at"], "newest first"
    assert len(h[0]["values"]["messages"]) == 4
    h2 = await c.threads.get_history(t["thread_id"], limit=2)
    assert len(h2) == 2
    hm = await c.threads.get_history(t["thread_id"], metadata={"source": "input"})
    assert hm and all(x["metadata"]["source"] == "input" for x in hm)
    sources = {x["metadata"]["source"] for x in h}
    assert {"input", "loop"} <= sources, sources


@check
async def threads_copy_delete(c):
    t = await c.threads.create(metadata={"k": "v"})
    await c.runs.wait(t["thread_id"], "chat", input=CHAT_IN)
    cp = await c.threads.copy(t["thread_id"])
    assert cp["thread_id"] != t["thread_id"]
    s = await c.threads.get_state(cp["thread_id"])
    assert len(s["values"]["messages"]) == 2
    await c.threads.delete(t["thread_id"])
    await expect_status(c.threads.get(t["thread_id"]), 404)
    await expect_status(c.threads.delete(t["thread_id"]), 404)


@check
async def threads_status_busy_then_idle(c):
    t = await c.threads.create()
    r = await c.runs.create(t["thread_id"], "slow", input={"n": 0}, config=SLOW(1.5))
    await asyncio.sleep(0.8)
    assert (await c.threads.get(t["thread_id"]))["status"] == "busy"
    await c.runs.join(t["thread_id"], r["run_id"])
    th = await c.threads.get(t["thread_id"])
    assert th["status"] == "idle" and th["values"] == {"n": 1, "log": ["slept"]}, th


@check
async def threads_status_error(c):
    t = await c.threads.create()
    res = await c.runs.wait(t["thread_id"], "slow", input={"n": 0}, config={"configurable": {"fail": True}}, raise_error=False)
    assert "__error__" in res, res
    assert res["__error__"]["error"] == "ValueError", res
    th = await c.threads.get(t["thread_id"])
    assert th["status"] == "error", th["status"]
    runs = await c.runs.list(t["thread_id"])
    assert runs[0]["status"] == "error"


# ============================================================== runs
@check
async def runs_background_get_join(c):
    t = await c.threads.create()
    r = await c.runs.create(t["thread_id"], "chat", input=CHAT_IN, metadata={"m": 1})
    assert r["status"] == "pending" and r["thread_id"] == t["thread_id"]
    assert r["assistant_id"] == str(uuid.uuid5(NS_GRAPH, "chat")), r["assistant_id"]
    for k in ["run_id", "created_at", "updated_at", "metadata", "kwargs", "multitask_strategy"]:
        assert k in r, k
    assert r["multitask_strategy"] == "enqueue", r["multitask_strategy"]  # server default is enqueue, not reject
    out = await c.runs.join(t["thread_id"], r["run_id"])
    assert out["messages"][-1]["content"] == "echo: hello there", out
    g = await c.runs.get(t["thread_id"], r["run_id"])
    assert g["status"] == "success" and g["metadata"]["m"] == 1


@check
async def runs_wait_and_list(c):
    t = await c.threads.create()
    out = await c.runs.wait(t["thread_id"], "chat", input=CHAT_IN)
    assert [m["type"] for m in out["messages"]] == ["human", "ai"]
    await c.runs.wait(t["thread_id"], "chat", input=CHAT_IN)
    runs = await c.runs.list(t["thread_id"])
    assert len(runs) == 2 and all(r["status"] == "success" for r in runs)
    assert runs[0]["created_at"] >= runs[1]["created_at"], "newest first"
    one = await c.runs.list(t["thread_id"], limit=1, offset=1)
    assert len(one) == 1 and one[0]["run_id"] == runs[1]["run_id"]


@check
async def runs_stream_values(c):
    t = await c.threads.create()
    parts = await collect(c.runs.stream(t["thread_id"], "chat", input=CHAT_IN, stream_mode="values"))
    ev = [p.event for p in parts]
    assert ev[0] == "metadata" and set(ev[1:]) == {"values"}, ev
    assert set(parts[0].data) >= {"run_id", "attempt"}, parts[0].data
    assert len(parts[-1].data["messages"]) == 2


@check
async def runs_stream_updates(c):
    t = await c.threads.create()
    parts = await collect(c.runs.stream(t["thread_id"], "chat", input=CHAT_IN, stream_mode="updates"))
    ups = [p.data for p in parts if p.event == "updates"]
    assert ups and "chat" in ups[-1], ups


@check
async def runs_stream_messages_tuple(c):
    t = await c.threads.create()
    parts = await collect(c.runs.stream(t["thread_id"], "chat", input=CHAT_IN, stream_mode="messages-tuple"))
    msgs = [p for p in parts if p.event == "messages"]
    assert len(msgs) >= 2, [p.event for p in parts]
    chunk, meta = msgs[0].data
    assert chunk["type"] == "AIMessageChunk" and meta["langgraph_node"] == "chat", msgs[0].data
    text = "".join(p.data[0]["content"] for p in msgs)
    assert text == "echo: hello there", text


@check
async def runs_stream_messages_partial(c):
    t = await c.threads.create()
    parts = await collect(c.runs.stream(t["thread_id"], "chat", input=CHAT_IN, stream_mode="messages"))
    ev = [p.event for p in parts]
    assert "messages/metadata" in ev and "messages/partial" in ev, ev
    # the reference sends no messages/complete for a streamed chat model: metadata once, then partials
    last_partial = [p for p in parts if p.event == "messages/partial"][-1].data
    assert isinstance(last_partial, list) and last_partial[0]["content"] == "echo: hello there", last_partial


@check
async def runs_stream_list_of_modes_and_custom(c):
    t = await c.threads.create()
    parts = await collect(c.runs.stream(t["thread_id"], "chat", input=CHAT_IN,
                                        stream_mode=["values", "updates", "messages-tuple", "custom"]))
    ev = {p.event for p in parts}
    assert ev == {"metadata", "values", "updates", "messages", "custom"}, ev
    cust = [p.data for p in parts if p.event == "custom"]
    assert cust == [{"custom": "hello from chat node"}], cust


@check
async def runs_stream_events_debug_tasks_checkpoints(c):
    t = await c.threads.create()
    parts = await collect(c.runs.stream(t["thread_id"], "chat", input=CHAT_IN,
                                        stream_mode=["events", "debug", "tasks", "checkpoints"]))
    ev = {p.event for p in parts}
    assert {"events", "debug", "tasks", "checkpoints"} <= ev, ev
    ck = [p.data for p in parts if p.event == "checkpoints"]
    assert "values" in ck[-1] and "next" in ck[-1] and "config" in ck[-1], ck[-1].keys()
    tasks = [p.data for p in parts if p.event == "tasks"]
    assert any(x.get("name") == "chat" for x in tasks)
    evs = [p.data for p in parts if p.event == "events"]
    assert any(e.get("event") == "on_chat_model_stream" for e in evs)


@check
async def runs_stream_subgraphs(c):
    t = await c.threads.create()
    parts = await collect(c.runs.stream(t["thread_id"], "parent", input={"items": []},
                                        stream_mode=["updates", "values"], stream_subgraphs=True))
    ev = [p.event for p in parts]
    sub = [e for e in ev if e.startswith("updates|child:")]
    assert sub, ev
    assert "updates" in ev and "values" in ev
    # the namespace is "child:<task id>"
    assert all(len(e.split("|", 1)[1].split(":", 1)[1]) == 36 for e in sub), sub


@check
async def runs_stream_resumable_join_stream(c):
    t = await c.threads.create()
    r = await c.runs.create(t["thread_id"], "slow", input={"n": 0}, config=SLOW(1.0),
                            stream_mode=["values", "updates"], stream_resumable=True)
    parts = await collect(c.runs.join_stream(t["thread_id"], r["run_id"]))
    ev = [p.event for p in parts]
    assert "values" in ev and "updates" in ev, ev
    # replay from the start after the run ended
    again = await collect(c.runs.join_stream(t["thread_id"], r["run_id"], last_event_id="-1"))
    ev2 = [p.event for p in again]
    assert "values" in ev2 and all(p.id for p in again if p.event != "metadata"), [(p.event, p.id) for p in again]


@check
async def runs_cancel_shows_interrupted(c):
    t = await c.threads.create()
    r = await c.runs.create(t["thread_id"], "slow", input={"n": 0}, config=SLOW(3))
    for _ in range(50):  # the reference's queue picks a run up within ~0.5 s
        if (await c.runs.get(t["thread_id"], r["run_id"]))["status"] == "running":
            break
        await asyncio.sleep(0.1)
    await c.runs.cancel(t["thread_id"], r["run_id"], wait=True)
    g = await c.runs.get(t["thread_id"], r["run_id"])
    assert g["status"] == "interrupted", g["status"]
    th = await c.threads.get(t["thread_id"])
    # a cancelled *running* run leaves the thread "interrupted" with error UserInterrupt
    # (a cancelled *pending* run leaves it "idle")
    assert th["status"] == "interrupted", th["status"]
    assert th["error"]["error"] == "UserInterrupt", th["error"]
    # cancelling it again (it is finished) is a 404
    await expect_status(c.runs.cancel(t["thread_id"], r["run_id"]), 404)


@check
async def runs_cancel_rollback_deletes_run(c):
    t = await c.threads.create()
    r = await c.runs.create(t["thread_id"], "slow", input={"n": 0}, config=SLOW(3))
    await asyncio.sleep(1.0)
    await c.runs.cancel(t["thread_id"], r["run_id"], wait=True, action="rollback")
    await expect_status(c.runs.get(t["thread_id"], r["run_id"]), 404)
    assert (await c.threads.get(t["thread_id"]))["status"] == "idle"


@check
async def runs_delete(c):
    t = await c.threads.create()
    r = await c.runs.create(t["thread_id"], "chat", input=CHAT_IN)
    await c.runs.join(t["thread_id"], r["run_id"])
    await c.runs.delete(t["thread_id"], r["run_id"])
    await expect_status(c.runs.get(t["thread_id"], r["run_id"]), 404)


@check
async def runs_multitask_reject(c):
    t = await c.threads.create()
    r = await c.runs.create(t["thread_id"], "slow", input={"n": 0}, config=SLOW(1.5))
    await asyncio.sleep(0.6)
    e = await expect_status(c.runs.create(t["thread_id"], "slow", input={"n": 0}, multitask_strategy="reject"), 409)
    assert "detail" in e.response.json()
    await c.runs.join(t["thread_id"], r["run_id"])


@check
async def runs_multitask_default_is_enqueue(c):
    t = await c.threads.create()
    r1 = await c.runs.create(t["thread_id"], "slow", input={"n": 0}, config=SLOW(1.0))
    await asyncio.sleep(0.5)
    r2 = await c.runs.create(t["thread_id"], "slow", input={"n": 0}, config=SLOW(0.2))  # no strategy given
    assert r2["status"] == "pending" and r2["multitask_strategy"] == "enqueue"
    out = await c.runs.join(t["thread_id"], r2["run_id"])
    assert out["n"] == 2, out


@check
async def runs_multitask_enqueue(c):
    t = await c.threads.create()
    r1 = await c.runs.create(t["thread_id"], "slow", input={"n": 0}, config=SLOW(1.0))
    await asyncio.sleep(0.5)
    r2 = await c.runs.create(t["thread_id"], "slow", input={"n": 0}, config=SLOW(0.2), multitask_strategy="enqueue")
    assert r2["status"] == "pending"
    out = await c.runs.join(t["thread_id"], r2["run_id"])
    assert out["n"] == 2, out
    assert (await c.runs.get(t["thread_id"], r1["run_id"]))["status"] == "success"


@check
async def runs_multitask_interrupt(c):
    t = await c.threads.create()
    r1 = await c.runs.create(t["thread_id"], "slow", input={"n": 0}, config=SLOW(2))
    await asyncio.sleep(0.7)
    r2 = await c.runs.create(t["thread_id"], "slow", input={"n": 0}, config=SLOW(0.2), multitask_strategy="interrupt")
    out = await c.runs.join(t["thread_id"], r2["run_id"])
    assert (await c.runs.get(t["thread_id"], r1["run_id"]))["status"] == "interrupted"
    assert out["n"] == 1, out


@check
async def runs_multitask_rollback(c):
    t = await c.threads.create()
    r1 = await c.runs.create(t["thread_id"], "slow", input={"n": 0}, config=SLOW(2))
    await asyncio.sleep(0.7)
    r2 = await c.runs.create(t["thread_id"], "slow", input={"n": 0}, config=SLOW(0.2), multitask_strategy="rollback")
    await c.runs.join(t["thread_id"], r2["run_id"])
    await expect_status(c.runs.get(t["thread_id"], r1["run_id"]), 404)
    assert [r["run_id"] for r in await c.runs.list(t["thread_id"])] == [r2["run_id"]]


@check
async def runs_graph_id_as_assistant_id_and_errors(c):
    t = await c.threads.create()
    await expect_status(c.runs.create(str(uuid.uuid4()), "chat", input=CHAT_IN), 404)
    e = await expect_status(c.runs.create(t["thread_id"], str(uuid.uuid4()), input=CHAT_IN), 404)
    assert e.response.json() == {"detail": "Thread or assistant not found."}, e.response.json()
    await expect_status(c.runs.get(t["thread_id"], str(uuid.uuid4())), 404)
    r = await c.runs.wait(str(uuid.uuid4()), "chat", input=CHAT_IN, if_not_exists="create")
    assert r["messages"][-1]["content"] == "echo: hello there"


# ============================================================== interrupts
@check
async def interrupt_wait_state_resume(c):
    t = await c.threads.create()
    out = await c.runs.wait(t["thread_id"], "approval", input={"request": "deploy"})
    assert "__interrupt__" in out, out
    intr = out["__interrupt__"][0]
    assert intr["value"] == {"question": "approve deploy?"} and intr["id"], intr
    th = await c.threads.get(t["thread_id"])
    assert th["status"] == "interrupted", th["status"]
    assert th["interrupts"] and list(th["interrupts"].values())[0][0]["id"] == intr["id"], th["interrupts"]
    s = await c.threads.get_state(t["thread_id"])
    assert s["next"] == ["ask"] and s["interrupts"][0]["id"] == intr["id"], s
    assert s["tasks"][0]["interrupts"][0]["value"] == {"question": "approve deploy?"}
    runs = await c.runs.list(t["thread_id"])
    assert runs[0]["status"] == "success", runs[0]["status"]  # the run that hit interrupt() is a success
    out2 = await c.runs.wait(t["thread_id"], "approval", command=Command(resume="yes"))
    assert out2["decision"] == "yes" and out2["log"] == ["prepared", "asked", "finished:yes"], out2
    assert (await c.threads.get(t["thread_id"]))["status"] == "idle"


@check
async def interrupt_stream_and_resume_by_id(c):
    t = await c.threads.create()
    parts = await collect(c.runs.stream(t["thread_id"], "approval", input={"request": "x"}, stream_mode=["updates", "values"]))
    ups = [p.data for p in parts if p.event == "updates"]
    assert "__interrupt__" in ups[-1], ups
    vals = [p.data for p in parts if p.event == "values"]
    assert "__interrupt__" in vals[-1], vals[-1]
    iid = ups[-1]["__interrupt__"][0]["id"]
    out = await c.runs.wait(t["thread_id"], "approval", command={"resume": {iid: "mapped"}})
    assert out["decision"] == "mapped", out


@check
async def interrupt_before_and_continue(c):
    t = await c.threads.create()
    await c.runs.wait(t["thread_id"], "approval", input={"request": "y"}, interrupt_before=["ask"])
    th = await c.threads.get(t["thread_id"])
    assert th["status"] == "interrupted", th["status"]
    s = await c.threads.get_state(t["thread_id"])
    assert s["next"] == ["ask"]
    out = await c.runs.wait(t["thread_id"], "approval", input=None)
    assert "__interrupt__" in out  # now the interrupt() inside ask


@check
async def command_goto_update(c):
    t = await c.threads.create()
    await c.runs.wait(t["thread_id"], "approval", input={"request": "y"})
    out = await c.runs.wait(t["thread_id"], "approval", command={"resume": "ok", "update": {"request": "z"}})
    assert out["request"] == "z" and out["decision"] == "ok", out


# ============================================================== stateless
@check
async def stateless_wait_and_stream(c):
    out = await c.runs.wait(None, "chat", input=CHAT_IN)
    assert out["messages"][-1]["content"] == "echo: hello there"
    parts = await collect(c.runs.stream(None, "chat", input=CHAT_IN, stream_mode=["values", "messages-tuple"]))
    ev = [p.event for p in parts]
    assert ev[0] == "metadata" and "messages" in ev and "values" in ev, ev


@check
async def stateless_background_and_batch(c):
    r = await c.runs.create(None, "chat", input=CHAT_IN)
    assert r["status"] == "pending" and r["thread_id"]
    b = await c.runs.create_batch([{"assistant_id": "chat", "input": CHAT_IN}, {"assistant_id": "parent", "input": {"items": []}}])
    assert len(b) == 2 and all(x["status"] == "pending" for x in b)


# ============================================================== store
@check
async def store_put_get_search_delete_namespaces(c):
    ns = ["users", uuid.uuid4().hex]
    await c.store.put_item(ns, "prefs", {"theme": "dark"})
    await c.store.put_item(ns, "other", {"theme": "light"})
    it = await c.store.get_item(ns, "prefs")
    assert it["value"] == {"theme": "dark"} and it["namespace"] == ns and it["key"] == "prefs", it
    for k in ["created_at", "updated_at"]:
        assert k in it
    res = await c.store.search_items(ns, filter={"theme": "dark"})
    assert [i["key"] for i in res["items"]] == ["prefs"], res
    lim = await c.store.search_items(ns, limit=1, offset=1)
    assert len(lim["items"]) == 1
    nss = await c.store.list_namespaces(prefix=["users"], max_depth=2)
    assert ns in nss["namespaces"], nss
    await c.store.delete_item(ns, "prefs")
    assert await c.store.get_item(ns, "prefs") is None


@check
async def store_ttl_and_bad_namespace(c):
    ns = ["ttl", uuid.uuid4().hex]
    await c.store.put_item(ns, "k", {"a": 1}, ttl=5)
    it = await c.store.get_item(ns, "k", refresh_ttl=True)
    assert it["value"] == {"a": 1}
    async with httpx.AsyncClient(base_url=BASE) as h:  # the SDK refuses "a.b" client-side, so go raw
        r = await h.put("/store/items", json={"namespace": ["a.b"], "key": "k", "value": {}})
        # NB the reference answers this 422 as plain text without a content-type, not {"detail": ...}
        assert r.status_code == 422 and "period" in r.text, (r.status_code, r.text)
    assert await c.store.get_item(ns, "missing") is None  # 200 with body `null`


# ============================================================== crons
@check
async def crons_create_search_delete(c):
    t = await c.threads.create()
    cr = await c.crons.create_for_thread(t["thread_id"], "chat", schedule="0 0 * * *", input=CHAT_IN)
    assert cr["cron_id"] and cr["thread_id"] == t["thread_id"] and cr["schedule"] == "0 0 * * *", cr
    st = await c.crons.create("chat", schedule="*/5 * * * *", input=CHAT_IN)
    assert st["cron_id"] and st["next_run_date"], st
    found = await c.crons.search(thread_id=t["thread_id"])
    assert [x["cron_id"] for x in found] == [cr["cron_id"]], found
    n = await c.crons.count(thread_id=t["thread_id"])
    assert n == 1, n
    await c.crons.delete(cr["cron_id"])
    await c.crons.delete(st["cron_id"])
    assert await c.crons.search(thread_id=t["thread_id"]) == []


# ============================================================== more
@check
async def threads_join_stream_while_run(c):
    t = await c.threads.create()
    got = []

    async def reader():
        # NB threads.join_stream is an `async def` returning the iterator (runs.join_stream is not)
        async for p in await c.threads.join_stream(t["thread_id"], stream_mode=["values"]):
            got.append(p)
            if p.event == "metadata" and p.data.get("status") == "run_done":
                return

    task = asyncio.create_task(reader())
    await asyncio.sleep(0.5)
    r = await c.runs.create(t["thread_id"], "slow", input={"n": 0}, config=SLOW(0.5))
    await asyncio.wait_for(task, 20)
    ev = [(p.event, p.data.get("status") if isinstance(p.data, dict) else None) for p in got]
    assert got[0].event == "metadata" and got[0].data["run_id"] == r["run_id"], ev
    assert ("metadata", "run_done") in ev and any(e == "values" for e, _ in ev), ev
    assert all(p.id for p in got), "thread stream events carry ids"


@check
async def runs_cancel_many_and_prune(c):
    t = await c.threads.create()
    r = await c.runs.create(t["thread_id"], "slow", input={"n": 0}, config=SLOW(3))
    await asyncio.sleep(1.0)
    await c.runs.cancel_many(thread_id=t["thread_id"], run_ids=[r["run_id"]])
    for _ in range(30):
        if (await c.runs.get(t["thread_id"], r["run_id"]))["status"] == "interrupted":
            break
        await asyncio.sleep(0.1)
    assert (await c.runs.get(t["thread_id"], r["run_id"]))["status"] == "interrupted"
    p = await c.threads.prune([t["thread_id"]])
    assert p == {"pruned_count": 1}, p
    await expect_status(c.threads.get(t["thread_id"]), 404)


@check
async def runs_fork_from_checkpoint(c):
    t = await c.threads.create()
    await c.runs.wait(t["thread_id"], "chat", input={"messages": [{"role": "user", "content": "one"}]})
    hist = await c.threads.get_history(t["thread_id"])
    first = [h for h in hist if h["metadata"]["source"] == "input"][0]
    out = await c.runs.wait(t["thread_id"], "chat", input={"messages": [{"role": "user", "content": "two"}]},
                            checkpoint_id=first["checkpoint"]["checkpoint_id"])
    assert [m["content"] for m in out["messages"]] == ["two", "echo: two"], out


@check
async def runs_wait_raises_on_graph_error(c):
    t = await c.threads.create()
    try:
        await c.runs.wait(t["thread_id"], "slow", input={"n": 0}, config={"configurable": {"fail": True}})
    except Exception as e:  # noqa: BLE001  (the SDK raises client-side from the 200 {"__error__"} body)
        assert "boom" in str(e) or "ValueError" in str(e), repr(e)
    else:
        raise AssertionError("expected runs.wait to raise")
    parts = await collect(c.runs.stream(t["thread_id"], "slow", input={"n": 0}, config={"configurable": {"fail": True}}))
    assert parts[-1].event == "error" and parts[-1].data == {"error": "ValueError", "message": "boom: asked to fail"}, parts[-1]


@check
async def stateless_thread_deleted_unless_keep(c):
    seen = {}
    await c.runs.wait(None, "chat", input=CHAT_IN, on_run_created=lambda m: seen.update(m))
    assert seen.get("thread_id"), seen
    await asyncio.sleep(0.5)
    await expect_status(c.threads.get(seen["thread_id"]), 404)
    kept = {}
    await c.runs.wait(None, "chat", input=CHAT_IN, on_completion="keep", on_run_created=lambda m: kept.update(m))
    await asyncio.sleep(0.5)
    assert (await c.threads.get(kept["thread_id"]))["status"] == "idle"


@check
async def crons_update(c):
    cr = await c.crons.create("chat", schedule="*/5 * * * *", input=CHAT_IN)
    u = await c.crons.update(cr["cron_id"], schedule="*/10 * * * *")
    assert u["schedule"] == "*/10 * * * *", u
    await c.crons.delete(cr["cron_id"])


# ============================================================== sync client
@check
async def sync_client_flow(c):
    def run():
        s = get_sync_client(url=BASE, api_key=None)
        t = s.threads.create(metadata={"sync": True})
        out = s.runs.wait(t["thread_id"], "chat", input=CHAT_IN)
        assert out["messages"][-1]["content"] == "echo: hello there"
        parts = list(s.runs.stream(t["thread_id"], "chat", input=CHAT_IN, stream_mode=["values", "messages-tuple"]))
        assert parts[0].event == "metadata" and "messages" in {p.event for p in parts}
        out = s.runs.wait(t["thread_id"], "approval", input={"request": "q"})
        assert "__interrupt__" in out
        out = s.runs.wait(t["thread_id"], "approval", command=Command(resume="sync"))
        assert out["decision"] == "sync"
        assert s.threads.get(t["thread_id"])["status"] == "idle"
        s.store.put_item(["sync"], "k", {"v": 1})
        assert s.store.get_item(["sync"], "k")["value"] == {"v": 1}
        assert len(s.threads.get_history(t["thread_id"], limit=3)) == 3
        try:
            s.threads.get(str(uuid.uuid4()))
            raise AssertionError("expected 404")
        except httpx.HTTPStatusError as e:
            assert e.response.status_code == 404
    await asyncio.to_thread(run)


async def main():
    c = get_client(url=BASE, api_key=None)
    passed = failed = 0
    for fn in CHECKS:
        if ONLY and ONLY not in fn.__name__:
            continue
        t0 = time.time()
        try:
            await asyncio.wait_for(fn(c), 60)
            passed += 1
            print(f"PASS {fn.__name__} ({time.time() - t0:.1f}s)", flush=True)
        except Exception as e:  # noqa: BLE001
            failed += 1
            detail = traceback.format_exception_only(type(e), e)[-1].strip()
            if isinstance(e, httpx.HTTPStatusError):
                detail += f" body={e.response.text[:300]!r}"
            print(f"FAIL {fn.__name__}: {detail[:600]}", flush=True)
    print(f"\n{passed} passed, {failed} failed")
    return failed


if __name__ == "__main__":
    sys.exit(1 if asyncio.run(main()) else 0)
