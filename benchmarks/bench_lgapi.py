"""LangGraph-compatible API benchmark: a run over LangGraph's routes
(``/threads/{id}/runs/wait``) against the same run over our own (``/sessions/{id}/invoke``),
on the same server process, same graphs, same run; optionally against LangGraph's own
``langgraph dev`` serving the same graphs (``--reference URL``).

    python benchmarks/bench_lgapi.py              # full run
    python benchmarks/bench_lgapi.py --quick      # smoke run, < 1 min
    python benchmarks/bench_lgapi.py --reference http://127.0.0.1:2124

The graphs are ``reference/langgraph-api/lgdev-project/graphs.py`` (``chat``: a streaming
fake chat model on ``add_messages``; ``approval``: an ``interrupt()``). Measured, for each
side: a run on a new thread (median latency, sequential, httpx), turns 1-20 and the last 20
of one long thread, an interrupt answered (``Command(resume=...)`` / ``/resume``), and
sustained runs/s: ``--threads`` threads x ``--turns`` turns by ``--concurrency`` keep-alive
connections. The target of issue 13: LangGraph's routes cost at most 1.15x ours per run.

The sides take turns throughout (sample by sample in the latency rows, turn by turn under
sustained load) rather than one side's whole run after the other's: on a shared machine a
load that comes and goes then falls on every side alike, and the ratios stay meaningful.

``langgraph dev``'s in-memory queue polls for pending runs every ~0.5 s, so its latency
rows measure that poll more than its server; compare sustained throughput there (several
runs are picked up per poll), and read its latency rows with that in mind.

Prints a Markdown table and writes ``benchmarks/results/lgapi.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from bench_http import Server, summarize

HERE = Path(__file__).resolve().parent
GRAPHS = HERE.parent / "reference" / "langgraph-api" / "lgdev-project" / "graphs.py"


def chat_input(i: int) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": f"hello {i}"}]}


@dataclass
class Side:
    """One way to run a turn: new thread, run on a thread, answer an interrupt."""

    name: str
    url: str
    pid: int | None = None  # the server process, to read its CPU time

    @property
    def ours(self) -> bool:
        return self.name == "sessions"

    async def new_thread(self, c: httpx.AsyncClient, graph: str) -> str:
        if self.ours:
            sid = str(uuid.uuid4())
            r = await c.post("/sessions", json={"session_id": sid, "graph_id": graph})
            r.raise_for_status()
            return sid
        r = await c.post("/threads", json={"metadata": {"graph_id": graph}})
        r.raise_for_status()
        return str(r.json()["thread_id"])

    async def run(self, c: httpx.AsyncClient, tid: str, graph: str, payload: Any) -> Any:
        if self.ours:
            r = await c.post(f"/sessions/{tid}/invoke", json={"input": payload, "graph_id": graph})
        else:
            r = await c.post(
                f"/threads/{tid}/runs/wait", json={"assistant_id": graph, "input": payload}
            )
        r.raise_for_status()
        return r.json()

    async def answer(self, c: httpx.AsyncClient, tid: str, value: Any) -> Any:
        if self.ours:
            r = await c.post(f"/sessions/{tid}/resume", json={"value": value})
        else:
            r = await c.post(
                f"/threads/{tid}/runs/wait",
                json={"assistant_id": "approval", "command": {"resume": value}},
            )
        r.raise_for_status()
        return r.json()


def cpu_seconds(pid: int | None) -> float | None:
    """CPU time (user + system) the process ``pid`` has used so far (Linux ``/proc``)."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def timed(call: Awaitable[Any]) -> int:
    """Nanoseconds ``call`` (a coroutine not started yet) takes to run."""
    t = time.perf_counter_ns()
    await call
    return time.perf_counter_ns() - t


