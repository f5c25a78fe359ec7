"""Core benchmark: graph-sessions against raw LangGraph on the same SQLite saver.

    python benchmarks/bench_core.py            # full run (~1,000-turn chat, 100,000 sessions)
    python benchmarks/bench_core.py --quick    # smoke run, < 60 s
    python benchmarks/bench_core.py --help     # sizes and options

Prints a Markdown table and writes ``benchmarks/results/core.json``.

What is compared (same process, same machine, same run):

* **raw LangGraph**: ``AsyncSqliteSaver`` on an ``aiosqlite`` connection to its own fresh
  file, the graph compiled with it, ``await graph.ainvoke(input, {"configurable":
  {"thread_id": ...}}, durability="async")``.
* **graph-sessions**: ``GraphSessionManager(graph=builder, backend="sqlite:///file")`` with
  its defaults (durability ``"async"``), ``await session.invoke(input)``.

By default the raw connection gets the same SQLite settings graph-sessions' backend uses
(WAL, ``synchronous=NORMAL``, autocommit connection, ``busy_timeout``, ``temp_store``) so
that a ratio measures what graph-sessions adds, not a difference in fsync policy.
``--raw-conn plain`` uses what ``AsyncSqliteSaver.from_conn_string`` does instead
(``aiosqlite.connect(path)``: SQLite's default ``synchronous=FULL``).

Fairness: each side has its own fresh database file per graph; each measurement warms up
both sides, then alternates blocks of iterations (raw, gs, gs, raw, ...) so that machine
noise hits both equally; only the operation itself is inside ``time.perf_counter_ns``
(setup such as creating the session or reaching the interrupt is not timed).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import operator
import os
import platform
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
try:
    import graph_sessions  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT / "src"))

import _stats  # noqa: E402
import aiosqlite  # noqa: E402
from _stats import Op, interleaved_many, loadavg, package_versions  # noqa: E402
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver  # noqa: E402
from langgraph.graph import END, START, StateGraph  # noqa: E402
from langgraph.types import Command, interrupt  # noqa: E402
from typing_extensions import TypedDict  # noqa: E402

from graph_sessions import GraphSessionManager, SessionInfo, SessionStatus  # noqa: E402

# Only used to bulk-load the 100,000-row registry for the list benchmark with exactly the
# encoding the backend itself writes (see `fill_registry_bulk`).
from graph_sessions.storage.sqlite import SESSION_COLUMNS  # noqa: E402
from graph_sessions.storage.sqlite.rows import to_column  # noqa: E402


# --------------------------------------------------------------------------------------
# graphs
# --------------------------------------------------------------------------------------
class TrivialState(TypedDict, total=False):
    value: int


def trivial_builder() -> StateGraph:
    """One node returning a constant small update."""

    def node(state: TrivialState) -> dict[str, Any]:
        return {"value": 1}

    b = StateGraph(TrivialState)
    b.add_node("node", node)
    b.add_edge(START, "node")
    b.add_edge("node", END)
    return b


class ChatState(TypedDict, total=False):
    messages: Annotated[list, operator.add]


def chat_builder(reply_chars: int) -> StateGraph:
    """One node, no interrupt; each turn the input adds one message and the node one reply,
    so the state grows by 2 entries per turn."""
    pad = "x" * reply_chars

    def reply(state: ChatState) -> dict[str, Any]:
        n = len(state.get("messages", []))
        return {"messages": [{"role": "assistant", "content": f"reply {n} {pad}"}]}

    b = StateGraph(ChatState)
    b.add_node("reply", reply)
    b.add_edge(START, "reply")
    b.add_edge("reply", END)
    return b


def chat_input(i: int, chars: int) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": f"message {i} " + "u" * chars}]}


class AskState(TypedDict, total=False):
    question: str
    answer: str


def interrupt_builder() -> StateGraph:
    """One node that pauses at ``interrupt()`` and stores the answer."""

    def ask(state: AskState) -> dict[str, Any]:
        answer = interrupt({"question": state.get("question", "")})
        return {"answer": answer}

    b = StateGraph(AskState)
    b.add_node("ask", ask)
    b.add_edge(START, "ask")
    b.add_edge("ask", END)
    return b


# --------------------------------------------------------------------------------------
# sizes and options
# --------------------------------------------------------------------------------------
@dataclass
class Sizes:
    n: int = 300  # timed iterations per side for the cheap ops (create, get_state, list)
    n_invoke: int = 300  # timed iterations per side for invoke / resume / delete
    warmup: int = 20  # untimed iterations per side before each measurement
    block: int = 5  # iterations per block; blocks alternate raw / graph-sessions
    turns: int = 1000  # prior turns of the long chat session (built untimed)
    long_invokes: int = 50  # timed invokes per side on the long chat session
    long_block: int = 5  # block size for the long-session invokes
    sessions: int = 100_000  # registry rows for the list benchmark
    msg_chars: int = 64  # characters of padding per chat message
    delete_turns: int = 3  # turns a session has before it is deleted


QUICK = dict(n=60, n_invoke=60, warmup=5, block=5, turns=100, long_invokes=20, sessions=5000)


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, Sizes]:
    d = Sizes()
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help=f"smoke run (< 60 s): {QUICK}")
    p.add_argument("--n", type=int, help=f"timed iterations per side, cheap ops (default {d.n})")
    p.add_argument(
        "--n-invoke",
        type=int,
        help=f"timed iterations per side, invoke/resume/delete (default {d.n_invoke})",
    )
    p.add_argument("--warmup", type=int, help=f"warm-up iterations per side (default {d.warmup})")
    p.add_argument(
        "--block", type=int, help=f"iterations per alternating block (default {d.block})"
    )
    p.add_argument(
        "--turns", type=int, help=f"prior turns of the long chat session (default {d.turns})"
    )
    p.add_argument(
        "--long-invokes",
        type=int,
        help=f"timed invokes on the long chat session (default {d.long_invokes})",
    )
    p.add_argument(
        "--sessions", type=int, help=f"registry rows for the list benchmark (default {d.sessions})"
    )
    p.add_argument(
        "--msg-chars", type=int, help=f"padding characters per chat message (default {d.msg_chars})"
    )
    p.add_argument(
        "--raw-conn",
        choices=("matched", "plain"),
        default="matched",
        help="raw LangGraph connection: 'matched' = graph-sessions' SQLite settings (WAL, synchronous=NORMAL, "
        "autocommit); 'plain' = aiosqlite.connect(path) like AsyncSqliteSaver.from_conn_string",
    )
    p.add_argument(
        "--list-fill",
        choices=("bulk", "create"),
        default="bulk",
        help="how the list benchmark's registry is filled: 'bulk' = executemany into the sessions table "
        "(same encoding as the backend); 'create' = manager.create() for every row (slow: ~1-2 ms each)",
    )
    p.add_argument(
        "--only",
        default="",
        help="comma-separated sections to run: create,invoke,resume,get_state,long,delete,round_trips,list (default all)",
    )
    p.add_argument("--seed", type=int, default=1234, help="seed for the list data set")
    p.add_argument(
        "--tmpdir", default=None, help="where the fresh temporary database folder is made"
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary databases")
    p.add_argument("--out", default=str(HERE / "results" / "core.json"), help="JSON results file")
    args = p.parse_args(argv)
    sizes = Sizes(**(QUICK if args.quick else {}))
    for name in (
        "n",
        "n_invoke",
        "warmup",
        "block",
        "turns",
        "long_invokes",
        "sessions",
        "msg_chars",
    ):
        value = getattr(args, name)
        if value is not None:
            setattr(sizes, name, value)
    if (
        min(sizes.n, sizes.n_invoke, sizes.block, sizes.turns, sizes.long_invokes, sizes.sessions)
        < 1
        or sizes.warmup < 0
    ):
        p.error("sizes must be >= 1 (warmup >= 0)")
    return args, sizes


SECTIONS = ("create", "invoke", "resume", "get_state", "long", "delete", "round_trips", "list")


# --------------------------------------------------------------------------------------
# statistics and timing
# --------------------------------------------------------------------------------------
def summarize(samples_ns: list[int]) -> dict[str, Any]:
    return _stats.summarize(samples_ns, "median_ms", keep_samples=True)


async def interleaved(
    raw: Op | None, gs: Op, iters: int, warmup: int, block: int
) -> tuple[list[int], list[int]]:
    """``interleaved_many`` for raw LangGraph vs graph-sessions (raw first in block 0)."""
    ops: dict[str, Op] = {"raw": raw, "gs": gs} if raw is not None else {"gs": gs}
    out = await interleaved_many(ops, iters, warmup, block)
    return out.get("raw", []), out["gs"]


def timed() -> int:
    return time.perf_counter_ns()


# --------------------------------------------------------------------------------------
# the two sides
# --------------------------------------------------------------------------------------
async def open_raw_conn(path: Path, mode: str) -> aiosqlite.Connection:
    if mode == "plain":
        return await aiosqlite.connect(str(path))
    # The settings graph-sessions' SqliteBackend.open applies to its own connection.
    conn = await aiosqlite.connect(str(path), isolation_level=None, check_same_thread=False)
    await conn.execute("PRAGMA journal_mode=WAL")
    await conn.execute("PRAGMA synchronous=NORMAL")
    await conn.execute("PRAGMA busy_timeout=10000")
    await conn.execute("PRAGMA temp_store=MEMORY")
    return conn


@dataclass
class Pair:
    """One graph on both sides: raw compiled graph + saver, and a graph-sessions manager."""

    name: str
    raw_conn: aiosqlite.Connection
    saver: AsyncSqliteSaver
    raw: Any  # compiled graph
    gs: GraphSessionManager

    async def close(self) -> None:
        await self.gs.close()
        await self.raw_conn.close()

    async def raw_invoke(self, inp: Any, thread_id: str) -> Any:
        return await self.raw.ainvoke(
            inp, {"configurable": {"thread_id": thread_id}}, durability="async"
        )


async def open_pair(
    name: str, make_builder: Callable[[], StateGraph], tmp: Path, raw_mode: str
) -> Pair:
    conn = await open_raw_conn(tmp / f"raw-{name}.db", raw_mode)
    saver = AsyncSqliteSaver(conn)
    await saver.setup()
    raw = make_builder().compile(checkpointer=saver)
    gs = GraphSessionManager(graph=make_builder(), backend=f"sqlite:///{tmp / f'gs-{name}.db'}")
    assert gs.durability == "async", gs.durability
    await gs.open()
    return Pair(name, conn, saver, raw, gs)


def new_id() -> str:
    return str(uuid.uuid4())


# --------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------
@dataclass
class Row:
    key: str
    label: str
    gs: dict[str, Any]
    raw: dict[str, Any] | None
    target: str  # human text
    kind: str  # "ratio" | "p99" | "none"
    limit: float | None = None
    note: str = ""
    result: str = field(default="—")

    def evaluate(self) -> None:
        if self.kind == "ratio" and self.raw is not None and self.limit is not None:
            self.result = "PASS" if self.ratio_median <= self.limit else "MISS"
        elif self.kind == "p99" and self.limit is not None:
            self.result = "PASS" if self.gs["p99_ms"] < self.limit else "MISS"

    @property
    def ratio_median(self) -> float:
        return self.gs["median_ms"] / self.raw["median_ms"] if self.raw else float("nan")

    @property
    def ratio_p99(self) -> float:
        return self.gs["p99_ms"] / self.raw["p99_ms"] if self.raw else float("nan")


@dataclass
class Growth:
    label: str
    gs: float
    raw: float | None
    limit: float | None
    result: str = "—"


class Results:
    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.growth: list[Growth] = []
        self.notes: list[str] = []
        self.setup_s: dict[str, float] = {}
        self.section_s: dict[str, float] = {}
        self.extra: dict[str, Any] = {}
        self.round_trips: dict[str, dict[str, float | None]] = {}

    def add(
        self,
        key: str,
        label: str,
        raw_ns: list[int] | None,
        gs_ns: list[int],
        target: str,
        kind: str,
        limit: float | None,
        note: str = "",
    ) -> Row:
        row = Row(
            key,
            label,
            summarize(gs_ns),
            summarize(raw_ns) if raw_ns else None,
            target,
            kind,
            limit,
            note,
        )
        row.evaluate()
        self.rows.append(row)
        print(
            f"  {label}: gs median {row.gs['median_ms']:.3f} ms p99 {row.gs['p99_ms']:.3f} ms"
            + (
                f" | raw median {row.raw['median_ms']:.3f} ms p99 {row.raw['p99_ms']:.3f} ms | x{row.ratio_median:.2f}"
                if row.raw
                else ""
            ),
            flush=True,
        )
        return row

    def row(self, key: str) -> Row | None:
        return next((r for r in self.rows if r.key == key), None)


def fmt(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None or x != x else f"{x:.{digits}f}"


def markdown(res: Results, env: dict[str, Any]) -> str:
    lines = [
        f"### graph-sessions vs raw LangGraph (AsyncSqliteSaver) — {env['mode']} run",
        "",
        f"{env['when']} · Python {env['python']} · langgraph {env['versions'].get('langgraph')} · "
        f"langgraph-checkpoint-sqlite {env['versions'].get('langgraph-checkpoint-sqlite')} · "
        f"{env['cpus']} CPUs · load avg {env['loadavg_start']} → {env['loadavg_end']} · raw connection: {env['raw_conn']} · "
        f"durability async on both sides",
        "",
        "| # | operation | gs median ms | gs p99 ms | raw median ms | raw p99 ms | ratio median | ratio p99 | target | result |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in res.rows:
        lines.append(
            f"| {r.key} | {r.label} | {fmt(r.gs['median_ms'])} | {fmt(r.gs['p99_ms'])} | "
            f"{fmt(r.raw['median_ms']) if r.raw else 'n/a'} | {fmt(r.raw['p99_ms']) if r.raw else 'n/a'} | "
            f"{fmt(r.ratio_median, 2) + 'x' if r.raw else 'n/a'} | {fmt(r.ratio_p99, 2) + 'x' if r.raw else 'n/a'} | "
            f"{r.target} | {r.result} |"
        )
    if res.growth:
        lines += [
            "",
            "| growth | graph-sessions | raw LangGraph | target | result |",
            "|---|---:|---:|---|---|",
        ]
        for g in res.growth:
            lines.append(
                f"| {g.label} | {fmt(g.gs, 2)}x | {fmt(g.raw, 2) + 'x' if g.raw is not None else 'n/a'} | "
                f"{'<= ' + fmt(g.limit, 1) + 'x' if g.limit else '—'} | {g.result} |"
            )
    if res.round_trips:
        lines += [
            "",
            "| database round trips per call (aiosqlite thread hops) | graph-sessions | raw LangGraph |",
            "|---|---:|---:|",
        ]
        for op, c in res.round_trips.items():
            gs_n = "n/a" if c["gs"] is None else f"{c['gs']:g}"
            raw_n = "n/a" if c["raw"] is None else f"{c['raw']:g}"
            lines.append(f"| {op} | {gs_n} | {raw_n} |")
    if res.notes:
        lines += [""] + [f"- {n}" for n in res.notes]
    return "\n".join(lines)


def environment(args: argparse.Namespace, sizes: Sizes) -> dict[str, Any]:
    versions = package_versions(
        (
            "graph-sessions",
            "langgraph",
            "langgraph-checkpoint",
            "langgraph-checkpoint-sqlite",
            "aiosqlite",
            "orjson",
            "pydantic",
        )
    )
    commit = None
    with contextlib.suppress(Exception):
        commit = (
            subprocess.run(
                ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                capture_output=True,
                text=True,
                timeout=5,
            ).stdout.strip()
            or None
        )
    return {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "mode": "quick" if args.quick else "full",
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "sqlite": sqlite3.sqlite_version,
        "versions": versions,
        "git_commit": commit,
        "raw_conn": args.raw_conn,
        "list_fill": args.list_fill,
        "sizes": asdict(sizes),
        "loadavg_start": loadavg(),
    }


# --------------------------------------------------------------------------------------
# benchmarks
# --------------------------------------------------------------------------------------
async def bench_create(res: Results, p: Pair, s: Sizes) -> None:
    m = p.gs

    async def gs(i: int) -> int:
        t = timed()
        await m.create(owner="bench", metadata={"plan": "pro"})
        return timed() - t

    _, g = await interleaved(None, gs, s.n, s.warmup, s.block)
    res.add(
        "1",
        "session create (manager.create)",
        None,
        g,
        "p99 < 2 ms",
        "p99",
        2.0,
        "raw LangGraph has no equivalent",
    )


async def bench_invoke_first(
    res: Results, p: Pair, s: Sizes, make_input: Callable[[int], Any], key: str, label: str
) -> Row:
    async def raw(i: int) -> int:
        tid = new_id()
        inp = make_input(0)
        t = timed()
        await p.raw_invoke(inp, tid)
        return timed() - t

    async def gs(i: int) -> int:
        session = await p.gs.create()
        inp = make_input(0)
        t = timed()
        result = await session.invoke(inp)
        elapsed = timed() - t
        assert result.status == "complete", result
        return elapsed

    r, g = await interleaved(raw, gs, s.n_invoke, s.warmup, s.block)
    return res.add(key, label, r, g, "ratio <= 1.15x", "ratio", 1.15)


ANSWER = "yes"  # the value that answers the interrupt, on both sides


async def bench_resume(res: Results, p: Pair, s: Sizes) -> None:
    async def raw(i: int) -> int:
        tid = new_id()
        out = await p.raw_invoke({"question": "approve?"}, tid)
        assert out.get("__interrupt__"), out
        t = timed()
        out = await p.raw_invoke(Command(resume=ANSWER), tid)
        elapsed = timed() - t
        assert out.get("answer") == ANSWER, out
        return elapsed

    async def gs_resume(i: int) -> int:
        session = await p.gs.create()
        first = await session.invoke({"question": "approve?"})
        assert first.status == "interrupted", first
        t = timed()
        result = await session.resume(ANSWER)
        elapsed = timed() - t
        assert (
            result is not None
            and result.status == "complete"
            and result.state.get("answer") == ANSWER
        ), result
        return elapsed

    async def gs_invoke(i: int) -> int:
        session = await p.gs.create()
        first = await session.invoke({"question": "approve?"})
        assert first.status == "interrupted", first
        t = timed()
        result = await session.invoke(Command(resume=ANSWER))
        elapsed = timed() - t
        assert result.status == "complete" and result.state.get("answer") == ANSWER, result
        return elapsed

    r, g = await interleaved(raw, gs_resume, s.n_invoke, s.warmup, s.block)
    res.add("4", "resume from interrupt (session.resume)", r, g, "ratio <= 1.15x", "ratio", 1.15)
    r, g = await interleaved(raw, gs_invoke, s.n_invoke, s.warmup, s.block)
    res.add(
        "4b",
        "resume via session.invoke(Command(resume=...))",
        r,
        g,
        "ratio <= 1.15x",
        "ratio",
        1.15,
    )


async def bench_get_state(res: Results, p: Pair, s: Sizes) -> None:
    tid = new_id()
    for i in range(5):
        await p.raw_invoke({"value": i}, tid)
    session = await p.gs.create()
    for i in range(5):
        await session.invoke({"value": i})
    config = {"configurable": {"thread_id": tid}}

    async def raw(i: int) -> int:
        t = timed()
        await p.raw.aget_state(config)
        return timed() - t

    async def gs(i: int) -> int:
        t = timed()
        await session.get_state()
        return timed() - t

    r, g = await interleaved(raw, gs, s.n, s.warmup, s.block)
    res.add("5", "get_state (trivial graph, 5 turns)", r, g, "p99 < 2 ms", "p99", 2.0)


async def bench_long(res: Results, p: Pair, s: Sizes, first_turn: Row | None) -> None:
    """Build `turns` turns on one chat session per side (untimed), then time further invokes."""
    tid = new_id()
    session = await p.gs.create()
    t0 = time.perf_counter()
    raw_build = gs_build = 0.0
    for i in range(
        s.turns
    ):  # alternate the sides turn by turn; nothing here is reported as latency
        a = time.perf_counter()
        await p.raw_invoke(chat_input(i, s.msg_chars), tid)
        b = time.perf_counter()
        await session.invoke(chat_input(i, s.msg_chars))
        c = time.perf_counter()
        raw_build += b - a
        gs_build += c - b
        if (i + 1) % max(1, s.turns // 4) == 0:
            print(
                f"    built {i + 1}/{s.turns} turns ({time.perf_counter() - t0:.1f} s)", flush=True
            )
    res.setup_s["long_build_raw"] = raw_build
    res.setup_s["long_build_gs"] = gs_build
    config = {"configurable": {"thread_id": tid}}

    async def raw(i: int) -> int:
        inp = chat_input(s.turns + i, s.msg_chars)
        t = timed()
        await p.raw_invoke(inp, tid)
        return timed() - t

    async def gs(i: int) -> int:
        inp = chat_input(s.turns + i, s.msg_chars)
        t = timed()
        await session.invoke(inp)
        return timed() - t

    # Turn 1 again, in the same time window, so that the growth ratio below compares
    # samples taken under the same machine conditions (row 2b was measured earlier).
    async def raw_first(i: int) -> int:
        t = timed()
        await p.raw_invoke(chat_input(0, s.msg_chars), new_id())
        return timed() - t

    async def gs_first(i: int) -> int:
        fresh = await p.gs.create()
        t = timed()
        await fresh.invoke(chat_input(0, s.msg_chars))
        return timed() - t

    # Two warm-up turns only: every turn grows the state; what is timed is turns+2 onwards.
    warm = min(2, s.warmup)
    out = await interleaved_many(
        {"raw": raw, "gs": gs, "raw_first": raw_first, "gs_first": gs_first},
        s.long_invokes,
        warm,
        s.long_block,
    )
    row = res.add(
        "3",
        f"invoke at turn {s.turns} (chat graph, {2 * s.turns} messages)",
        out["raw"],
        out["gs"],
        "ratio <= 1.15x",
        "ratio",
        1.15,
    )
    first = summarize(out["gs_first"]), summarize(out["raw_first"])
    res.extra["turn1_same_window"] = {"graph_sessions": first[0], "raw_langgraph": first[1]}
    gs_growth = row.gs["median_ms"] / first[0]["median_ms"]
    raw_growth = row.raw["median_ms"] / first[1]["median_ms"] if row.raw else None
    growth = Growth(
        f"chat invoke: turn {s.turns} ÷ turn 1, same window (median; turn 1 = "
        f"{first[0]['median_ms']:.2f} ms gs / {first[1]['median_ms']:.2f} ms raw)",
        gs_growth,
        raw_growth,
        2.0,
    )
    growth.result = "PASS" if gs_growth <= 2.0 else "MISS"
    res.growth.append(growth)
    if first_turn is not None and first_turn.raw is not None and row.raw is not None:
        res.growth.append(
            Growth(
                f"chat invoke: row 3 ÷ row 2b (turn 1 measured earlier, n={first_turn.gs['n']})",
                row.gs["median_ms"] / first_turn.gs["median_ms"],
                row.raw["median_ms"] / first_turn.raw["median_ms"],
                None,
            )
        )

    # consistency: both sides hold the same transcript length
    expected = 2 * (s.turns + s.long_invokes + warm)
    raw_len = len((await p.raw.aget_state(config)).values["messages"])
    gs_len = len((await session.get_state())["messages"])
    assert raw_len == gs_len == expected, (raw_len, gs_len, expected)

    async def raw_state(i: int) -> int:
        t = timed()
        await p.raw.aget_state(config)
        return timed() - t

    async def gs_state(i: int) -> int:
        t = timed()
        await session.get_state()
        return timed() - t

    r2, g2 = await interleaved(raw_state, gs_state, min(s.n, 100), min(5, s.warmup), s.block)
    res.add("5b", f"get_state (chat graph, {expected} messages)", r2, g2, "—", "none", None)


async def bench_delete(res: Results, p: Pair, s: Sizes) -> None:
    async def raw(i: int) -> int:
        tid = new_id()
        for k in range(s.delete_turns):
            await p.raw_invoke({"value": k}, tid)
        t = timed()
        await p.saver.adelete_thread(tid)
        return timed() - t

    async def gs(i: int) -> int:
        session = await p.gs.create()
        for k in range(s.delete_turns):
            await session.invoke({"value": k})
        t = timed()
        deleted = await p.gs.delete(session.session_id)
        elapsed = timed() - t
        assert deleted
        return elapsed

    r, g = await interleaved(raw, gs, s.n_invoke, s.warmup, s.block)
    res.add(
        "7",
        f"delete a session with {s.delete_turns} turns (raw: saver.adelete_thread)",
        r,
        g,
        "—",
        "none",
        None,
        "raw deletes checkpoints+writes only; graph-sessions also deletes registry, runs, events, messages",
    )


# round trips ---------------------------------------------------------------------------
@contextlib.contextmanager
def counting_hops(conns: dict[str, aiosqlite.Connection], counts: collections.Counter[str]) -> Any:
    """Count calls into each aiosqlite connection's worker thread (one per statement, fetch,
    commit or — for graph-sessions' own SQL — per transaction). Untimed diagnostics only."""
    for side, conn in conns.items():
        orig = conn._execute  # noqa: SLF001 - the one place every aiosqlite call goes through

        async def counting(fn: Any, *a: Any, _orig: Any = orig, _side: str = side, **k: Any) -> Any:
            counts[_side] += 1
            return await _orig(fn, *a, **k)

        conn._execute = counting  # type: ignore[method-assign]  # noqa: SLF001
    try:
        yield
    finally:
        for conn in conns.values():
            del conn._execute  # noqa: SLF001 - back to the class's method


