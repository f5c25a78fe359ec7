"""Every error code in the one JSON shape; never a 500 for client input."""

from __future__ import annotations

import uuid

import httpx
import pytest
from support.server import ServerProcess


def shape(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert set(body) >= {"error", "message", "session_id"}, body
    assert body["error"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    return body


def test_400(alice: httpx.Client) -> None:
    r = alice.post("/sessions", content=b"{not json", headers={"content-type": "application/json"})
    shape(r, 400, "invalid_json")
    shape(alice.get("/sessions", params={"cursor": "garbage!"}), 400, "invalid_input")
    shape(alice.get("/sessions", params={"metadata": "[1]"}), 400, "invalid_input")
    shape(alice.get("/sessions", params={"metadata": "{nope"}), 400, "invalid_input")
    body = shape(alice.post("/sessions", json={"graph_id": "nope"}), 400, "invalid_input")
    assert "nope" in body["message"]
    s = f"e-{uuid.uuid4().hex[:8]}"
    alice.post("/sessions", json={"session_id": s})
    body = shape(alice.post(f"/sessions/{s}/invoke", json={}), 400, "invalid_input")
    assert body["session_id"] == s  # a never-run session needs an input
    long_id = "x" * 300
    r = alice.get(f"/sessions/{long_id}")
    assert r.status_code == 422


def test_401_403(server: ServerProcess, alice: httpx.Client) -> None:
    with httpx.Client(base_url=server.url) as anon:
        shape(anon.post("/sessions/x/invoke", json={"input": {}}), 401, "unauthorized")
    shape(alice.post("/admin/sweep"), 403, "forbidden")


def test_404(alice: httpx.Client) -> None:
    body = shape(alice.get("/sessions/does-not-exist"), 404, "session_not_found")
    assert body["session_id"] == "does-not-exist"
    shape(alice.get("/no/such/route"), 404, "not_found")
    shape(alice.delete("/sessions/does-not-exist"), 404, "session_not_found")


def test_405(alice: httpx.Client) -> None:
    shape(alice.put("/sessions"), 405, "method_not_allowed")


def test_409(alice: httpx.Client) -> None:
    s = alice.post("/sessions", json={}).json()["session_id"]
    shape(alice.post("/sessions", json={"session_id": s}), 409, "session_exists")
    # created -> suspended is not a valid transition
    shape(alice.post(f"/sessions/{s}/suspend", json={}), 409, "invalid_transition")
    # a resume with no interrupt to answer: the same status over /invoke and /stream, and
    # the stream answers it before any event
    for route in ("invoke", "stream"):
        shape(
            alice.post(f"/sessions/{s}/{route}", json={"resume": "yes"}), 409, "invalid_transition"
        )
    assert alice.get(f"/sessions/{s}").json()["status"] == "created"


def test_413(alice: httpx.Client) -> None:
    big = {"input": {"user_input": "x" * (70 * 1024)}}
    shape(alice.post("/sessions/big/invoke", json=big), 413, "payload_too_large")

    def chunks():  # no Content-Length: a chunked body over the limit
        for _ in range(80):
            yield b"x" * 1024

    r = alice.post(
        "/sessions/big/invoke", content=chunks(), headers={"content-type": "application/json"}
    )
    shape(r, 413, "payload_too_large")
    assert alice.get("/sessions/big").status_code == 404


def test_422(alice: httpx.Client) -> None:
    body = shape(alice.post("/sessions", json={"ttl": -1}), 422, "validation_error")
    assert body["details"][0]["loc"] == ["body", "ttl"]
    shape(alice.post("/sessions", json={"unknown": 1}), 422, "validation_error")
    shape(alice.post("/sessions/x/invoke", json={"input": [1, 2]}), 422, "validation_error")
    shape(alice.post("/sessions/x/invoke", json={"multitask": "nope"}), 422, "validation_error")
    shape(alice.get("/sessions", params={"limit": 0}), 422, "validation_error")
    shape(alice.get("/sessions", params={"status": "bogus"}), 422, "validation_error")
    # LangGraph's internal configurable keys would silently disable persistence
    internal = {"input": {}, "config": {"configurable": {"__pregel_checkpointer": None}}}
    body = shape(alice.post("/sessions/x/invoke", json=internal), 422, "validation_error")
    assert "__pregel_checkpointer" in str(body)
    # the graph raising is a 422 run_failed; the session is failed and keeps its error
    s = f"f-{uuid.uuid4().hex[:8]}"
    body = shape(
        alice.post(f"/sessions/{s}/invoke", json={"input": {"user_input": "fail"}}),
        422,
        "run_failed",
    )
    assert body["session_id"] == s and body["run_id"] and "boom" in body["message"]
    info = alice.get(f"/sessions/{s}").json()
    assert info["status"] == "failed" and "boom" in info["last_error"]


def test_423(alice: httpx.Client) -> None:
    s = f"p-{uuid.uuid4().hex[:8]}"
    alice.post(f"/sessions/{s}/invoke", json={"input": {"user_input": "a"}})
    alice.post(f"/sessions/{s}/suspend", json={})
    shape(alice.post(f"/sessions/{s}/invoke", json={"input": {}}), 423, "session_suspended")


@pytest.mark.slow
def test_504_run_timeout(alice: httpx.Client) -> None:
    """The shared server has run_timeout=3: a longer run is cancelled and recorded."""
    s = f"t-{uuid.uuid4().hex[:8]}"
    r = alice.post(f"/sessions/{s}/invoke", json={"input": {"user_input": "slow", "delay": 3.5}})
    shape(r, 504, "run_timeout")
    info = alice.get(f"/sessions/{s}").json()
    assert info["status"] != "running"
    runs = alice.get(f"/sessions/{s}/runs").json()
    assert runs[0]["status"] == "cancelled"