async def latency_rows(sides: list[Side], n: int, long_turns: int) -> dict[str, dict[str, Any]]:
    """The latency rows of every side, the sides taking turns sample by sample (so a load
    that comes and goes on the machine falls on all of them alike)."""
    samples: dict[str, dict[str, list[int]]] = {s.name: {} for s in sides}

    def add(side: Side, key: str, ns: int) -> None:
        samples[side.name].setdefault(key, []).append(ns)

    clients = {s.name: httpx.AsyncClient(base_url=s.url, timeout=120) for s in sides}
    try:
        for i in range(n):
            for side in sides:
                c = clients[side.name]
                tid = await side.new_thread(c, "chat")
                add(side, "new_thread", await timed(side.run(c, tid, "chat", chat_input(i))))
        for i in range(n):
            for side in sides:
                c = clients[side.name]
                tid = await side.new_thread(c, "approval")
                await side.run(c, tid, "approval", {"request": f"r{i}"})
                add(side, "resume", await timed(side.answer(c, tid, "yes")))
        longs = [s for s in sides if s.name != "reference"] if long_turns else []
        long_tids = {s.name: await s.new_thread(clients[s.name], "chat") for s in longs}
        for i in range(long_turns):
            for side in longs:
                c, tid = clients[side.name], long_tids[side.name]
                add(side, "long", await timed(side.run(c, tid, "chat", chat_input(i))))
    finally:
        for c in clients.values():
            await c.aclose()
    out: dict[str, dict[str, Any]] = {}
    for name, rows in samples.items():
        out[name] = {k: summarize(v) for k, v in rows.items() if k != "long"}
        if "long" in rows:
            out[name]["long_first"] = summarize(rows["long"][:20])
            out[name]["long_last"] = summarize(rows["long"][-20:])
    return out


