"""GraphQL benchmark: GraphQL invoke against REST invoke on the same server process, same
session, same run; and the latency of a subscription's events.

    python benchmarks/bench_graphql.py            # full run (2,000 invokes each way)
    python benchmarks/bench_graphql.py --quick    # smoke run, < 30 s

Prints a Markdown table and writes ``benchmarks/results/graphql.json``.

What is measured (one server process, SQLite file, auth off on 127.0.0.1, access log off;
the client is httpx over one keep-alive connection, sequential):

* **invoke**: ``POST /sessions/bench/invoke`` and ``mutation { invoke(id: "bench", ...)
  { status output runId } }`` on one session of a trivial graph, alternating one and one,
  so machine noise falls on both; median, p99 and the ratio GraphQL / REST of the medians.
* **subscription event latency**: a ``sessionEvents`` subscription (``websockets``,
  graphql-transport-ws) on a session while REST invokes run on it: for each event, the time
  from the event's ``at`` (written by the server when it logs it) to its arrival at the
  client; p50 and p99 (one machine, one clock).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import websockets

GRAPH = """
from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START, END

class S(TypedDict, total=False):
    user_input: str
    response: str

def echo(state: S) -> dict:
    return {"response": "echo:" + state.get("user_input", "")}

b = StateGraph(S)
b.add_node("echo", echo)
b.add_edge(START, "echo")
b.add_edge("echo", END)
graph = b
"""
MUTATION = (
    "mutation($id: ID!, $input: JSON) { invoke(id: $id, input: $input) { status output runId } }"
)
EVENTS = "subscription($id: ID!) { sessionEvents(id: $id) { id type at } }"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pct(values: list[float], q: int) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1]
        if len(values) > 1
        else values[0]
    )


def _summary(ms: list[float]) -> dict[str, float]:
    return {"n": len(ms), "p50_ms": statistics.median(ms), "p99_ms": _pct(ms, 99)}


def start_server(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The server process on a free port; (process, base url) once /healthz answers."""
    (folder / "echo_graph.py").write_text(GRAPH)
    config = {
        "graphs": {"echo": str(folder / "echo_graph.py") + ":graph"},
        "graph_sessions": {"backend": f"sqlite:///{folder / 'bench.db'}", "output_key": "response"},
    }
    (folder / "langgraph.json").write_text(json.dumps(config))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRAPH_SESSIONS_")}
    env["GRAPH_SESSIONS_ACCESS_LOG"] = "false"
    cmd = [
        sys.executable,
        "-m",
        "graph_sessions.server",
        "--config",
        str(folder / "langgraph.json"),
    ]
    log = (folder / "server.log").open("wb")
    proc = subprocess.Popen(
        [*cmd, "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start: " + (folder / "server.log").read_text())


def bench_invoke(url: str, n: int, warmup: int) -> dict[str, Any]:
    """REST and GraphQL invokes on one session, alternating."""
    rest: list[float] = []
    gql: list[float] = []
    with httpx.Client(base_url=url, timeout=30) as c:
        for i in range(warmup + n):
            body = {"input": {"user_input": f"r{i}"}}
            t0 = time.perf_counter_ns()
            r = c.post("/sessions/bench/invoke", json=body)
            t1 = time.perf_counter_ns()
            assert r.status_code == 200 and r.json()["status"] == "complete", r.text
            variables = {"id": "bench", "input": {"user_input": f"g{i}"}}
            t2 = time.perf_counter_ns()
            g = c.post("/graphql", json={"query": MUTATION, "variables": variables})
            t3 = time.perf_counter_ns()
            out = g.json()
            assert g.status_code == 200 and "errors" not in out, out
            assert out["data"]["invoke"]["output"] == f"echo:g{i}"
            if i >= warmup:
                rest.append((t1 - t0) / 1e6)
                gql.append((t3 - t2) / 1e6)
    r_sum, g_sum = _summary(rest), _summary(gql)
    return {"rest": r_sum, "graphql": g_sum, "ratio_p50": g_sum["p50_ms"] / r_sum["p50_ms"]}


async def bench_events(url: str, runs: int) -> dict[str, Any]:
    """Arrival latency of sessionEvents messages while REST invokes run on the session."""
    ws_url = url.replace("http://", "ws://") + "/graphql"
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=30) as c:
        r = await c.post("/sessions/watched/invoke", json={"input": {"user_input": "0"}})
        assert r.status_code == 200, r.text
        async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            payload = {"query": EVENTS, "variables": {"id": "watched"}}
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
            last_id = 0
            backlog = True
            while backlog:  # drain the events logged before
                try:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                    last_id = msg["payload"]["data"]["sessionEvents"]["id"]
                except TimeoutError:
                    backlog = False
            for i in range(runs):
                invoke = asyncio.create_task(
                    c.post("/sessions/watched/invoke", json={"input": {"user_input": str(i)}})
                )
                done = False
                while not done:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 30))
                    arrived = time.time()
                    event = msg["payload"]["data"]["sessionEvents"]
                    assert event["id"] > last_id
                    last_id = event["id"]
                    at = datetime.fromisoformat(event["at"]).timestamp()
                    latencies.append((arrived - at) * 1000)
                    done = event["type"] == "run_completed"
                assert (await invoke).status_code == 200
    return _summary(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--invokes", type=int, default=2000, help="invokes each way")
    parser.add_argument("--runs", type=int, default=500, help="runs watched by the subscription")
    args = parser.parse_args()
    n, runs, warmup = (200, 100, 20) if args.quick else (args.invokes, args.runs, 100)
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_server(Path(tmp))
        try:
            invoke = bench_invoke(url, n, warmup)
            events = asyncio.run(bench_events(url, runs))
        finally:
            proc.terminate()
            proc.wait(30)
    result = {
        "quick": args.quick,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "invoke": invoke,
        "subscription_event_latency": events,
    }
    print("| measure | n | p50 ms | p99 ms |")
    print("|---|---|---|---|")
    for name, s in (
        ("REST invoke", invoke["rest"]),
        ("GraphQL invoke", invoke["graphql"]),
        ("sessionEvents latency", events),
    ):
        print(f"| {name} | {s['n']} | {s['p50_ms']:.2f} | {s['p99_ms']:.2f} |")
    print(f"\nGraphQL / REST invoke (medians): {invoke['ratio_p50']:.2f}x")
    out = Path(__file__).resolve().parent / "results" / "graphql.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