async def bench_round_trips(res: Results, trivial: Pair, ask: Pair, reps: int = 10) -> None:
    """Database round trips (aiosqlite thread hops) per operation, both sides."""

    def conns(p: Pair) -> dict[str, aiosqlite.Connection]:
        return {"gs": p.gs.backend.connection.db, "raw": p.raw_conn}

    async def count(
        p: Pair,
        gs_op: Callable[[], Awaitable[Any]] | None,
        raw_op: Callable[[], Awaitable[Any]] | None,
    ) -> dict[str, float | None]:
        out: dict[str, float | None] = {"gs": None, "raw": None}
        for side, op in (("gs", gs_op), ("raw", raw_op)):
            if op is None:
                continue
            counts: collections.Counter[str] = collections.Counter()
            with counting_hops(conns(p), counts):
                for _ in range(reps):
                    await op()
            out[side] = counts[side] / reps
        return out

    t = trivial
    fresh = [await t.gs.create() for _ in range(reps)]
    turn2 = [await t.gs.create() for _ in range(reps)]
    for x in turn2:
        await x.invoke({"value": 0})
    raw_tid = new_id()
    await t.raw_invoke({"value": 0}, raw_tid)
    interrupted = []
    for _ in range(2 * reps):
        x = await ask.gs.create()
        await x.invoke({"question": "approve?"})
        interrupted.append(x)
    raw_interrupted = []
    for _ in range(reps):
        tid = new_id()
        await ask.raw_invoke({"question": "approve?"}, tid)
        raw_interrupted.append(tid)
    to_delete = [await t.gs.create() for _ in range(reps)]
    raw_delete = []
    for x in to_delete:
        await x.invoke({"value": 0})
        tid = new_id()
        await t.raw_invoke({"value": 0}, tid)
        raw_delete.append(tid)
    state_session = turn2[0]
    it: dict[str, Any] = {
        "fresh": iter(fresh),
        "turn2": iter(turn2),
        "resume": iter(interrupted[:reps]),
        "resume_invoke": iter(interrupted[reps:]),
        "raw_resume": iter(raw_interrupted),
        "delete": iter(to_delete),
        "raw_delete": iter(raw_delete),
    }
    config = {"configurable": {"thread_id": raw_tid}}
    res.round_trips = {
        "session create": await count(t, lambda: t.gs.create(), None),
        "invoke, new session": await count(
            t,
            lambda: next(it["fresh"]).invoke({"value": 1}),
            lambda: t.raw_invoke({"value": 1}, new_id()),
        ),
        "invoke, 2nd turn": await count(
            t,
            lambda: next(it["turn2"]).invoke({"value": 1}),
            lambda: t.raw_invoke({"value": 1}, raw_tid),
        ),
        "resume (session.resume)": await count(
            ask,
            lambda: next(it["resume"]).resume(ANSWER),
            lambda: ask.raw_invoke(Command(resume=ANSWER), next(it["raw_resume"])),
        ),
        "resume (session.invoke(Command))": await count(
            ask, lambda: next(it["resume_invoke"]).invoke(Command(resume=ANSWER)), None
        ),
        "get_state": await count(
            t, lambda: state_session.get_state(), lambda: t.raw.aget_state(config)
        ),
        "delete": await count(
            t,
            lambda: t.gs.delete(next(it["delete"]).session_id),
            lambda: t.saver.adelete_thread(next(it["raw_delete"])),
        ),
    }
    for op, c in res.round_trips.items():
        print(f"  {op}: gs {c['gs']} round trips, raw {c['raw']}", flush=True)