async def load(
    sides: list[Side], threads: int, turns: int, concurrency: int
) -> dict[str, dict[str, Any]]:
    """Per side, ``threads`` threads x ``turns`` turns, turn t of every thread before turn
    t+1 of any, taken by ``concurrency`` workers with a keep-alive connection each. The
    sides take turns: turn t of one side's threads, then of the next side's (same reason
    as :func:`latency_rows`); each side's time and server CPU are summed over its turns."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    clients = {s.name: httpx.AsyncClient(base_url=s.url, timeout=120, limits=limits) for s in sides}
    acc = {s.name: {"seconds": 0.0, "cpu": 0.0, "samples": [], "errors": []} for s in sides}
    try:
        ids = {
            s.name: [await s.new_thread(clients[s.name], "chat") for _ in range(threads)]
            for s in sides
        }
        for t in range(turns):
            for side in sides:
                c, a = clients[side.name], acc[side.name]
                jobs: asyncio.Queue[str] = asyncio.Queue()
                for tid in ids[side.name]:
                    jobs.put_nowait(tid)

                async def worker(
                    side: Side = side,
                    c: httpx.AsyncClient = c,
                    a: dict[str, Any] = a,
                    jobs: asyncio.Queue[str] = jobs,
                    t: int = t,
                ) -> None:
                    while not jobs.empty():
                        tid = jobs.get_nowait()
                        start = time.perf_counter_ns()
                        try:
                            await side.run(c, tid, "chat", chat_input(t))
                            a["samples"].append(time.perf_counter_ns() - start)
                        except Exception as exc:
                            a["errors"].append(f"{type(exc).__name__}: {exc}"[:200])

                t0, cpu0 = time.perf_counter(), cpu_seconds(side.pid)
                await asyncio.gather(*(worker() for _ in range(concurrency)))
                cpu1 = cpu_seconds(side.pid)
                a["seconds"] += time.perf_counter() - t0
                a["cpu"] = (
                    None
                    if cpu0 is None or cpu1 is None or a["cpu"] is None
                    else a["cpu"] + cpu1 - cpu0
                )
    finally:
        for c in clients.values():
            await c.aclose()
    out: dict[str, dict[str, Any]] = {}
    for name, a in acc.items():
        samples, cpu = a["samples"], a["cpu"]
        out[name] = {
            "server_cpu_ms_per_run": cpu * 1000 / len(samples)
            if cpu is not None and samples
            else None,
            "runs": len(samples),
            "errors": len(a["errors"]),
            "error_samples": a["errors"][:3],
            "seconds": a["seconds"],
            "per_s": len(samples) / a["seconds"],
            "latency": summarize(samples) if samples else None,
        }
    return out


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a and b else "-"


def markdown(results: dict[str, dict[str, Any]]) -> str:
    sides = list(results)
    lines = [
        "| measure | " + " | ".join(sides) + " | lgapi / sessions (<= 1.15) |",
        "| --- | " + " | ".join("---:" for _ in sides) + " | ---: |",
    ]
    for key, label in (
        ("new_thread", "run on a new thread, median ms"),
        ("resume", "interrupt answered, median ms"),
        ("long_first", "long thread turns 1-20, median ms"),
        ("long_last", "long thread last 20 turns, median ms"),
    ):
        vals = {s: (results[s].get(key) or {}).get("p50_ms") for s in sides}
        cells = " | ".join(f"{vals[s]:.2f}" if vals[s] else "-" for s in sides)
        lines.append(f"| {label} | {cells} | {ratio(vals.get('lgapi'), vals.get('sessions'))} |")
    per_s = {s: (results[s].get("load") or {}).get("per_s") for s in sides}
    cells = " | ".join(f"{per_s[s]:.1f}" if per_s[s] else "-" for s in sides)
    lines.append(
        f"| sustained runs/s | {cells} | {ratio(per_s.get('sessions'), per_s.get('lgapi'))} |"
    )
    cpu = {s: (results[s].get("load") or {}).get("server_cpu_ms_per_run") for s in sides}
    cells = " | ".join(f"{cpu[s]:.2f}" if cpu[s] else "-" for s in sides)
    lines.append(
        f"| server CPU ms per run (sustained) | {cells} | "
        f"{ratio(cpu.get('lgapi'), cpu.get('sessions'))} |"
    )
    errs = " | ".join(str((results[s].get("load") or {}).get("errors", "-")) for s in sides)
    lines.append(f"| sustained errors | {errs} | |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--quick", action="store_true", help="small sizes, for CI")
    p.add_argument("--runs", type=int, default=60, help="sequential runs per latency row")
    p.add_argument("--long-turns", type=int, default=500, help="turns of the long thread")
    p.add_argument("--threads", type=int, default=200, help="threads under sustained load")
    p.add_argument("--turns", type=int, default=5, help="turns per thread under load")
    p.add_argument("--concurrency", type=int, default=16, help="connections under load")
    p.add_argument("--reference", default=None, help="URL of a langgraph dev serving the graphs")
    p.add_argument(
        "--reference-pid", type=int, default=None, help="pid of that server, for its CPU time"
    )
    p.add_argument("--out", default=str(HERE / "results" / "lgapi.json"))
    args = p.parse_args(argv)
    if args.quick:
        args.runs, args.long_turns, args.threads, args.turns = 5, 30, 10, 2
    return args


async def run(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-lgapi-") as tmp:
        server = Server(Path(tmp), {g: f"{GRAPHS}:{g}" for g in ("chat", "approval")})
        try:
            server.wait_ready()
            pid = server.proc.pid
            sides = [Side("sessions", server.url, pid), Side("lgapi", server.url, pid)]
            if args.reference:
                sides.append(Side("reference", args.reference, args.reference_pid))
            await latency_rows(sides, 3, 0)  # warm every path up (imports, caches) first
            results = await latency_rows(sides, args.runs, args.long_turns)
            print("  latency rows: done", flush=True)
            loaded = await load(sides, args.threads, args.turns, args.concurrency)
            for name, row in loaded.items():
                results[name]["load"] = row
            print("  sustained load: done", flush=True)
        finally:
            server.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print("graph-sessions LangGraph-compatible API benchmark", flush=True)
    results = asyncio.run(run(args))
    print()
    print(markdown(results))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    env = {"python": platform.python_version(), "platform": platform.platform()}
    out.write_text(
        json.dumps({"args": vars(args), "results": results, "environment": env}, indent=2)
    )
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
