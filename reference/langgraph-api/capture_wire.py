"""Capture the LangGraph Agent Server wire format with plain httpx.

Usage: python capture_wire.py http://127.0.0.1:2124  (writes ./wire/*.json next to this file)
Needs the tiny project in /work/research/lgdev-project (graphs chat, approval, slow, parent).
"""
import json
import sys
import time
import uuid
from pathlib import Path

import httpx

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:2124"
OUT = Path(__file__).parent / "wire"
OUT.mkdir(exist_ok=True)
KEEP_HEADERS = {"location", "content-location", "x-pagination-total", "x-pagination-next",
                "content-type", "content-length", "cache-control", "x-accel-buffering",
                "transfer-encoding", "allow", "access-control-allow-origin", "vary"}
c = httpx.Client(base_url=BASE, timeout=60)
areas: dict[str, list] = {}
NS_GRAPH = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")  # langgraph_api.graph.NAMESPACE_GRAPH (NOT uuid.NAMESPACE_URL=6ba7b811)


def trim(x, depth=0):
    if isinstance(x, dict):
        return {k: trim(v, depth + 1) for k, v in list(x.items())[:40]}
    if isinstance(x, list):
        t = [trim(v, depth + 1) for v in x[:4]]
        if len(x) > 4:
            t.append(f"... {len(x) - 4} more")
        return t
    if isinstance(x, str) and len(x) > 400:
        return x[:400] + "...<trimmed>"
    return x


def parse_sse(text: str):
    events, cur = [], {}
    for line in text.split("\n"):
        line = line.rstrip("\r")
        if line == "":
            if cur:
                events.append(cur)
                cur = {}
            continue
        if line.startswith(":"):
            cur.setdefault("comments", []).append(line)
            continue
        k, _, v = line.partition(":")
        if v.startswith(" "):
            v = v[1:]
        if k == "data":
            cur["data"] = (cur["data"] + "\n" + v) if "data" in cur else v
        else:
            cur[k] = v
    if cur:
        events.append(cur)
    out = []
    for e in events:
        if "data" in e:
            try:
                e["data"] = json.loads(e["data"])
            except Exception:
                pass
        out.append(e)
    return out


def rec(area, name, method, path, *, json_body=None, params=None, headers=None, sse=False, note=None):
    t0 = time.time()
    h = dict(headers or {})
    if sse:
        h.setdefault("Accept", "text/event-stream")
    try:
        r = c.request(method, path, json=json_body, params=params, headers=h)
    except httpx.TransportError:
        try:
            r = c.request(method, path, json=json_body, params=params, headers=h)
        except httpx.TransportError as e:
            areas.setdefault(area, []).append({"name": name, "method": method, "path": path, "request_body": json_body,
                                               "transport_error": repr(e), "note": note})
            print(f"ERR {method} {path} [{area}/{name}] {e!r}")
            return None, None
    entry = {"name": name, "method": method, "path": path, "params": params,
             "request_headers": {k: v for k, v in h.items()}, "request_body": json_body,
             "status": r.status_code,
             "response_headers": {k: v for k, v in r.headers.items() if k.lower() in KEEP_HEADERS},
             "elapsed_s": round(time.time() - t0, 3)}
    if note:
        entry["note"] = note
    ctype = r.headers.get("content-type", "")
    body = None
    if "text/event-stream" in ctype:
        evs = parse_sse(r.text)
        entry["sse_event_sequence"] = [e.get("event") for e in evs]
        entry["sse_events"] = [trim(e) for e in evs[:30]]
        entry["raw_sse_head"] = r.text[:1500]
        body = evs
    else:
        try:
            body = r.json()
            entry["response_body"] = trim(body)
        except Exception:
            entry["response_text"] = r.text[:1000]
    areas.setdefault(area, []).append(entry)
    print(f"{r.status_code} {method} {path} [{area}/{name}]")
    return r, body


def dump():
    for area, entries in areas.items():
        (OUT / f"{area}.json").write_text(json.dumps(entries, indent=2, default=str))


