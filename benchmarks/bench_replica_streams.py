"""Run streams across replicas: what a client on replica B pays to follow a run executing
on replica A, and what following costs A.

    python benchmarks/bench_replica_streams.py            # 20 runs of each kind
    python benchmarks/bench_replica_streams.py --runs 5   # quicker

Two ``graph-sessions`` processes on one throwaway Postgres database (``_postgres.py``,
fsync on). Each run is this file's ``ticker`` graph (3 steps × 5 tokens, ``--pause`` s
between tokens) streamed by a client of A (``POST /threads/{id}/runs/stream``, resumable).
Runs alternate: *alone* (nobody else follows) and *followed* (a client of B joins the
run's stream with ``Last-Event-ID: -1`` as soon as A answered the first event).

Measured: the lag of each event B receives live (B's arrival minus A's arrival of the
same event id, both clients in this process); the run's duration at A's client; A's CPU
seconds per run (``/proc/<pid>/stat``); rows written to ``run_stream_chunks`` (0 for runs
nobody followed elsewhere).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import operator
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Annotated, Any, TypedDict

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))


class TickerState(TypedDict, total=False):
    """Tokens of every step; the pause between two tokens."""

    tokens: Annotated[list[str], operator.add]
    pause: float


def _build() -> Any:
    from langgraph.config import get_stream_writer
    from langgraph.graph import END, START, StateGraph

    def step(n: int) -> Any:
        async def run(state: TickerState) -> dict[str, Any]:
            writer = get_stream_writer()
            out = []
            for i in range(5):
                await asyncio.sleep(float(state.get("pause", 0.02)))
                writer({"token": f"s{n}t{i}"})
                out.append(f"s{n}t{i}")
            return {"tokens": out}

        return run

    builder = StateGraph(TickerState)
    previous = START
    for n in range(3):
        builder.add_node(f"step{n}", step(n))
        builder.add_edge(previous, f"step{n}")
        previous = f"step{n}"
    builder.add_edge(previous, END)
    return builder.compile()


if __name__ != "__main__":  # imported by the servers as the graph file
    ticker = _build()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _start(folder: Path, url: str) -> tuple[subprocess.Popen[bytes], str]:
    import httpx

    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "langgraph.json"
    config.write_text(
        json.dumps({"graphs": {"ticker": f"{HERE}:ticker"}, "graph_sessions": {"backend": url}})
    )
    port = _free_port()
    log = (folder / "server.log").open("ab")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "graph_sessions.server",
            "--config",
            str(config),
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={k: v for k, v in os.environ.items() if not k.startswith("GRAPH_SESSIONS_")},
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"server did not start: {(folder / 'server.log').read_text()[-2000:]}")


def _events(lines: Any) -> Any:
    event: dict[str, Any] = {}
    for line in lines:
        if line == "":
            if event:
                yield event
            event = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            event[name] = value


def _read(
    base: str, method: str, path: str, got: list[tuple[float, dict[str, Any]]], **kw: Any
) -> None:
    import httpx

    with httpx.Client(base_url=base, timeout=60) as c, c.stream(method, path, **kw) as r:
        for ev in _events(r.iter_lines()):
            got.append((time.monotonic(), ev))


def _one_run(a: str, b: str, followed: bool, pause: float) -> dict[str, Any]:
    import httpx

    with httpx.Client(base_url=a) as c:
        thread_id = c.post("/threads", json={}).json()["thread_id"]
    body = {
        "assistant_id": "ticker",
        "input": {"pause": pause},
        "stream_mode": ["updates", "custom"],
        "stream_resumable": True,
    }
    on_a: list[tuple[float, dict[str, Any]]] = []
    began = time.monotonic()
    reader = threading.Thread(
        target=_read,
        args=(a, "POST", f"/threads/{thread_id}/runs/stream", on_a),
        kwargs={"json": body},
    )
    reader.start()
    while not on_a:
        time.sleep(0.002)
    run_id = json.loads(on_a[0][1]["data"])["run_id"]
    on_b: list[tuple[float, dict[str, Any]]] = []
    follower = None
    if followed:
        follower = threading.Thread(
            target=_read,
            args=(b, "GET", f"/threads/{thread_id}/runs/{run_id}/stream", on_b),
            kwargs={"headers": {"Last-Event-ID": "-1"}},
        )
        follower.start()
    reader.join()
    duration = on_a[-1][0] - began
    if follower is not None:
        follower.join()
    lags: list[float] = []
    if on_b:
        caught_up = on_b[0][0]
        arrived = {ev.get("id"): t for t, ev in on_a}
        for t, ev in on_b:
            ta = arrived.get(ev.get("id"))
            if ta is not None and ta >= caught_up:
                lags.append((t - ta) * 1000)
        assert [ev for _, ev in on_b] == [ev for _, ev in on_a], "B saw other events"
    return {"run_id": run_id, "duration": duration, "lags": lags}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="runs of each kind")
    parser.add_argument("--pause", type=float, default=0.02, help="seconds between tokens")
    args = parser.parse_args()

    import psycopg
    from _postgres import throwaway_server

    with throwaway_server() as server_url, tempfile.TemporaryDirectory() as tmp:
        name = "bench_streams"
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = server_url.rsplit("/", 1)[0] + "/" + name
        pa, a = _start(Path(tmp) / "a", url)
        pb, b = _start(Path(tmp) / "b", url)
        try:
            _one_run(a, b, True, args.pause)  # warm both
            _one_run(a, b, False, args.pause)
            alone: list[dict[str, Any]] = []
            followed: list[dict[str, Any]] = []
            cpu = {"alone": 0.0, "followed": 0.0}
            for _ in range(args.runs):
                for kind, out in (("alone", alone), ("followed", followed)):
                    c0 = _cpu_seconds(pa.pid)
                    out.append(_one_run(a, b, kind == "followed", args.pause))
                    time.sleep(0.3)  # A's mirror writes its end marker, then idles
                    cpu[kind] += _cpu_seconds(pa.pid) - c0
            with psycopg.connect(url) as conn:
                rows = {
                    r[0]: r[1]
                    for r in conn.execute(
                        "SELECT run_id, count(*) FROM run_stream_chunks GROUP BY run_id"
                    ).fetchall()
                }
        finally:
            for p in (pa, pb):
                p.terminate()
                p.wait(30)
    lags = sorted(x for r in followed for x in r["lags"])
    p95 = lags[min(len(lags) - 1, int(len(lags) * 0.95))]

    def med(runs: list[dict[str, Any]]) -> float:
        return statistics.median(r["duration"] for r in runs) * 1000

    print(f"runs: {args.runs} alone, {args.runs} followed (pause {args.pause} s, 15 tokens)")
    print(
        f"A->B lag of live events: median {statistics.median(lags):.1f} ms, p95 {p95:.1f} ms, max {lags[-1]:.1f} ms (n={len(lags)})"
    )
    print(
        f"run duration at A's client: alone {med(alone):.1f} ms, followed {med(followed):.1f} ms (median)"
    )
    print(
        f"A's CPU per run: alone {cpu['alone'] / args.runs * 1000:.1f} ms, "
        f"followed {cpu['followed'] / args.runs * 1000:.1f} ms"
    )
    print(
        f"run_stream_chunks rows: alone runs {sum(rows.get(r['run_id'], 0) for r in alone)}, "
        f"followed runs {statistics.median(rows.get(r['run_id'], 0) for r in followed):.0f} each (median)"
    )


if __name__ == "__main__":
    main()
