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
from collections.abc import Awaitable, Callable
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


async def timed(call: Callable[[], Awaitable[Any]]) -> int:
    t = time.perf_counter_ns()
    await call()
    return time.perf_counter_ns() - t


async def latency_rows(side: Side, n: int, long_turns: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=side.url, timeout=120) as c:
        new: list[int] = []
        for i in range(n):
            tid = await side.new_thread(c, "chat")
            new.append(await timed(lambda tid=tid, i=i: side.run(c, tid, "chat", chat_input(i))))
        out["new_thread"] = summarize(new)
        answers: list[int] = []
        for i in range(n):
            tid = await side.new_thread(c, "approval")
            await side.run(c, tid, "approval", {"request": f"r{i}"})
            answers.append(await timed(lambda tid=tid: side.answer(c, tid, "yes")))
        out["resume"] = summarize(answers)
        if long_turns:
            tid = await side.new_thread(c, "chat")
            turns = [
                await timed(lambda i=i: side.run(c, tid, "chat", chat_input(i)))
                for i in range(long_turns)
            ]
            out["long_first"] = summarize(turns[:20])
            out["long_last"] = summarize(turns[-20:])
    return out


async def load(side: Side, threads: int, turns: int, concurrency: int) -> dict[str, Any]:
    """``threads`` threads x ``turns`` turns, turn t of every thread before turn t+1 of any,
    taken by ``concurrency`` workers with a keep-alive connection each."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=side.url, timeout=120, limits=limits) as c:
        ids = [await side.new_thread(c, "chat") for _ in range(threads)]
        jobs: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
        for t in range(turns):
            for tid in ids:
                jobs.put_nowait((tid, t))
        samples: list[int] = []
        errors: list[str] = []

        async def worker() -> None:
            while not jobs.empty():
                tid, t = jobs.get_nowait()
                start = time.perf_counter_ns()
                try:
                    await side.run(c, tid, "chat", chat_input(t))
                    samples.append(time.perf_counter_ns() - start)
                except Exception as exc:
                    errors.append(f"{type(exc).__name__}: {exc}"[:200])

        t0, cpu0 = time.perf_counter(), cpu_seconds(side.pid)
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds, cpu1 = time.perf_counter() - t0, cpu_seconds(side.pid)
    cpu_ms = (cpu1 - cpu0) * 1000 / len(samples) if cpu0 is not None and cpu1 and samples else None
    return {
        "server_cpu_ms_per_run": cpu_ms,
        "runs": len(samples),
        "errors": len(errors),
        "error_samples": errors[:3],
        "seconds": seconds,
        "per_s": len(samples) / seconds,
        "latency": summarize(samples) if samples else None,
    }


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
            for side in sides:  # warm both paths up (imports, caches) before any timing
                await latency_rows(side, 3, 0)
            for side in sides:
                long_turns = args.long_turns if side.name != "reference" else 0
                results[side.name] = await latency_rows(side, args.runs, long_turns)
                results[side.name]["load"] = await load(
                    side, args.threads, args.turns, args.concurrency
                )
                print(f"  {side.name}: done", flush=True)
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