CHAT_IN = {"messages": [{"role": "user", "content": "hello there"}]}
try:
    # ---------------------------------------------------------------- meta
    rec("meta", "ok", "GET", "/ok")
    rec("meta", "info", "GET", "/info")
    rec("meta", "cors_preflight", "OPTIONS", "/threads",
        headers={"Origin": "http://example.com", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "x-api-key,content-type"})
    r, _ = c.get("/ok", headers={"Origin": "http://example.com"}), None
    areas["meta"].append({"name": "cors_simple_get", "status": r.status_code,
                          "response_headers": dict(r.headers)})

    # ---------------------------------------------------------------- assistants
    A = "assistants"
    _, sysas = rec(A, "search_all", "POST", "/assistants/search", json_body={"limit": 100})
    rec(A, "search_by_graph_with_select", "POST", "/assistants/search",
        json_body={"graph_id": "chat", "limit": 2, "offset": 0, "select": ["assistant_id", "graph_id", "name"]})
    rec(A, "search_limit1_headers", "POST", "/assistants/search", json_body={"limit": 1, "offset": 0})
    rec(A, "search_response_format_object", "POST", "/assistants/search",
        json_body={"limit": 2}, note="response_format=object is client-side only (SDK reads X-Pagination-Next)")
    rec(A, "count", "POST", "/assistants/count", json_body={"graph_id": "chat"})
    sys_chat = str(uuid.uuid5(NS_GRAPH, "chat"))
    rec(A, "get_system_by_uuid5", "GET", f"/assistants/{sys_chat}")
    rec(A, "get_by_graph_id", "GET", "/assistants/chat", note="graph id accepted in place of assistant id?")
    aid = str(uuid.uuid4())
    rec(A, "create", "POST", "/assistants", json_body={"assistant_id": aid, "graph_id": "chat", "name": "mine",
                                                        "config": {"configurable": {"x": 1}}, "metadata": {"team": "a"},
                                                        "if_exists": "raise"})
    rec(A, "create_config_and_context_400", "POST", "/assistants", json_body={"graph_id": "chat", "config": {"configurable": {"x": 1}}, "context": {"k": "v"}})
    rec(A, "create_with_context", "POST", "/assistants", json_body={"graph_id": "chat", "context": {"k": "v"}, "name": "ctx"})
    rec(A, "create_again_raise", "POST", "/assistants", json_body={"assistant_id": aid, "graph_id": "chat", "if_exists": "raise"})
    rec(A, "create_again_do_nothing", "POST", "/assistants", json_body={"assistant_id": aid, "graph_id": "chat", "if_exists": "do_nothing"})
    rec(A, "create_bad_graph", "POST", "/assistants", json_body={"graph_id": "nope"})
    rec(A, "create_missing_graph_id", "POST", "/assistants", json_body={"name": "x"})
    rec(A, "patch_new_version", "PATCH", f"/assistants/{aid}", json_body={"metadata": {"team": "b"}, "name": "mine2"})
    rec(A, "versions", "POST", f"/assistants/{aid}/versions", json_body={"limit": 10})
    rec(A, "set_latest", "POST", f"/assistants/{aid}/latest", json_body={"version": 1})
    rec(A, "graph", "GET", f"/assistants/{sys_chat}/graph")
    rec(A, "graph_xray", "GET", f"/assistants/{str(uuid.uuid5(NS_GRAPH, 'parent'))}/graph", params={"xray": "true"})
    rec(A, "schemas", "GET", f"/assistants/{sys_chat}/schemas")
    rec(A, "subgraphs", "GET", f"/assistants/{str(uuid.uuid5(NS_GRAPH, 'parent'))}/subgraphs")
    rec(A, "subgraphs_recurse", "GET", f"/assistants/{str(uuid.uuid5(NS_GRAPH, 'parent'))}/subgraphs", params={"recurse": "true"})
    rec(A, "subgraphs_ns", "GET", f"/assistants/{str(uuid.uuid5(NS_GRAPH, 'parent'))}/subgraphs/child")
    rec(A, "get_404", "GET", f"/assistants/{uuid.uuid4()}")
    rec(A, "get_bad_uuid", "GET", "/assistants/not-a-uuid")
    rec(A, "delete", "DELETE", f"/assistants/{aid}")
    rec(A, "delete_again_404", "DELETE", f"/assistants/{aid}")
    dump()

    # ---------------------------------------------------------------- threads
    T = "threads"
    tid = str(uuid.uuid4())
    rec(T, "create", "POST", "/threads", json_body={"thread_id": tid, "metadata": {"user": "u1"}})
    rec(T, "create_dup_raise", "POST", "/threads", json_body={"thread_id": tid, "if_exists": "raise"})
    rec(T, "create_dup_do_nothing", "POST", "/threads", json_body={"thread_id": tid, "if_exists": "do_nothing"})
    rec(T, "create_empty_body", "POST", "/threads", json_body={})
    rec(T, "create_with_ttl", "POST", "/threads", json_body={"ttl": {"strategy": "delete", "ttl": 5}})
    rec(T, "get", "GET", f"/threads/{tid}")
    rec(T, "get_404", "GET", f"/threads/{uuid.uuid4()}")
    rec(T, "patch", "PATCH", f"/threads/{tid}", json_body={"metadata": {"extra": 1}})
    sid = str(uuid.uuid4())
    rec(T, "create_with_supersteps", "POST", "/threads", json_body={
        "thread_id": sid, "metadata": {"graph_id": "chat"},
        "supersteps": [{"updates": [{"values": {"messages": [{"role": "user", "content": "seed"}]}, "as_node": "__input__"}]},
                       {"updates": [{"values": {"messages": [{"role": "ai", "content": "seeded reply"}]}, "as_node": "chat"}]}]})
    rec(T, "get_seeded", "GET", f"/threads/{sid}")
    rec(T, "search", "POST", "/threads/search", json_body={"metadata": {"user": "u1"}, "limit": 10})
    rec(T, "search_page_limit1", "POST", "/threads/search", json_body={"limit": 1, "offset": 0})
    rec(T, "search_page_offset1", "POST", "/threads/search", json_body={"limit": 1, "offset": 1})
    rec(T, "search_status_idle_sorted", "POST", "/threads/search",
        json_body={"status": "idle", "limit": 2, "sort_by": "created_at", "sort_order": "asc"})
    rec(T, "search_ids_select", "POST", "/threads/search", json_body={"ids": [tid, sid], "select": ["thread_id", "status"]})
    rec(T, "search_values", "POST", "/threads/search", json_body={"values": {"messages": []}, "limit": 2})
    rec(T, "search_bad_status_422", "POST", "/threads/search", json_body={"status": "weird"})
    rec(T, "count", "POST", "/threads/count", json_body={"metadata": {"user": "u1"}})
    rec(T, "state_empty_thread", "GET", f"/threads/{tid}/state")
    rec(T, "state_seeded", "GET", f"/threads/{sid}/state")
    rec(T, "state_seeded_subgraphs", "GET", f"/threads/{sid}/state", params={"subgraphs": "true"})
    _, st = rec(T, "update_state", "POST", f"/threads/{sid}/state",
                json_body={"values": {"messages": [{"role": "user", "content": "added"}]}, "as_node": "chat"})
    rec(T, "history_get", "GET", f"/threads/{sid}/history", params={"limit": 2})
    _, hist = rec(T, "history_post", "POST", f"/threads/{sid}/history", json_body={"limit": 3})
    if isinstance(hist, list) and len(hist) >= 2:
        cp = hist[1]["checkpoint"]
        rec(T, "history_before", "POST", f"/threads/{sid}/history", json_body={"limit": 2, "before": cp})
        rec(T, "state_at_checkpoint_post", "POST", f"/threads/{sid}/state/checkpoint", json_body={"checkpoint": cp})
        rec(T, "state_at_checkpoint_id_get", "GET", f"/threads/{sid}/state/{cp['checkpoint_id']}")
        rec(T, "update_state_with_checkpoint", "POST", f"/threads/{sid}/state",
            json_body={"values": {"messages": [{"role": "user", "content": "fork"}]}, "checkpoint": cp, "as_node": "chat"})
    rec(T, "history_metadata_filter", "POST", f"/threads/{sid}/history", json_body={"limit": 5, "metadata": {"source": "update"}})
    rec(T, "copy", "POST", f"/threads/{sid}/copy")
    rec(T, "update_state_unknown_node", "POST", f"/threads/{tid}/state", json_body={"values": {"x": 1}, "as_node": "nope"},
        note="thread without a graph yet")
    rec(T, "prune", "POST", "/threads/prune", json_body={"thread_ids": [str(uuid.uuid4())], "strategy": "delete"})
    rec(T, "delete", "DELETE", f"/threads/{tid}")
    rec(T, "delete_again_404", "DELETE", f"/threads/{tid}")
    rec(T, "bad_uuid_get", "GET", "/threads/not-a-uuid")
    dump()

    # ---------------------------------------------------------------- runs (thread)
    R = "runs"
    th = c.post("/threads", json={}).json()["thread_id"]
    _, run = rec(R, "create_background", "POST", f"/threads/{th}/runs",
                 json_body={"assistant_id": "chat", "input": CHAT_IN, "metadata": {"m": 1}})
    rid = run["run_id"]
    rec(R, "thread_while_busy", "GET", f"/threads/{th}")
    rec(R, "get", "GET", f"/threads/{th}/runs/{rid}")
    rec(R, "join", "GET", f"/threads/{th}/runs/{rid}/join")
    rec(R, "get_after_join", "GET", f"/threads/{th}/runs/{rid}")
    rec(R, "thread_after", "GET", f"/threads/{th}")
    rec(R, "wait", "POST", f"/threads/{th}/runs/wait", json_body={"assistant_id": "chat", "input": CHAT_IN})
    rec(R, "list", "GET", f"/threads/{th}/runs", params={"limit": 10})
    rec(R, "list_status_filter", "GET", f"/threads/{th}/runs", params={"limit": 10, "status": "success"})
    rec(R, "stream_values", "POST", f"/threads/{th}/runs/stream", sse=True,
        json_body={"assistant_id": "chat", "input": CHAT_IN, "stream_mode": "values"})
    rec(R, "stream_default_mode", "POST", f"/threads/{th}/runs/stream", sse=True,
        json_body={"assistant_id": "chat", "input": CHAT_IN})
    for mode in ["updates", "messages", "messages-tuple", "events", "debug", "custom", "tasks", "checkpoints"]:
        rec(R, f"stream_{mode}", "POST", f"/threads/{th}/runs/stream", sse=True,
            json_body={"assistant_id": "chat", "input": CHAT_IN, "stream_mode": mode})
    rec(R, "stream_list_modes", "POST", f"/threads/{th}/runs/stream", sse=True,
        json_body={"assistant_id": "chat", "input": CHAT_IN, "stream_mode": ["values", "messages-tuple", "updates", "custom"]})
    rec(R, "stream_resumable", "POST", f"/threads/{th}/runs/stream", sse=True,
        json_body={"assistant_id": "chat", "input": CHAT_IN, "stream_mode": ["values", "updates"], "stream_resumable": True})
    pth = c.post("/threads", json={}).json()["thread_id"]
    rec(R, "stream_subgraphs_updates", "POST", f"/threads/{pth}/runs/stream", sse=True,
        json_body={"assistant_id": "parent", "input": {"items": []}, "stream_mode": ["updates", "values"], "stream_subgraphs": True})
    rec(R, "stream_error_unknown_assistant", "POST", f"/threads/{th}/runs/stream", sse=True,
        json_body={"assistant_id": str(uuid.uuid4()), "input": CHAT_IN})
    rec(R, "stream_graph_error_bad_input", "POST", f"/threads/{pth}/runs/stream", sse=True,
        json_body={"assistant_id": "slow", "input": {"n": 0}, "stream_mode": ["values", "updates"], "config": {"configurable": {"fail": True}}},
        note="the node raises ValueError")
    rec(R, "wait_graph_error", "POST", f"/threads/{pth}/runs/wait",
        json_body={"assistant_id": "slow", "input": {"n": 0}, "config": {"configurable": {"fail": True}}})
    rec(R, "create_bg_graph_error", "POST", f"/threads/{pth}/runs",
        json_body={"assistant_id": "slow", "input": {"n": 0}, "config": {"configurable": {"fail": True}}})
    rec(R, "join_bg_graph_error", "GET", f"/threads/{pth}/runs/{areas[R][-1]['response_body']['run_id']}/join")
    rec(R, "get_bg_graph_error", "GET", f"/threads/{pth}/runs/{areas[R][-2]['response_body']['run_id']}")
    rec(R, "thread_after_error", "GET", f"/threads/{pth}")
    rec(R, "runs_after_error", "GET", f"/threads/{pth}/runs")
    # background run then join_stream
    _, run2 = rec(R, "create_background_resumable", "POST", f"/threads/{th}/runs",
                  json_body={"assistant_id": "slow", "input": {"n": 0}, "stream_resumable": True,
                             "stream_mode": ["values", "updates"], "config": {"configurable": {"sleep": 1.0}}})
    rec(R, "join_stream", "GET", f"/threads/{th}/runs/{run2['run_id']}/stream", sse=True)
    rec(R, "join_stream_replay_last_event_id_minus1", "GET", f"/threads/{th}/runs/{run2['run_id']}/stream",
        sse=True, headers={"Last-Event-ID": "-1"}, note="after the run finished; -1 means replay from start")
    rec(R, "thread_join_stream_idle", "GET", f"/threads/{th}/stream", sse=True, params={"stream_mode": "values"},
        note="thread stream while idle (may hang/stream nothing: capped by timeout)") if False else None
    # cancel
    sth = c.post("/threads", json={}).json()["thread_id"]
    _, srun = rec(R, "create_slow", "POST", f"/threads/{sth}/runs",
                  json_body={"assistant_id": "slow", "input": {"n": 0}, "config": {"configurable": {"sleep": 3}}})
    time.sleep(1.0)
    rec(R, "thread_busy", "GET", f"/threads/{sth}")
    rec(R, "cancel", "POST", f"/threads/{sth}/runs/{srun['run_id']}/cancel", params={"wait": "true", "action": "interrupt"})
    rec(R, "get_cancelled", "GET", f"/threads/{sth}/runs/{srun['run_id']}")
    rec(R, "thread_after_cancel", "GET", f"/threads/{sth}")
    rec(R, "delete_run", "DELETE", f"/threads/{sth}/runs/{srun['run_id']}")
    rec(R, "get_deleted_run_404", "GET", f"/threads/{sth}/runs/{srun['run_id']}")
    rec(R, "get_run_wrong_thread_404", "GET", f"/threads/{uuid.uuid4()}/runs/{rid}")
    rec(R, "create_on_missing_thread_404", "POST", f"/threads/{uuid.uuid4()}/runs", json_body={"assistant_id": "chat", "input": CHAT_IN})
    rec(R, "create_if_not_exists_create", "POST", f"/threads/{uuid.uuid4()}/runs/wait",
        json_body={"assistant_id": "chat", "input": CHAT_IN, "if_not_exists": "create"})
    rec(R, "create_missing_assistant_id_422", "POST", f"/threads/{th}/runs", json_body={"input": CHAT_IN})
    rec(R, "create_bad_stream_mode_422", "POST", f"/threads/{th}/runs", json_body={"assistant_id": "chat", "stream_mode": "nope"})
    # multitask
    mth = c.post("/threads", json={}).json()["thread_id"]
    slow_body = {"assistant_id": "slow", "input": {"n": 0}, "config": {"configurable": {"sleep": 2}}}
    _, m1 = rec(R, "mt_first", "POST", f"/threads/{mth}/runs", json_body=slow_body)
    time.sleep(0.7)
    rec(R, "mt_reject", "POST", f"/threads/{mth}/runs", json_body={**slow_body, "multitask_strategy": "reject"})
    _, m2 = rec(R, "mt_enqueue", "POST", f"/threads/{mth}/runs", json_body={**slow_body, "multitask_strategy": "enqueue"})
    rec(R, "mt_list_while_enqueued", "GET", f"/threads/{mth}/runs")
    c.get(f"/threads/{mth}/runs/{m2['run_id']}/join")
    rec(R, "mt_list_after_enqueue", "GET", f"/threads/{mth}/runs")
    _, m3 = rec(R, "mt_first_b", "POST", f"/threads/{mth}/runs", json_body=slow_body)
    time.sleep(0.7)
    _, m4 = rec(R, "mt_interrupt", "POST", f"/threads/{mth}/runs", json_body={**slow_body, "multitask_strategy": "interrupt"})
    c.get(f"/threads/{mth}/runs/{m4['run_id']}/join")
    rec(R, "mt_interrupted_first", "GET", f"/threads/{mth}/runs/{m3['run_id']}")
    _, m5 = rec(R, "mt_first_c", "POST", f"/threads/{mth}/runs", json_body=slow_body)
    time.sleep(0.7)
    _, m6 = rec(R, "mt_rollback", "POST", f"/threads/{mth}/runs", json_body={**slow_body, "multitask_strategy": "rollback"})
    c.get(f"/threads/{mth}/runs/{m6['run_id']}/join")
    rec(R, "mt_rolledback_first_404", "GET", f"/threads/{mth}/runs/{m5['run_id']}")
    rec(R, "mt_state_after", "GET", f"/threads/{mth}/state")
    dump()

    # ---------------------------------------------------------------- interrupts
    I = "interrupts"
    ith = c.post("/threads", json={}).json()["thread_id"]
    rec(I, "wait_until_interrupt", "POST", f"/threads/{ith}/runs/wait",
        json_body={"assistant_id": "approval", "input": {"request": "deploy"}})
    rec(I, "thread_interrupted", "GET", f"/threads/{ith}")
    rec(I, "state_interrupted", "GET", f"/threads/{ith}/state")
    rec(I, "runs_list_interrupted", "GET", f"/threads/{ith}/runs")
    rec(I, "resume_command_stream", "POST", f"/threads/{ith}/runs/stream", sse=True,
        json_body={"assistant_id": "approval", "command": {"resume": "yes"}, "stream_mode": ["updates", "values"]})
    rec(I, "thread_after_resume", "GET", f"/threads/{ith}")
    ith2 = c.post("/threads", json={}).json()["thread_id"]
    rec(I, "stream_until_interrupt", "POST", f"/threads/{ith2}/runs/stream", sse=True,
        json_body={"assistant_id": "approval", "input": {"request": "x"}, "stream_mode": ["values", "updates"]})
    st2 = c.get(f"/threads/{ith2}/state").json()
    intr_id = st2["interrupts"][0]["id"] if st2.get("interrupts") else None
    rec(I, "resume_by_interrupt_id_map", "POST", f"/threads/{ith2}/runs/wait",
        json_body={"assistant_id": "approval", "command": {"resume": {intr_id: "mapped"}}})
    ith3 = c.post("/threads", json={}).json()["thread_id"]
    rec(I, "interrupt_before", "POST", f"/threads/{ith3}/runs/wait",
        json_body={"assistant_id": "approval", "input": {"request": "y"}, "interrupt_before": ["prepare"]})
    rec(I, "thread_after_interrupt_before", "GET", f"/threads/{ith3}")
    rec(I, "state_after_interrupt_before", "GET", f"/threads/{ith3}/state")
    rec(I, "continue_with_null_input", "POST", f"/threads/{ith3}/runs/wait",
        json_body={"assistant_id": "approval", "input": None})
    rec(I, "command_goto_update", "POST", f"/threads/{ith3}/runs/wait",
        json_body={"assistant_id": "approval", "command": {"update": {"request": "z"}, "goto": "finish"}})
    dump()

    # ---------------------------------------------------------------- stateless
    S = "stateless_runs"
    rec(S, "wait", "POST", "/runs/wait", json_body={"assistant_id": "chat", "input": CHAT_IN})
    rec(S, "stream", "POST", "/runs/stream", sse=True,
        json_body={"assistant_id": "chat", "input": CHAT_IN, "stream_mode": ["values", "messages-tuple"]})
    rec(S, "create_background", "POST", "/runs", json_body={"assistant_id": "chat", "input": CHAT_IN})
    rec(S, "batch", "POST", "/runs/batch", json_body=[{"assistant_id": "chat", "input": CHAT_IN}, {"assistant_id": "parent", "input": {"items": []}}])
    rec(S, "wait_on_completion_keep", "POST", "/runs/wait", json_body={"assistant_id": "chat", "input": CHAT_IN, "on_completion": "keep"})
    cth = c.post("/threads", json={}).json()["thread_id"]
    _, cr = (None, c.post(f"/threads/{cth}/runs", json={**slow_body}).json())
    rec(S, "cancel_many_by_thread", "POST", "/runs/cancel", json_body={"thread_id": cth, "run_ids": [cr["run_id"]]},
        params={"action": "interrupt"})
    rec(S, "cancel_many_by_status", "POST", "/runs/cancel", json_body={"status": "pending"})
    dump()

    # ---------------------------------------------------------------- store
    ST = "store"
    rec(ST, "put", "PUT", "/store/items", json_body={"namespace": ["users", "u1"], "key": "prefs", "value": {"theme": "dark"}})
    rec(ST, "put_ttl", "PUT", "/store/items", json_body={"namespace": ["users", "u2"], "key": "k", "value": {"a": 1}, "ttl": 5})
    rec(ST, "get", "GET", "/store/items", params={"namespace": "users.u1", "key": "prefs"})
    rec(ST, "get_refresh_ttl", "GET", "/store/items", params={"namespace": "users.u2", "key": "k", "refresh_ttl": "true"})
    rec(ST, "get_missing", "GET", "/store/items", params={"namespace": "users.u1", "key": "nope"})
    rec(ST, "search", "POST", "/store/items/search", json_body={"namespace_prefix": ["users"], "filter": {"theme": "dark"}, "limit": 10, "offset": 0})
    rec(ST, "list_namespaces", "POST", "/store/namespaces", json_body={"prefix": ["users"], "max_depth": 2, "limit": 10})
    rec(ST, "delete", "DELETE", "/store/items", json_body={"namespace": ["users", "u1"], "key": "prefs"})
    rec(ST, "get_after_delete", "GET", "/store/items", params={"namespace": "users.u1", "key": "prefs"})
    rec(ST, "put_bad_namespace_dot", "PUT", "/store/items", json_body={"namespace": ["a.b"], "key": "k", "value": {}})
    dump()

    # ---------------------------------------------------------------- crons
    CR = "crons"
    cth2 = c.post("/threads", json={}).json()["thread_id"]
    _, cron1 = rec(CR, "create_for_thread", "POST", f"/threads/{cth2}/runs/crons",
                   json_body={"assistant_id": "chat", "schedule": "0 0 * * *", "input": CHAT_IN})
    _, cron2 = rec(CR, "create_stateless", "POST", "/runs/crons",
                   json_body={"assistant_id": "chat", "schedule": "*/5 * * * *", "input": CHAT_IN})
    rec(CR, "search", "POST", "/runs/crons/search", json_body={"assistant_id": sys_chat, "limit": 10})
    rec(CR, "count", "POST", "/runs/crons/count", json_body={})
    if isinstance(cron2, dict) and cron2.get("cron_id"):
        rec(CR, "update", "PATCH", f"/runs/crons/{cron2['cron_id']}", json_body={"schedule": "*/10 * * * *"})
        rec(CR, "delete", "DELETE", f"/runs/crons/{cron2['cron_id']}")
    if isinstance(cron1, dict) and cron1.get("cron_id"):
        rec(CR, "delete_thread_cron", "DELETE", f"/runs/crons/{cron1['cron_id']}")
    rec(CR, "bad_schedule", "POST", "/runs/crons", json_body={"assistant_id": "chat", "schedule": "not a cron"})
    dump()
    rec("assistants", "delete_system_assistant", "DELETE", f"/assistants/{str(uuid.uuid5(NS_GRAPH, 'slow'))}",
        note="can the system assistant be deleted? (done last: it breaks the slow graph until restart)")
    rec("assistants", "run_after_system_assistant_deleted", "POST", "/runs/wait", json_body={"assistant_id": "slow", "input": {"n": 0}})
    # openapi
    r = c.get("/openapi.json")
    (OUT / "openapi.json").write_text(r.text)
finally:
    dump()
    print("written", sorted(p.name for p in OUT.iterdir()))
