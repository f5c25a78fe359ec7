"""Encryption at rest: what a key costs a chat session, per turn and in file size.

Three sides on the same machine, in the same run, each on its own SQLite file:

* **raw LangGraph**: the graph compiled with LangGraph's ``AsyncSqliteSaver``;
* **graph-sessions**: ``GraphSessionManager(graph, "sqlite:///...")``;
* **graph-sessions + key**: the same with ``encryption_key`` (AES-256-GCM, docs/encryption.md).

Each side has one chat session that grows by two messages a turn (bench_core's chat
graph). The sides take turns in blocks (ABBA, ``_stats.interleaved_many``), so every side's
session has the same length when it is timed and a slow spell of the machine lands on all
alike. Per message size (``--msg-chars``): the median turn of each side, the ratios
key/plain (the issue's target: <= 1.15; also of the process's CPU time per turn, steadier
than wall time on a busy machine) and plain/raw, and the file sizes after the last
turn (main file + WAL after a checkpoint; key/plain target: <= 1.1).

    python benchmarks/bench_encryption.py               # 600 turns, messages of 20 and 400 chars
    python benchmarks/bench_encryption.py --quick       # 100 turns
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
try:
    import graph_sessions  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT / "src"))

import aiosqlite  # noqa: E402
from _stats import interleaved_many, loadavg, package_versions  # noqa: E402
from bench_core import chat_builder, chat_input  # noqa: E402
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver  # noqa: E402

from graph_sessions import GraphSessionManager  # noqa: E402
from graph_sessions.crypto import generate_key  # noqa: E402

KEY = generate_key("bench")
SIDES = ("raw", "plain", "key")


def file_bytes(path: Path) -> int:
    """Main file + WAL, after the WAL is folded into the file."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


async def one_size(folder: Path, chars: int, turns: int, block: int) -> dict[str, Any]:
    """Every side's ``turns`` turns with messages of ``chars`` characters."""
    paths = {side: folder / f"{side}-{chars}.db" for side in SIDES}
    conn = await aiosqlite.connect(str(paths["raw"]))
    await conn.execute("PRAGMA journal_mode=WAL")
    await conn.execute("PRAGMA synchronous=NORMAL")
    saver = AsyncSqliteSaver(conn)
    await saver.setup()
    raw = chat_builder(chars).compile(checkpointer=saver)
    managers = {
        side: GraphSessionManager(
            chat_builder(chars),
            f"sqlite:///{paths[side]}",
            encryption_key=KEY if side == "key" else None,
        )
        for side in ("plain", "key")
    }
    for m in managers.values():
        await m.open()
    sessions = {side: await m.create("chat") for side, m in managers.items()}
    raw_config: Any = {"configurable": {"thread_id": "chat"}}

    cpu: dict[str, list[int]] = {side: [] for side in SIDES}

    async def raw_turn(i: int) -> int:
        t0, c0 = time.perf_counter_ns(), time.process_time_ns()
        await raw.ainvoke(chat_input(i, chars), raw_config, durability="async")
        if i >= 0:
            cpu["raw"].append(time.process_time_ns() - c0)
        return time.perf_counter_ns() - t0

    def session_turn(side: str) -> Any:
        async def turn(i: int) -> int:
            t0, c0 = time.perf_counter_ns(), time.process_time_ns()
            await sessions[side].invoke(chat_input(i, chars))
            if i >= 0:
                cpu[side].append(time.process_time_ns() - c0)
            return time.perf_counter_ns() - t0

        return turn

    samples = await interleaved_many(
        {"raw": raw_turn, "plain": session_turn("plain"), "key": session_turn("key")},
        turns,
        warmup=5,
        block=block,
    )
    state = await sessions["key"].get_state()
    assert len(state["messages"]) == 2 * (turns + 5), len(state["messages"])
    for m in managers.values():
        await m.close()
    await conn.close()
    median = {side: statistics.median(s) / 1e6 for side, s in samples.items()}
    last = {side: statistics.median(s[-50:]) / 1e6 for side, s in samples.items()}
    cpu_ms = {side: statistics.median(s) / 1e6 for side, s in cpu.items()}
    size = {side: file_bytes(paths[side]) for side in SIDES}
    return {
        "msg_chars": chars,
        "turns": turns,
        "median_ms": median,
        "last50_ms": last,
        "cpu_median_ms": cpu_ms,
        "cpu_key_vs_plain": cpu_ms["key"] / cpu_ms["plain"],
        "file_bytes": size,
        "key_vs_plain": median["key"] / median["plain"],
        "key_vs_plain_last50": last["key"] / last["plain"],
        "plain_vs_raw": median["plain"] / median["raw"],
        "file_key_vs_plain": size["key"] / size["plain"],
    }


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| message chars | turn p50 raw / plain / key (ms) | key/plain turn (<= 1.15) | "
        "key/plain last 50 turns | key/plain CPU per turn | plain/raw turn | file plain / key (KB) "
        "| key/plain file (<= 1.1) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        m, s = r["median_ms"], r["file_bytes"]
        lines.append(
            f"| {r['msg_chars']} | {m['raw']:.2f} / {m['plain']:.2f} / {m['key']:.2f} | "
            f"{r['key_vs_plain']:.2f}x | {r['key_vs_plain_last50']:.2f}x | "
            f"{r['cpu_key_vs_plain']:.2f}x | "
            f"{r['plain_vs_raw']:.2f}x | {s['plain'] / 1024:.0f} / {s['key'] / 1024:.0f} | "
            f"{r['file_key_vs_plain']:.2f}x |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--turns", type=int, default=600, help="timed turns per side and size")
    p.add_argument("--msg-chars", default="20,400", help="message sizes, comma-separated")
    p.add_argument("--block", type=int, default=10, help="turns per side per block")
    p.add_argument("--quick", action="store_true", help="100 turns (a smoke run)")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "encryption.json")
    return p.parse_args(argv)


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    turns = 100 if args.quick else args.turns
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-encryption-") as tmp:
        for chars in (int(c) for c in args.msg_chars.split(",")):
            rows.append(await one_size(Path(tmp), chars, turns, args.block))
            print(f"  {chars} chars done (load {loadavg()})", file=sys.stderr)
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    before = loadavg()
    rows = asyncio.run(run(args))
    print("Encryption at rest: a chat session with and without a key (SQLite)")
    print(markdown(rows))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    env = {
        "load_before": before,
        "load_after": loadavg(),
        "versions": package_versions(["langgraph", "cryptography", "graph-sessions"]),
    }
    args.out.write_text(json.dumps({"environment": env, "rows": rows}, indent=1))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
