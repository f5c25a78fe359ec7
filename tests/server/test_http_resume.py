"""Resuming over HTTP (issue 10 #17): ``/invoke`` takes ``{"resume": <any JSON>}``, and a
plain input never answers an interrupt that names no ``resume_key``. A real server process
serving LangGraph's plain ``interrupt("...")``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.server import PY, ServerProcess, base_env, free_port

pytestmark = pytest.mark.slow

PLAIN = (
    f"{Path(__file__).resolve().parents[1] / 'support' / 'chat_graphs.py'}:plain_interrupt_graph"
)


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    folder = tmp_path_factory.mktemp("resume")
    port = free_port()
    args = [PY, "-m", "graph_sessions.server", PLAIN, "--port", str(port)]
    args += ["--backend", f"sqlite:///{folder / 'r.db'}", "--output-key", "response"]
    server = ServerProcess(args, base_env(), folder, port).start()
    try:
        with server.client() as client:
            yield client
    finally:
        server.stop()


def test_resume_any_json_value_through_invoke(plain: httpx.Client) -> None:
    for i, value in enumerate(["yes", {"approved": True, "note": "ok"}, [1, 2], 0, False]):
        s = f"r{i}"
        first = plain.post(f"/sessions/{s}/invoke", json={"input": {"user_input": "refund"}})
        assert first.json()["status"] == "interrupted"
        assert first.json()["interrupts"][0]["value"] == "Approve refund?"
        done = plain.post(f"/sessions/{s}/invoke", json={"resume": value})
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "complete"
        assert done.json()["state"]["answer"] == value  # as sent: a string, a dict, ...
        assert done.json()["output"] == f"answer: {value!r}"


def test_a_stray_input_does_not_answer_a_plain_interrupt(plain: httpx.Client) -> None:
    plain.post("/sessions/stray/invoke", json={"input": {"user_input": "refund"}})
    r = plain.post("/sessions/stray/invoke", json={"input": {"user_input": "hello?"}})
    assert r.status_code == 409, r.text
    assert r.json()["error"] == "invalid_transition"
    assert '"resume"' in r.json()["message"]
    info = plain.get("/sessions/stray").json()
    assert info["status"] == "interrupted" and info["run_count"] == 1
    # streams take the same body
    r = plain.post("/sessions/stray/stream", json={"resume": "yes", "mode": "updates"})
    assert r.status_code == 200 and "event: result" in r.text
    assert plain.get("/sessions/stray/state").json()["values"]["answer"] == "yes"


def test_bad_resume_bodies_are_4xx(plain: httpx.Client) -> None:
    plain.post("/sessions/bad/invoke", json={"input": {"user_input": "x"}})
    for body in (
        {"input": {"user_input": "x"}, "resume": "yes"},
        {"resume": None},
        {"resume": "yes", "checkpoint_id": "abc"},
    ):
        r = plain.post("/sessions/bad/invoke", json=body)
        assert r.status_code == 422, (body, r.text)
    plain.post("/sessions/bad/invoke", json={"resume": "yes"})
    r = plain.post("/sessions/bad/invoke", json={"resume": "again"})  # nothing pending now
    assert r.status_code == 409 and r.json()["error"] == "invalid_transition"