# list ---------------------------------------------------------------------------------
STATUS_WEIGHTS = [
    (SessionStatus.CREATED, 0.35),
    (SessionStatus.COMPLETED, 0.10),
    (SessionStatus.INTERRUPTED, 0.30),
    (SessionStatus.FAILED, 0.15),
    (SessionStatus.SUSPENDED, 0.10),
]


@dataclass
class Spec:
    """One registry row of the synthetic data set."""

    owner: str
    status: SessionStatus
    metadata: dict[str, Any]


def list_specs(n: int, seed: int) -> list[Spec]:
    """10% status=completed, 10% plan=pro (independent), 0.1% tier=enterprise; owners of
    ~1,000 sessions each (so an owner has ~100 pro sessions)."""
    rng = random.Random(seed)
    owners = max(1, n // 1000)
    statuses = [st for st, _ in STATUS_WEIGHTS]
    weights = [w for _, w in STATUS_WEIGHTS]
    specs = []
    for i in range(n):
        meta: dict[str, Any] = {
            "plan": "pro" if rng.random() < 0.10 else "free",
            "region": rng.choice(("eu", "us", "ap")),
        }
        if rng.random() < 0.001:
            meta["tier"] = "enterprise"
        specs.append(Spec(f"user-{i % owners:05d}", rng.choices(statuses, weights)[0], meta))
    return specs


def fill_registry_bulk(path: Path, specs: list[Spec], graph_id: str) -> None:
    """executemany into the `sessions` table through a plain sqlite3 connection while the
    manager is closed, with the backend's own column encoding (`to_column`)."""
    columns = SESSION_COLUMNS.replace(" ", "").split(",")
    base = datetime.now(UTC) - timedelta(days=30)
    rows = []
    for i, spec in enumerate(specs):
        at = base + timedelta(milliseconds=10 * i)
        info = SessionInfo(
            session_id=f"s-{i:07d}-{uuid.uuid4().hex[:8]}",
            graph_id=graph_id,
            owner=spec.owner,
            status=spec.status,
            metadata=spec.metadata,
            created_at=at,
            updated_at=at,
            previous_status=SessionStatus.COMPLETED
            if spec.status == SessionStatus.SUSPENDED
            else None,
            run_count=0 if spec.status == SessionStatus.CREATED else 1,
        )
        rows.append(tuple(to_column(c, getattr(info, c)) for c in columns))
    conn = sqlite3.connect(str(path))
    try:
        with conn:
            conn.executemany(
                f"INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ({', '.join('?' * len(columns))})",
                rows,
            )
    finally:
        conn.close()


async def fill_registry_create(m: GraphSessionManager, path: Path, specs: list[Spec]) -> None:
    """manager.create() per row (batches of 200 gathered), then the statuses are set with one
    UPDATE (reaching them through real runs would take far longer)."""
    ids: list[str] = []
    for start in range(0, len(specs), 200):
        batch = specs[start : start + 200]
        sessions = await asyncio.gather(
            *(m.create(owner=sp.owner, metadata=sp.metadata) for sp in batch)
        )
        ids += [x.session_id for x in sessions]
    await m.close()
    conn = sqlite3.connect(str(path))
    try:
        with conn:
            conn.executemany(
                "UPDATE sessions SET status = ? WHERE session_id = ?",
                [(str(sp.status), sid) for sp, sid in zip(specs, ids, strict=True)],
            )
    finally:
        conn.close()


async def bench_list(res: Results, tmp: Path, s: Sizes, args: argparse.Namespace) -> None:
    path = tmp / "gs-list.db"
    m = GraphSessionManager(graph=trivial_builder(), backend=f"sqlite:///{path}")
    try:
        await _bench_list(res, m, path, s, args)
    finally:
        await m.close()  # no-op when already closed


async def _bench_list(
    res: Results, m: GraphSessionManager, path: Path, s: Sizes, args: argparse.Namespace
) -> None:
    await m.open()  # creates the schema
    specs = list_specs(s.sessions, args.seed)
    t0 = time.perf_counter()
    if args.list_fill == "bulk":
        await m.close()
        fill_registry_bulk(path, specs, m.graph_id)
    else:
        await fill_registry_create(m, path, specs)
    res.setup_s["list_fill"] = time.perf_counter() - t0
    print(
        f"    filled {s.sessions} sessions ({args.list_fill}) in {res.setup_s['list_fill']:.1f} s",
        flush=True,
    )
    await m.open()
    owner = specs[0].owner
    owner_share = sum(sp.owner == owner for sp in specs) / len(specs)
    total = await m.count()
    assert total == s.sessions, (total, s.sessions)
    variants: list[tuple[str, str, dict[str, Any], Callable[[SessionInfo], bool]]] = [
        (
            "6a",
            "status='completed' (10%)",
            dict(status="completed"),
            lambda x: x.status == SessionStatus.COMPLETED,
        ),
        (
            "6b",
            "metadata plan=pro (10%)",
            dict(metadata={"plan": "pro"}),
            lambda x: x.metadata.get("plan") == "pro",
        ),
        (
            "6c",
            f"owner ({owner_share:.0%}) + metadata plan=pro (10%)",
            dict(owner=owner, metadata={"plan": "pro"}),
            lambda x: x.owner == owner and x.metadata.get("plan") == "pro",
        ),
        (
            "6d",
            "metadata tier=enterprise (0.1%, stress)",
            dict(metadata={"tier": "enterprise"}),
            lambda x: x.metadata.get("tier") == "enterprise",
        ),
    ]
    try:
        for key, label, filters, check in variants:
            matching = await m.count(**filters)
            page = await m.list(**filters, limit=50)
            assert len(page.sessions) == min(50, matching), (label, len(page.sessions), matching)
            assert all(check(x) for x in page.sessions), label

            async def gs(i: int, filters: dict[str, Any] = filters) -> int:
                t = timed()
                await m.list(**filters, limit=50)
                return timed() - t

            _, g = await interleaved(None, gs, s.n, s.warmup, s.block)
            res.add(
                key,
                f"list 50 of {s.sessions:,}: {label} [{matching:,} match]",
                None,
                g,
                "p99 < 20 ms",
                "p99",
                20.0,
                "raw LangGraph has no session registry",
            )
    finally:
        await m.close()


# --------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------
async def run(args: argparse.Namespace, sizes: Sizes, tmp: Path, res: Results) -> None:
    only = {x.strip() for x in args.only.split(",") if x.strip()}
    unknown = only - set(SECTIONS)
    if unknown:
        raise SystemExit(
            f"unknown --only section(s): {sorted(unknown)}; known: {', '.join(SECTIONS)}"
        )

    def want(name: str) -> bool:
        return not only or name in only

    mc = sizes.msg_chars

    def section(name: str) -> contextlib.AbstractContextManager[None]:
        @contextlib.contextmanager
        def cm() -> Any:
            print(f"[{name}]", flush=True)
            t = time.perf_counter()
            yield
            res.section_s[name] = time.perf_counter() - t

        return cm()

    opened: list[Pair] = []
    try:
        trivial = await open_pair("trivial", trivial_builder, tmp, args.raw_conn)
        opened.append(trivial)
        chat = await open_pair("chat", lambda: chat_builder(mc), tmp, args.raw_conn)
        opened.append(chat)
        ask = await open_pair("interrupt", interrupt_builder, tmp, args.raw_conn)
        opened.append(ask)
        if want("create"):
            with section("create"):
                await bench_create(res, trivial, sizes)
        chat_first = None
        if want("invoke"):
            with section("invoke"):
                await bench_invoke_first(
                    res,
                    trivial,
                    sizes,
                    lambda i: {"value": i},
                    "2a",
                    "invoke, new session (trivial graph)",
                )
                chat_first = await bench_invoke_first(
                    res,
                    chat,
                    sizes,
                    lambda i: chat_input(i, mc),
                    "2b",
                    "invoke, new session = turn 1 (chat graph)",
                )
        if want("resume"):
            with section("resume"):
                await bench_resume(res, ask, sizes)
        if want("get_state"):
            with section("get_state"):
                await bench_get_state(res, trivial, sizes)
        if want("long"):
            with section("long"):
                await bench_long(res, chat, sizes, chat_first)
        if want("delete"):
            with section("delete"):
                await bench_delete(res, trivial, sizes)
        if want("round_trips"):
            with section("round_trips"):
                await bench_round_trips(res, trivial, ask)
    finally:
        for pair in opened:
            await pair.close()
    if want("list"):
        with section("list"):
            await bench_list(res, tmp, sizes, args)
    order = ["1", "2a", "2b", "3", "4", "4b", "5", "5b", "6a", "6b", "6c", "6d", "7"]
    res.rows.sort(key=lambda r: order.index(r.key) if r.key in order else len(order))


def main(argv: list[str] | None = None) -> int:
    args, sizes = parse_args(argv)
    env = environment(args, sizes)
    tmp = Path(tempfile.mkdtemp(prefix="gs-bench-", dir=args.tmpdir))
    res = Results()
    started = time.perf_counter()
    print(f"graph-sessions core benchmark ({env['mode']}), databases in {tmp}", flush=True)
    try:
        asyncio.run(run(args, sizes, tmp, res))
    except BaseException:
        # An unclosed aiosqlite connection's thread would keep the interpreter alive: report
        # the error and leave for sure, so a failing run never hangs a CI job.
        traceback.print_exc()
        sys.stdout.flush()
        sys.stderr.flush()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        os._exit(1)
    if args.keep:
        print(f"kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    env["loadavg_end"] = loadavg()
    env["wall_s"] = round(time.perf_counter() - started, 1)
    res.notes.append(
        "ratio = graph-sessions ÷ raw LangGraph on the median (and on p99); raw: AsyncSqliteSaver + graph.ainvoke on its own "
        "fresh file; graph-sessions: GraphSessionManager(graph=builder, backend='sqlite:///…'), defaults."
    )
    res.notes.append(
        f"n per side: {sizes.n} (create, get_state, list), {sizes.n_invoke} (invoke, resume, delete), "
        f"{sizes.long_invokes} (turn {sizes.turns}); warm-up {sizes.warmup}; alternating blocks of {sizes.block}. "
        f"List registry filled by {args.list_fill}. Wall time {env['wall_s']} s."
    )
    table = markdown(res, env)
    print()
    print(table)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "environment": env,
        "setup_seconds": {k: round(v, 2) for k, v in res.setup_s.items()},
        "section_seconds": {k: round(v, 2) for k, v in res.section_s.items()},
        "rows": [
            {
                "key": r.key,
                "operation": r.label,
                "graph_sessions": r.gs,
                "raw_langgraph": r.raw,
                "ratio_median": r.ratio_median if r.raw else None,
                "ratio_p99": r.ratio_p99 if r.raw else None,
                "target": r.target,
                "result": r.result,
                "note": r.note,
            }
            for r in res.rows
        ],
        "growth": [asdict(g) for g in res.growth],
        "extra": res.extra,
        "round_trips": res.round_trips,
        "markdown": table,
    }
    out.write_text(json.dumps(payload, indent=2))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
