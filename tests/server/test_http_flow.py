"""The seed flow and every native route, over HTTP against the real server process."""

from __future__ import annotations

import threading
import time
import uuid

import httpx
from support.server import follow_events, read_stream


def sid(prefix: str = "s") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_seed_flow(alice: httpx.Client) -> None:
    """create -> invoke to an interrupt -> resume -> state -> list -> delete."""
    s = sid("seed")
    r = alice.post(
        "/sessions",
        json={"session_id": s, "graph_id": "approval", "metadata": {"plan": "pro"}, "ttl": 3600},
    )
    assert r.status_code == 201, r.text
    info = r.json()
    assert info["status"] == "created" and info["owner"] == "alice"
    assert info["metadata"] == {"plan": "pro"} and info["ttl"] == 3600 and info["expires_at"]
    assert "lease_owner" not in info

    r = alice.post(f"/sessions/{s}/invoke", json={"input": {"user_input": "my invoice is wrong"}})
    assert r.status_code == 200, r.text
    res = r.json()
    assert res["status"] == "interrupted" and res["session_id"] == s and res["run_id"]
    assert res["resume_key"] == "user_input"
    assert res["interrupts"][0]["value"]["message"] == "approve?"
    assert alice.get(f"/sessions/{s}").json()["status"] == "interrupted"

    r = alice.post(f"/sessions/{s}/resume", json={"value": "yes"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["resumed"] == "interrupt"
    assert body["result"]["status"] == "complete" and body["result"]["output"] == "sent"
    assert body["session"]["status"] == "completed"

    state = alice.get(f"/sessions/{s}/state").json()
    assert state["values"]["response"] == "sent" and state["next"] == []
    assert state["values"]["log"] == ["draft:my invoice is wrong", "answer:yes", "respond"]

    page = alice.get("/sessions", params={"metadata": '{"plan":"pro"}', "limit": 1000}).json()
    assert s in [x["session_id"] for x in page["sessions"]]

    assert alice.delete(f"/sessions/{s}").status_code == 204
    assert alice.get(f"/sessions/{s}").status_code == 404
    assert alice.delete(f"/sessions/{s}").status_code == 404


def test_invoke_creates_session_and_continues(alice: httpx.Client) -> None:
    s = sid()
    r1 = alice.post(f"/sessions/{s}/invoke", json={"input": {"user_input": "a"}}).json()
    r2 = alice.post(f"/sessions/{s}/invoke", json={"input": {"user_input": "b"}}).json()
    assert r1["status"] == r2["status"] == "complete"
    assert r2["state"]["log"] == ["a", "b"] and r2["output"] == "echo:b"
    info = alice.get(f"/sessions/{s}").json()
    assert info["graph_id"] == "work" and info["run_count"] == 2 and info["owner"] == "alice"
    # invoking an interrupted session resumes it (seed semantics)
    r3 = alice.post(f"/sessions/{s}/invoke", json={"input": {"user_input": "ask"}}).json()
    assert r3["status"] == "interrupted"
    r4 = alice.post(f"/sessions/{s}/invoke", json={"input": {"user_input": "sure"}}).json()
    assert r4["status"] == "complete" and r4["output"] == "sure"


def test_create_with_initial_state_and_generated_id(alice: httpx.Client) -> None:
    r = alice.post("/sessions", json={"initial_state": {"log": ["seeded"]}, "task_id": "t-1"})
    assert r.status_code == 201, r.text
    s = r.json()["session_id"]
    assert r.json()["task_id"] == "t-1"
    assert alice.get(f"/sessions/{s}/state").json()["values"]["log"] == ["seeded"]
    out = alice.post(f"/sessions/{s}/invoke", json={"input": {"user_input": "x"}}).json()
    assert out["state"]["log"] == ["seeded", "x"]
    page = alice.get("/sessions", params={"task_id": "t-1"}).json()
    assert [x["session_id"] for x in page["sessions"]] == [s]


def test_patch_metadata_and_ttl(alice: httpx.Client) -> None:
    s = alice.post("/sessions", json={"metadata": {"a": 1}}).json()["session_id"]
    r = alice.patch(f"/sessions/{s}", json={"metadata": {"b": 2}})
    assert r.status_code == 200 and r.json()["metadata"] == {"a": 1, "b": 2}
    r = alice.patch(f"/sessions/{s}", json={"metadata": {"c": 3}, "merge": False})
    assert r.json()["metadata"] == {"c": 3}
    r = alice.patch(f"/sessions/{s}", json={"ttl": 60})
    assert r.json()["ttl"] == 60 and r.json()["expires_at"] is not None
    r = alice.patch(f"/sessions/{s}", json={"ttl": None})
    assert r.json()["ttl"] is None and r.json()["expires_at"] is None


def test_list_filters_and_cursor_pagination(alice: httpx.Client, root: httpx.Client) -> None:
    tag = uuid.uuid4().hex
    made = [
        alice.post("/sessions", json={"metadata": {"tag": tag, "i": i}}).json()["session_id"]
        for i in range(5)
    ]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"metadata": f'{{"tag":"{tag}"}}', "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = alice.get("/sessions", params=params).json()
        seen += [x["session_id"] for x in page["sessions"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(made) and len(seen) == 5
    asc = alice.get(
        "/sessions", params={"metadata": f'{{"tag":"{tag}"}}', "order": "asc", "sort": "created_at"}
    ).json()
    assert [x["session_id"] for x in asc["sessions"]] == made
    # status filter (repeatable), owner filter, search body
    r = alice.get("/sessions", params=[("status", "created"), ("status", "completed")])
    assert r.status_code == 200
    assert all(x["status"] in ("created", "completed") for x in r.json()["sessions"])
    body = {"metadata": {"tag": tag}, "status": ["created"], "limit": 10, "owner": "alice"}
    r = alice.post("/sessions/search", json=body)
    assert len(r.json()["sessions"]) == 5
    r = root.post("/sessions/search", json=body)  # admin sees alice's
    assert len(r.json()["sessions"]) == 5
    r = alice.get("/sessions", params={"created_after": "2000-01-01T00:00:00Z", "limit": 1})
    assert r.status_code == 200 and len(r.json()["sessions"]) == 1


def test_suspend_423_and_resume(alice: httpx.Client) -> None:
    s = sid()
    alice.post(f"/sessions/{s}/invoke", json={"input": {"user_input": "a"}})
    r = alice.post(f"/sessions/{s}/suspend", json={"reason": "review"})
    assert r.status_code == 200 and r.json()["status"] == "suspended"
    assert r.json()["suspend_reason"] == "review"
    r = alice.post(f"/sessions/{s}/invoke", json={"input": {"user_input": "b"}})
    assert r.status_code == 423 and r.json()["error"] == "session_suspended"
    assert r.json()["session_id"] == s
    with alice.stream("POST", f"/sessions/{s}/stream", json={"input": {}}) as st:
        assert st.status_code == 423
    r = alice.post(f"/sessions/{s}/resume", json={})
    assert r.status_code == 200 and r.json()["resumed"] == "suspension"
    assert r.json()["session"]["status"] == "completed"
    r = alice.post(f"/sessions/{s}/invoke", json={"input": {"user_input": "b"}})
    assert r.status_code == 200
    # nothing to resume now
    r = alice.post(f"/sessions/{s}/resume", json={"value": "x"})
    assert r.status_code == 409 and r.json()["error"] == "invalid_transition"


def test_checkpoints_fork_and_state_update(alice: httpx.Client) -> None:
    s = sid()
    for text in ("a", "b", "c"):
        alice.post(f"/sessions/{s}/invoke", json={"input": {"user_input": text}})
    cps = alice.get(
        f"/sessions/{s}/checkpoints", params={"limit": 100, "include_values": "true"}
    ).json()
    assert len(cps) >= 6 and cps[0]["values"]["log"] == ["a", "b", "c"]
    older = alice.get(f"/sessions/{s}/checkpoints", params={"before": cps[0]["checkpoint_id"]})
    assert older.json()[0]["checkpoint_id"] == cps[1]["checkpoint_id"]
    target = next(c for c in cps if c["values"].get("log") == ["a"] and not c["next"])
    r = alice.post(f"/sessions/{s}/fork", json={"checkpoint_id": target["checkpoint_id"]})
    assert r.status_code == 200, r.text
    assert alice.get(f"/sessions/{s}/state").json()["values"]["log"] == ["a"]
    out = alice.post(f"/sessions/{s}/invoke", json={"input": {"user_input": "d"}}).json()
    assert out["state"]["log"] == ["a", "d"]
    past = alice.get(f"/sessions/{s}/state", params={"checkpoint_id": target["checkpoint_id"]})
    assert past.json()["values"]["log"] == ["a"]
    r = alice.post(f"/sessions/{s}/fork", json={"checkpoint_id": "nope"})
    assert r.status_code == 404 and r.json()["error"] == "checkpoint_not_found"
    r = alice.post(
        f"/sessions/{s}/state", json={"values": {"response": "edited"}, "as_node": "work"}
    )
    assert r.status_code == 200, r.text
    assert alice.get(f"/sessions/{s}/state").json()["values"]["response"] == "edited"
    runs = alice.get(f"/sessions/{s}/runs").json()
    assert len(runs) == 4 and all(x["status"] == "success" for x in runs)


def test_messages(alice: httpx.Client) -> None:
    s = alice.post("/sessions", json={}).json()["session_id"]
    r = alice.post(
        f"/sessions/{s}/messages",
        json={
            "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
        },
    )
    assert r.status_code == 201, r.text
    ids = [m["id"] for m in r.json()]
    got = alice.get(f"/sessions/{s}/messages").json()
    assert [m["content"] for m in got] == ["hi", "yo"] and [m["id"] for m in got] == ids
    assert [
        m["role"] for m in alice.get(f"/sessions/{s}/messages", params={"limit": 1}).json()
    ] == ["assistant"]
    assert alice.delete(f"/sessions/{s}/messages").json() == {"deleted": 2}
    assert alice.get(f"/sessions/{s}/messages").json() == []


def test_events_list_and_follow(alice: httpx.Client, server) -> None:  # type: ignore[no-untyped-def]
    s = sid()
    alice.post(f"/sessions/{s}/invoke", json={"input": {"user_input": "a"}})
    events = alice.get(f"/sessions/{s}/events").json()
    assert [e["type"] for e in events] == ["created", "run_started", "run_completed"]
    after = alice.get(f"/sessions/{s}/events", params={"after": events[0]["id"]}).json()
    assert [e["type"] for e in after] == ["run_started", "run_completed"]

    got: list[dict] = []
    ready = threading.Event()

    t = follow_events(server, "alice", s, got, ready, ready_after=3)
    assert ready.wait(10)
    alice.post(f"/sessions/{s}/invoke", json={"input": {"user_input": "b"}})
    deadline = time.monotonic() + 10
    while len(got) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    alice.delete(f"/sessions/{s}")  # the tail ends when the session goes away
    t.join(10)
    assert not t.is_alive()
    types = [e["event"] for e in got]
    assert types[:5] == ["created", "run_started", "run_completed", "run_started", "run_completed"]
    assert types[-1] == "end"
    assert [int(e["id"]) for e in got[:5]] == sorted(int(e["id"]) for e in got[:5])


def test_stream_events_in_order(alice: httpx.Client) -> None:
    s = sid()
    events = read_stream(
        alice,
        f"/sessions/{s}/stream",
        {"input": {"user_input": "x", "delay": 0.05}, "mode": ["updates", "custom"]},
    )
    names = [e["event"] for e in events]
    assert names == ["start", "custom", "custom", "updates", "result"]
    assert events[1]["data"] == {"progress": 0, "input": "x"}
    assert events[3]["data"] == {"work": {"log": ["x"], "response": "echo:x"}}
    result = events[-1]["data"]
    assert result["status"] == "complete" and result["output"] == "echo:x"
    assert result["session_id"] == s
    # values mode (the default): whole states
    events = read_stream(alice, f"/sessions/{s}/stream", {"input": {"user_input": "y"}})
    assert [e["event"] for e in events] == ["start", "values", "values", "result"]
    assert events[2]["data"]["log"] == ["x", "y"]
    # a graph error ends the stream with an error event; the session is failed
    events = read_stream(alice, f"/sessions/{s}/stream", {"input": {"user_input": "fail"}})
    assert events[-1]["event"] == "error"
    assert events[-1]["data"]["error"] == "run_failed" and events[-1]["data"]["status"] == 422
    assert "boom" in events[-1]["data"]["message"]
    assert alice.get(f"/sessions/{s}").json()["status"] == "failed"
    # an interrupt ends with an interrupted result
    events = read_stream(alice, f"/sessions/{s}/stream", {"input": {"user_input": "ask"}})
    assert events[-1]["event"] == "result" and events[-1]["data"]["status"] == "interrupted"


def test_stats_sweep_graphs_health(alice: httpx.Client, root: httpx.Client, server) -> None:  # type: ignore[no-untyped-def]
    s = alice.post("/sessions", json={"ttl": 0.2}).json()["session_id"]
    mine = alice.get("/stats").json()
    assert mine["scope"] == "owner" and mine["total"] >= 1
    everyone = root.get("/stats").json()
    assert everyone["scope"] == "all" and everyone["total"] >= mine["total"]
    assert alice.post("/admin/sweep").status_code == 403
    time.sleep(0.3)
    assert alice.get(f"/sessions/{s}").status_code == 404  # expired reads as gone
    r = root.post("/admin/sweep")
    assert r.status_code == 200 and r.json()["deleted"] >= 1
    assert alice.get("/graphs").json() == {"graphs": ["work", "approval"], "default": "work"}
    with httpx.Client(base_url=server.url) as anon:
        assert anon.get("/healthz").json() == {"status": "ok"}
        assert anon.get("/readyz").json() == {"status": "ok", "storage": True}
        text = anon.get("/metrics").text
    assert "graph_sessions_runs_total" in text and "graph_sessions_sessions{" in text
    assert 'graph_sessions_errors_total{code="session_not_found"' in text
    assert "graph_sessions_run_duration_seconds_bucket" in text


def test_request_id_header(alice: httpx.Client) -> None:
    r = alice.get("/sessions", params={"limit": 1}, headers={"X-Request-Id": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
