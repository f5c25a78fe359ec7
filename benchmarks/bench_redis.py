"""Redis benchmark: graph-sessions on plain Redis vs on SQLite vs raw LangGraph.

    python benchmarks/bench_redis.py                 # full run (~3 min)
    python benchmarks/bench_redis.py --quick         # smoke run (< 60 s)
    python benchmarks/bench_redis.py --redis URL     # a server of your own (its settings)

Prints a Markdown table and writes ``benchmarks/results/redis.json``.

The workload is ``bench_backends.py``'s (a chat graph whose state keeps every message;
durability ``"async"``): invoke on a new session, turns 1-20 and the last 20 of one long
chat, ``get_state`` of it, ``list 50`` of N registered sessions, many sessions at once.
Measured in the same run on:

* graph-sessions on Redis (``redis://…``: our Redis backend and saver), on a throwaway
  ``redis-server`` (Debian's) with ``appendonly yes``, ``appendfsync everysec`` (the setting
  docs/backends.md recommends) and, with ``--fsync-always``, ``appendfsync always`` too;
* graph-sessions on SQLite (the embedded default);
* raw LangGraph with ``InMemorySaver`` and with ``AsyncSqliteSaver`` (no registry: no list).

And Redis memory: ``used_memory`` growth per 1,000 turns of one chat session (``INFO
memory`` before and after, on an otherwise idle prefix), next to the SQLite file's growth.
Server and client share the machine (loopback).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import platform
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
try:
    import graph_sessions  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT / "src"))

from bench_backends import builder, measure, ms, timed  # noqa: E402

from graph_sessions import GraphSessionManager  # noqa: E402


async def measure_raw(saver: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The workload on raw LangGraph with ``saver`` (no registry, so no listing)."""
    graph = builder().compile(checkpointer=saver)
    out: dict[str, Any] = {}

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
    return out


async def memory_per_1000_turns(url: str, client: Any, turns: int) -> float:
    """Redis ``used_memory`` growth (bytes) per 1,000 turns of one chat session."""
    async with GraphSessionManager(graph=builder(), backend=url, sweep_interval=None) as m:
        session = await m.create("memory")
        await session.invoke({"user_input": "message 0"})
        before = int((await client.info("memory"))["used_memory"])
        for i in range(1, turns + 1):
            await session.invoke({"user_input": f"message {i}"})
        after = int((await client.info("memory"))["used_memory"])
    return (after - before) * 1000 / turns


async def sqlite_bytes_per_1000_turns(tmp: Path, turns: int) -> float:
    """The SQLite file's growth (bytes, WAL checkpointed) per 1,000 turns."""
    db = tmp / "memory.db"
    async with GraphSessionManager(
        graph=builder(), backend=f"sqlite:///{db}", sweep_interval=None
    ) as m:
        session = await m.create("memory")
        await session.invoke({"user_input": "message 0"})
        before = db.stat().st_size
        for i in range(1, turns + 1):
            await session.invoke({"user_input": f"message {i}"})
    return (db.stat().st_size - before) * 1000 / turns


@contextlib.contextmanager
def redis_servers(args: argparse.Namespace) -> Iterator[dict[str, str]]:
    """URLs to measure: the one given, or throwaway servers' (see the doc)."""
    if args.redis:
        yield {"redis": args.redis}
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from support.redis import provision

    with contextlib.ExitStack() as stack:
        urls = {}
        everysec = stack.enter_context(
            provision("--appendonly", "yes", "--appendfsync", "everysec")
        )
        urls["redis, appendfsync everysec"] = everysec.url()
        if args.fsync_always:
            always = stack.enter_context(
                provision("--appendonly", "yes", "--appendfsync", "always")
            )
            urls["redis, appendfsync always"] = always.url()
        yield urls


async def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run: 60 turns, 2,000 sessions")
    p.add_argument("--redis", help="a Redis URL to measure instead of a throwaway server")
    p.add_argument("--fsync-always", action="store_true", help="also measure appendfsync always")
    p.add_argument("--turns", type=int, default=1000)
    p.add_argument("--sessions", type=int, default=100_000)
    p.add_argument("--memory-turns", type=int, default=1000)
    p.add_argument("--n", type=int, default=100, help="samples per cheap operation")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--load-sessions", type=int, default=200)
    p.add_argument("--load-turns", type=int, default=5)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--out", default=str(HERE / "results" / "redis.json"))
    args = p.parse_args(argv)
    if args.quick:
        args.turns, args.sessions, args.n, args.warmup = 60, 2_000, 30, 5
        args.load_sessions, args.memory_turns = 50, 100
    import redis.asyncio as aioredis
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    results: dict[str, dict[str, Any]] = {}
    memory: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as name, redis_servers(args) as urls:
        tmp = Path(name)
        for label, url in urls.items():
            client = aioredis.Redis.from_url(url)
            try:
                results[f"graph-sessions, {label}"] = await measure(f"{url}?prefix=bench:", args)
                memory[label] = await memory_per_1000_turns(
                    f"{url}?prefix=memory:", client, args.memory_turns
                )
            finally:
                await client.aclose()
        results["graph-sessions, sqlite"] = await measure(f"sqlite:///{tmp / 'bench.db'}", args)
        memory["sqlite file"] = await sqlite_bytes_per_1000_turns(tmp, args.memory_turns)
        results["raw LangGraph InMemorySaver"] = await measure_raw(InMemorySaver(), args)
        async with AsyncSqliteSaver.from_conn_string(str(tmp / "raw.db")) as saver:
            results["raw LangGraph AsyncSqliteSaver"] = await measure_raw(saver, args)
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
    base = results["raw LangGraph InMemorySaver"]
    print("\nratios to raw LangGraph InMemorySaver (median):")
    for n in names:
        ratios = [
            f"{row} {results[n][row]['median_ms'] / base[row]['median_ms']:.2f}x"
            for row in base
            if row in results[n] and "median_ms" in results[n][row]
        ]
        print(f"- {n}: " + ", ".join(ratios))
    print("\nstorage per 1,000 turns of one chat session:")
    for label, size in memory.items():
        print(f"- {label}: {size / 1e6:.2f} MB")
    print("\nmedian ms (p95 ms); throughput: invokes per second (client process CPU per invoke)")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps(
            {
                "environment": {"python": platform.python_version(), "machine": platform.machine()},
                "args": vars(args),
                "results": results,
                "memory_bytes_per_1000_turns": memory,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
