"""Concurrent clients on one session, and clients that leave a stream early."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest
from support.server import KEYS, ServerProcess, sse_events


def sid() -> str:
    return f"c-{uuid.uuid4().hex[:10]}"


async def _invoke(
    c: httpx.AsyncClient, s: str, text: str, delay: float = 0.3, **extra: object
) -> httpx.Response:
    return await c.post(
        f"/sessions/{s}/invoke", json={"input": {"user_input": text, "delay": delay}, **extra}
    )


def _alice(server: ServerProcess) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.url, headers={"X-Api-Key": KEYS["alice"]}, timeout=30)


async def _until_running(c: httpx.AsyncClient, s: str) -> None:
    for _ in range(200):
        if (await c.get(f"/sessions/{s}")).json().get("status") == "running":
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"session {s} never started running")


def test_reject_answers_409_while_busy(server: ServerProcess) -> None:
    s = sid()

    async def go() -> list[httpx.Response]:
        async with _alice(server) as c:
            await c.post("/sessions", json={"session_id": s})
            first = asyncio.ensure_future(_invoke(c, s, "first", delay=1.0))
            await _until_running(c, s)
            others = await asyncio.gather(
                *(_invoke(c, s, f"x{i}", multitask="reject") for i in range(3))
            )
            async with c.stream(
                "POST",
                f"/sessions/{s}/stream",
                json={"input": {"user_input": "y"}, "multitask": "reject"},
            ) as st:
                stream_status = st.status_code
            assert stream_status == 409
            return [await first, *others]

    first, *rejected = asyncio.run(go())
    assert first.status_code == 200
    for r in rejected:
        assert r.status_code == 409 and r.json()["error"] == "session_busy"
        assert r.json()["session_id"] == s


@pytest.mark.slow
def test_enqueue_runs_in_order(server: ServerProcess) -> None:
    s = sid()

    async def go() -> list[httpx.Response]:
        async with _alice(server) as c:
            await c.post("/sessions", json={"session_id": s})
            tasks = [asyncio.ensure_future(_invoke(c, s, "m0", delay=0.6, multitask="enqueue"))]
            await _until_running(c, s)
            for i in range(1, 4):
                tasks.append(asyncio.ensure_future(_invoke(c, s, f"m{i}", multitask="enqueue")))
                await asyncio.sleep(0.1)  # submission order
            return await asyncio.gather(*tasks)

    results = asyncio.run(go())
    assert [r.status_code for r in results] == [200] * 4
    logs = [r.json()["state"]["log"] for r in results]
    assert logs[-1] == ["m0", "m1", "m2", "m3"]
    assert [len(x) for x in logs] == [1, 2, 3, 4]


@pytest.mark.slow
def test_different_sessions_run_concurrently(server: ServerProcess) -> None:
    async def go() -> float:
        async with _alice(server) as c:
            t = time.perf_counter()
            rs = await asyncio.gather(*(_invoke(c, sid(), "p", delay=0.5) for _ in range(8)))
            assert all(r.status_code == 200 for r in rs)
            return time.perf_counter() - t

    assert asyncio.run(go()) < 3.0  # 8 x 0.5 s would be 4 s if serialised


def _wait_status(c: httpx.Client, s: str, want: str, timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    info: dict = {}
    while time.monotonic() < deadline:
        info = c.get(f"/sessions/{s}").json()
        if info.get("status") == want:
            return info
        time.sleep(0.05)
    raise AssertionError(f"session {s} is {info.get('status')}, not {want}")


def test_disconnect_does_not_kill_the_run(alice: httpx.Client) -> None:
    s = sid()
    body = {"input": {"user_input": "kept", "delay": 0.6}, "mode": "custom"}
    with alice.stream("POST", f"/sessions/{s}/stream", json=body) as st:
        assert st.status_code == 200
        for ev in sse_events(st.iter_lines()):
            if ev["event"] == "custom":
                break  # leave mid-run
    info = _wait_status(alice, s, "completed")
    assert info["run_count"] == 1
    state = alice.get(f"/sessions/{s}/state").json()["values"]
    assert state["response"] == "echo:kept"


def test_disconnect_cancels_when_asked(alice: httpx.Client) -> None:
    s = sid()
    alice.post(f"/sessions/{s}/invoke", json={"input": {"user_input": "before"}})
    body = {
        "input": {"user_input": "dropped", "delay": 0.6},
        "mode": "custom",
        "on_disconnect": "cancel",
    }
    with alice.stream("POST", f"/sessions/{s}/stream", json=body) as st:
        for ev in sse_events(st.iter_lines()):
            if ev["event"] == "custom":
                break
    deadline = time.monotonic() + 10
    runs: list = []
    while time.monotonic() < deadline:
        runs = alice.get(f"/sessions/{s}/runs").json()
        if runs and runs[0]["status"] != "running":
            break
        time.sleep(0.05)
    assert runs[0]["status"] == "cancelled"
    assert alice.get(f"/sessions/{s}").json()["status"] != "running"
    assert alice.get(f"/sessions/{s}/state").json()["values"]["log"] == ["before"]
