"""Extra wire captures: thread join stream, Last-Event-ID resume mid-run, stateless thread cleanup,
interrupt surfaced in values-only streams, wait heartbeat, CORS. Writes wire/extra.json."""
import json
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:2124"
c = httpx.Client(base_url=BASE, timeout=60)
out = []


def sse_raw(method, path, headers=None, json_body=None, params=None, max_s=8.0):
    """Read an SSE response for at most max_s seconds; returns (status, headers, raw text)."""
    buf = []
    t0 = time.time()
    h = {"Accept": "text/event-stream", **(headers or {})}
    with httpx.Client(base_url=BASE, timeout=httpx.Timeout(max_s, read=max_s)) as cc:
        try:
            with cc.stream(method, path, headers=h, json=json_body, params=params) as r:
                for chunk in r.iter_text():
                    buf.append(chunk)
                    if time.time() - t0 > max_s:
                        break
                return r.status_code, dict(r.headers), "".join(buf)
        except httpx.ReadTimeout:
            return "read-timeout", {}, "".join(buf)


def note(name, **kw):
    kw["name"] = name
    out.append(kw)
    print(name, {k: (str(v)[:100]) for k, v in kw.items() if k != "name"})


# 1. join a run's stream mid-run with Last-Event-ID (resumable)
t = c.post("/threads", json={}).json()["thread_id"]
r = c.post(f"/threads/{t}/runs", json={"assistant_id": "slow", "input": {"n": 0}, "stream_resumable": True,
                                        "stream_mode": ["values", "updates"], "config": {"configurable": {"sleep": 2}}}).json()
time.sleep(1.0)
st, hd, raw = sse_raw("GET", f"/threads/{t}/runs/{r['run_id']}/stream")
note("join_stream_mid_run_no_last_event_id", status=st, headers={k: v for k, v in hd.items() if k in ("location", "content-location", "content-type")}, raw=raw[:2000],
     note="joined after the first values event was emitted; without Last-Event-ID only new events arrive")
st, hd, raw = sse_raw("GET", f"/threads/{t}/runs/{r['run_id']}/stream", headers={"Last-Event-ID": "-1"})
note("join_stream_after_end_last_event_id_-1", status=st, raw=raw[:2000])
ids = [l[4:] for l in raw.splitlines() if l.startswith("id: ")]
if len(ids) >= 2:
    st, hd, raw = sse_raw("GET", f"/threads/{t}/runs/{r['run_id']}/stream", headers={"Last-Event-ID": ids[1]})
    note("join_stream_after_end_last_event_id_second", status=st, raw=raw[:2000], last_event_id=ids[1])
# non-resumable run: join after end
r2 = c.post(f"/threads/{t}/runs/wait", json={"assistant_id": "slow", "input": {"n": 0}, "config": {"configurable": {"sleep": 0}}})
rid2 = r2.headers["content-location"].rsplit("/", 1)[1]
st, hd, raw = sse_raw("GET", f"/threads/{t}/runs/{rid2}/stream", headers={"Last-Event-ID": "-1"})
note("join_stream_finished_non_resumable", status=st, raw=raw[:1000])
st, hd, raw = sse_raw("GET", f"/threads/{t}/runs/{rid2}/stream", params={"stream_mode": "values"}, headers={})
note("join_stream_finished_non_resumable_plain", status=st, raw=raw[:1000])

# 2. thread stream (/threads/{id}/stream) while a run is running
t2 = c.post("/threads", json={}).json()["thread_id"]
res = {}


def reader():
    res["v"] = sse_raw("GET", f"/threads/{t2}/stream", params={"stream_mode": ["values", "lifecycle"]}, max_s=5)


th = threading.Thread(target=reader)
th.start()
time.sleep(0.5)
rr = c.post(f"/threads/{t2}/runs", json={"assistant_id": "slow", "input": {"n": 0}, "config": {"configurable": {"sleep": 1}}}).json()
th.join()
st, hd, raw = res["v"]
note("thread_stream_while_run", status=st, headers={k: v for k, v in hd.items() if k in ("location", "content-location", "content-type")}, raw=raw[:3000])
res2 = {}


def reader2():
    res2["v"] = sse_raw("GET", f"/threads/{t2}/stream", max_s=4)


th = threading.Thread(target=reader2)
th.start()
time.sleep(0.5)
rr = c.post(f"/threads/{t2}/runs", json={"assistant_id": "slow", "input": {"n": 0}, "config": {"configurable": {"sleep": 1}}}).json()
th.join()
note("thread_stream_default_mode", status=res2["v"][0], raw=res2["v"][2][:3000])

