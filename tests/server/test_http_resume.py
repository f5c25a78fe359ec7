"""Resuming over HTTP (issue 10 #17): ``/invoke`` takes ``{"resume": <any JSON>}``, and a
plain input never answers an interrupt that names no ``resume_key``. A real server process
serving LangGraph's plain ``interrupt("...")``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

PLAIN = f"{Path(__file__).resolve().parents[1] / 'cli' / 'chat_graphs.py'}:plain_interrupt_graph"


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    folder = tmp_path_factory.mktemp("resume")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRAPH_SESSIONS_")}
    log = (folder / "server.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "graph_sessions.server",
            PLAIN,
            "--port",
            str(port),
            "--backend",
            f"sqlite:///{folder / 'r.db'}",
            "--output-key",
            "response",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline and proc.poll() is None, "no server"
                time.sleep(0.1)
            yield client
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


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
