"""Backends benchmark: the same graph-sessions workload on SQLite and on Postgres.

    python benchmarks/bench_backends.py                  # full run (~2 min)
    python benchmarks/bench_backends.py --quick          # smoke run (< 60 s)
    python benchmarks/bench_backends.py --postgres URL   # a server of your own (its settings)

Prints a Markdown table and writes ``benchmarks/results/backends.json``.

What is measured on each backend, through ``GraphSessionManager`` (durability ``"async"``):

* **invoke, new session**: ``await session.invoke(...)`` on a session just created (the
  creation is not timed);
* **turn 1-20 / turn 181-200**: the turn time at the start and at the end of one 200-turn
  chat whose state keeps every message (a growing list);
* **get_state**: ``await session.get_state()`` of that 200-turn session;
* **list 50 of 10,000**: ``await manager.list(limit=50)`` with 10,000 sessions registered;
* **200 x 5 at concurrency 16**: 200 new sessions of 5 turns each, 16 sessions running at
  a time, in one process: invokes per second (wall) and process CPU ms per invoke.

Without ``--postgres``, a throwaway PostgreSQL cluster is started from Debian's binaries
(``tests/support/postgres.py``) and set to ``fsync=on``, ``full_page_writes=on``
(``synchronous_commit=on``: a commit is on disk when acknowledged); it is measured three
times: graph-sessions with its own Postgres saver (the default), graph-sessions with
LangGraph's (``?checkpointer=langgraph``), and raw LangGraph (``AsyncPostgresSaver`` on a
pool, no registry); ``--commit-off`` adds graph-sessions with ``synchronous_commit=off``.
Server and client share the machine (loopback). The issue's sizes:
``--turns 1000 --sessions 100000``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import operator
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
try:
    import graph_sessions  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT / "src"))

from langgraph.graph import START, StateGraph  # noqa: E402
from typing_extensions import TypedDict  # noqa: E402

from graph_sessions import GraphSessionManager  # noqa: E402
from graph_sessions.models import SessionInfo  # noqa: E402


class Chat(TypedDict, total=False):
    user_input: str
    messages: Annotated[list[dict[str, str]], operator.add]


def builder() -> StateGraph:
    def reply(state: Chat) -> dict[str, Any]:
        text = state.get("user_input", "")
        return {
            "messages": [
                {"role": "user", "content": text},
                {"role": "assistant", "content": f"you said {text!r}"},
            ]
        }

    b = StateGraph(Chat)
    b.add_node("reply", reply)
    b.add_edge(START, "reply")
    return b


def ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return {"n": len(ordered), "median_ms": statistics.median(ordered), "p95_ms": p95}


async def timed(fn: Any) -> float:
    started = time.perf_counter_ns()
    await fn()
    return (time.perf_counter_ns() - started) / 1e6


async def measure(url: str, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with GraphSessionManager(graph=builder(), backend=url, sweep_interval=None) as m:
        # invoke on a new session
        samples = []
        for i in range(args.warmup + args.n):
            s = await m.create(f"new-{i}")
            t = await timed(lambda s=s: s.invoke({"user_input": "hello"}))
            if i >= args.warmup:
                samples.append(t)
        out["invoke, new session"] = ms(samples)
        # one long chat
        s = await m.create("long")
        turns = [
            await timed(lambda i=i: s.invoke({"user_input": f"message {i}"}))
            for i in range(args.turns)
        ]
        out["turn 1-20"] = ms(turns[:20])
        out[f"turn {args.turns - 19}-{args.turns}"] = ms(turns[-20:])
        samples = [await timed(s.get_state) for _ in range(args.n)]
        out[f"get_state ({args.turns} turns)"] = ms(samples)
        # the registry: list 50 of N
        backend = m.backend
        have = await m.count()
        now = datetime.now(UTC)
        batch = 200
        for start in range(have, args.sessions, batch):
            infos = [
                SessionInfo(
                    session_id=f"fill-{i:06d}",
                    created_at=now - timedelta(seconds=i),
                    updated_at=now - timedelta(seconds=i),
                    metadata={"i": i},
                )
                for i in range(start, min(start + batch, args.sessions))
            ]
            await asyncio.gather(*(backend.create_session(info) for info in infos))
        total = await m.count()
        samples = [await timed(lambda: m.list(limit=50)) for _ in range(args.n)]
        out[f"list 50 of {total:,}"] = ms(samples)
        # throughput: many sessions at once
        gate = asyncio.Semaphore(args.concurrency)

        async def chat(i: int) -> None:
            async with gate:
                session = await m.create(f"load-{i}")
                for turn in range(args.load_turns):
                    await session.invoke({"user_input": f"message {turn}"})

        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(chat(i) for i in range(args.load_sessions)))
        invokes = args.load_sessions * args.load_turns
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        out[f"{args.load_sessions} x {args.load_turns} at concurrency {args.concurrency}"] = {
            "invokes_per_s": invokes / wall,
            "cpu_ms_per_invoke": cpu * 1000 / invokes,
        }
    return out


async def measure_raw(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """The same workload on raw LangGraph: ``AsyncPostgresSaver`` on a pool of its own (as
    LangGraph's docs set one up), ``graph.ainvoke(..., durability="async")``; no registry,
    so no listing."""
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    out: dict[str, Any] = {}
    kwargs = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    async with AsyncConnectionPool(url, max_size=10, kwargs=kwargs, open=False) as pool:
        saver = AsyncPostgresSaver(pool)  # type: ignore[arg-type]
        await saver.setup()
        graph = builder().compile(checkpointer=saver)

        def cfg(thread: str) -> Any:
            return {"configurable": {"thread_id": thread}}

        async def invoke(thread: str, text: str) -> None:
            await graph.ainvoke({"user_input": text}, cfg(thread), durability="async")

        samples = []
        for i in range(args.warmup + args.n):
            t = await timed(lambda i=i: invoke(f"new-{i}", "hello"))
            if i >= args.warmup:
                samples.append(t)
        out["invoke, new session"] = ms(samples)
        turns = [await timed(lambda i=i: invoke("long", f"message {i}")) for i in range(args.turns)]
        out["turn 1-20"] = ms(turns[:20])
        out[f"turn {args.turns - 19}-{args.turns}"] = ms(turns[-20:])
        samples = [await timed(lambda: graph.aget_state(cfg("long"))) for _ in range(args.n)]
        out[f"get_state ({args.turns} turns)"] = ms(samples)
        gate = asyncio.Semaphore(args.concurrency)

        async def chat(i: int) -> None:
            async with gate:
                for turn in range(args.load_turns):
                    await invoke(f"load-{i}", f"message {turn}")

        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(chat(i) for i in range(args.load_sessions)))
        invokes = args.load_sessions * args.load_turns
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        out[f"{args.load_sessions} x {args.load_turns} at concurrency {args.concurrency}"] = {
            "invokes_per_s": invokes / wall,
            "cpu_ms_per_invoke": cpu * 1000 / invokes,
        }
    return out


@contextlib.contextmanager
def postgres(args: argparse.Namespace) -> Iterator[dict[str, str]]:
    """URLs to measure: the one given, or a throwaway cluster's, twice (see the doc)."""
    if args.postgres:
        yield {"postgres": args.postgres}
        return
    sys.path.insert(0, str(ROOT / "tests"))
    import psycopg
    from support.postgres import provision

    with provision() as server:
        with psycopg.connect(server.url(), autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET fsync = on")
            conn.execute("ALTER SYSTEM SET full_page_writes = on")
            conn.execute("SELECT pg_reload_conf()")
        urls = {}
        for saver in ("graph-sessions", "langgraph"):
            base = server.create_database(f"bench_{saver.replace('-', '_')}")
            urls[f"postgres, {saver}'s saver"] = f"{base}?checkpointer={saver}"
        if args.commit_off:
            base = server.create_database("bench_off")
            option = quote("-c synchronous_commit=off")
            urls["postgres, synchronous_commit=off"] = f"{base}?options={option}"
        raw = server.create_database("bench_raw")
        urls["raw LangGraph AsyncPostgresSaver (synchronous_commit=on)"] = raw
        yield urls


async def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run: 60 turns, 2,000 sessions")
    p.add_argument("--postgres", help="a Postgres URL to measure instead of a throwaway cluster")
    p.add_argument("--commit-off", action="store_true", help="also measure synchronous_commit=off")
    p.add_argument("--turns", type=int, default=200)
    p.add_argument("--sessions", type=int, default=10_000)
    p.add_argument("--n", type=int, default=100, help="samples per cheap operation")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--load-sessions", type=int, default=200)
    p.add_argument("--load-turns", type=int, default=5)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--out", default=str(HERE / "results" / "backends.json"))
    args = p.parse_args(argv)
    if args.quick:
        args.turns, args.sessions, args.n, args.warmup = 60, 2_000, 30, 5
        args.load_sessions = 50
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp, postgres(args) as pg_urls:
        results["sqlite"] = await measure(f"sqlite:///{Path(tmp) / 'bench.db'}", args)
        for name, url in pg_urls.items():
            if name.startswith("raw"):
                results[name] = await measure_raw(url, args)
            else:
                results[name] = await measure(url, args)
    names = list(results)
    rows = list(results[names[0]])
    print("| operation | " + " | ".join(names) + " |")
    print("| --- |" + " --- |" * len(names))
    for row in rows:
        cells = []
        for n in names:
            got = results[n].get(row)
            if got is None:
                cells.append("-")
            elif "median_ms" in got:
                cells.append(f"{got['median_ms']:.2f} (p95 {got['p95_ms']:.2f})")
            else:
                cells.append(
                    f"{got['invokes_per_s']:.0f}/s ({got['cpu_ms_per_invoke']:.1f} ms CPU each)"
                )
        print(f"| {row} | " + " | ".join(cells) + " |")
    print("\nmedian ms (p95 ms); throughput: invokes per second (client process CPU per invoke)")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps(
            {
                "environment": {"python": platform.python_version(), "machine": platform.machine()},
                "args": vars(args),
                "results": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