# 3. stateless runs: is the temp thread deleted afterwards?
w = c.post("/runs/wait", json={"assistant_id": "chat", "input": {"messages": [{"role": "user", "content": "x"}]}})
tid = w.headers["content-location"].split("/")[2]
time.sleep(1.0)
g = c.get(f"/threads/{tid}")
note("stateless_wait_thread_after_default_on_completion", status=g.status_code, body=g.text[:300], thread_id=tid)
w = c.post("/runs/wait", json={"assistant_id": "chat", "input": {"messages": [{"role": "user", "content": "x"}]}, "on_completion": "keep"})
tid = w.headers["content-location"].split("/")[2]
time.sleep(1.0)
g = c.get(f"/threads/{tid}")
note("stateless_wait_thread_after_on_completion_keep", status=g.status_code, body=g.text[:300])
st, hd, raw = sse_raw("POST", "/runs/stream", json_body={"assistant_id": "chat", "input": {"messages": [{"role": "user", "content": "x"}]}})
note("stateless_stream_headers", status=st, headers={k: v for k, v in hd.items() if k in ("location", "content-location", "content-type")})

# 4. interrupt with values-only stream mode
t3 = c.post("/threads", json={}).json()["thread_id"]
st, hd, raw = sse_raw("POST", f"/threads/{t3}/runs/stream", json_body={"assistant_id": "approval", "input": {"request": "v"}, "stream_mode": "values"})
note("values_only_stream_interrupt", status=st, raw=raw[:3000])
st, hd, raw = sse_raw("POST", f"/threads/{t3}/runs/stream", json_body={"assistant_id": "approval", "command": {"resume": "ok"}, "stream_mode": "messages-tuple"})
note("messages_tuple_only_stream_resume", status=st, raw=raw[:3000])

# 5. wait heartbeat: whitespace while a long run is going
t4 = c.post("/threads", json={}).json()["thread_id"]
with c.stream("POST", f"/threads/{t4}/runs/wait", json={"assistant_id": "slow", "input": {"n": 0}, "config": {"configurable": {"sleep": 6}}}) as resp:
    chunks = [ch for ch in resp.iter_bytes()]
note("wait_long_run_body_chunks", status=resp.status_code, chunks=[ch.decode()[:200] for ch in chunks])

# 6. CORS
p = c.options("/threads", headers={"Origin": "http://example.com", "Access-Control-Request-Method": "POST",
                                   "Access-Control-Request-Headers": "x-api-key,content-type"})
note("cors_preflight", status=p.status_code, headers=dict(p.headers))
g = c.get("/ok", headers={"Origin": "http://example.com"})
note("cors_simple_get", status=g.status_code, headers=dict(g.headers))
g = c.post("/threads/search", json={"limit": 1}, headers={"Origin": "http://example.com"})
note("cors_search_expose_headers", status=g.status_code, headers=dict(g.headers))

# 7. runs on a thread by another graph; run list pagination; run get from another thread
t5 = c.post("/threads", json={}).json()["thread_id"]
c.post(f"/threads/{t5}/runs/wait", json={"assistant_id": "chat", "input": {"messages": [{"role": "user", "content": "x"}]}})
w = c.post(f"/threads/{t5}/runs/wait", json={"assistant_id": "parent", "input": {"items": []}})
note("run_other_graph_on_same_thread", status=w.status_code, body=w.text[:400], thread_meta=c.get(f"/threads/{t5}").json()["metadata"])

# 8. history with before as returned by history entries
hh = c.post(f"/threads/{t5}/history", json={"limit": 3}).json()
b = c.post(f"/threads/{t5}/history", json={"limit": 2, "before": {"configurable": hh[1]["checkpoint"]}})
note("history_before_configurable_form", status=b.status_code, body=b.text[:300])
c.close(); c = httpx.Client(base_url=BASE, timeout=60)
b = c.post(f"/threads/{t5}/history", json={"limit": 2, "before": hh[1]["checkpoint"]})
note("history_before_checkpoint_form", status=b.status_code, body=b.text[:300])

c.close(); c = httpx.Client(base_url=BASE, timeout=60)  # the 500 above leaves a reset connection
# 9. thread state of a never-run thread; checkpoint fork run
t6 = c.post("/threads", json={}).json()["thread_id"]
note("state_never_run_thread", body=c.get(f"/threads/{t6}/state").json())
c.post(f"/threads/{t6}/runs/wait", json={"assistant_id": "chat", "input": {"messages": [{"role": "user", "content": "one"}]}})
hist = c.post(f"/threads/{t6}/history", json={"limit": 10}).json()
first = [h for h in hist if h["metadata"].get("source") == "input"][0]
f = c.post(f"/threads/{t6}/runs/wait", json={"assistant_id": "chat", "input": {"messages": [{"role": "user", "content": "two"}]},
                                             "checkpoint_id": first["checkpoint"]["checkpoint_id"]})
note("run_from_checkpoint_id_fork", status=f.status_code, body=f.text[:600])

Path(__file__).parent.joinpath("wire", "extra.json").write_text(json.dumps(out, indent=2, default=str))
print("written extra.json")
