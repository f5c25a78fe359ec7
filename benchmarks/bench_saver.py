"""Checkpoint saver benchmark: graph_sessions.checkpoint against LangGraph's SQLite saver.

    python benchmarks/bench_saver.py            # full run: 2,000 turns on one thread
    python benchmarks/bench_saver.py --quick    # smoke run: 200 turns
    python benchmarks/bench_saver.py --help     # sizes and options

Prints a Markdown table and writes ``benchmarks/results/saver.json``.

The graph is the issue's 2-node chat: the input adds one user message, node ``think``
updates a counter, node ``bot`` appends one assistant reply, so ``messages`` grows by two
per turn; it runs ``N`` turns on one thread with ``ainvoke(..., durability="async")``
(LangGraph's default), in three flavours: plain dict messages with ``operator.add``,
LangChain message objects with ``add_messages``, and plain dict messages in LangGraph's
``DeltaChannel`` (``delta``: checkpoints store only the writes, and a snapshot of the list
every 100 updates). Five sides, each on its own fresh file:

* **none**: no checkpointer; every call passes the whole history so far as input, so the
  graph does the same work on the same state, without persistence;
* **memory**: LangGraph's ``InMemorySaver``, for reference: no I/O, but it serializes
  every changed channel on ``put`` and deserializes on every read, as any saver must
  that hands out fresh objects; it is the floor a persistent saver can approach;
* **theirs**: ``langgraph.checkpoint.sqlite.aio.AsyncSqliteSaver``;
* **ours**: ``graph_sessions.checkpoint.AsyncSqliteSaver``;
* **shared**: the same saver with ``share_values=True`` (it hands out the list elements it
  keeps instead of copies, under the contract that nothing mutates state in place);
* **postgres-official** / **postgres-ours** (only with ``--postgres URL``, or
  ``--postgres start`` for a throwaway server from Debian's binaries, fsync on): LangGraph's
  ``AsyncPostgresSaver`` and ``graph_sessions.checkpoint.AsyncPostgresSaver``, each on a
  fresh database of that server; their size is ``pg_total_relation_size`` (heap, TOAST,
  indexes) of the saver's tables, also recorded at ``--size-at`` turns.

Both savers get the same connection settings (WAL, ``synchronous=NORMAL``) so the ratios
compare storage formats, not fsync policies. Measured per side: the median ``ainvoke`` of
turns 1-20 and of the last 20 turns (wall time, and this process's CPU time), the database size after the run (main file + WAL,
after a ``wal_checkpoint(TRUNCATE)``), the median ``aget_state`` and the median
``aget_state_history(limit=10)`` page (20 samples each, on the final thread).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import operator
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Annotated, Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
try:
    import graph_sessions  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT / "src"))

import _postgres  # noqa: E402
import aiosqlite  # noqa: E402
from langchain_core.messages import AIMessage, HumanMessage  # noqa: E402
from langgraph.channels.delta import DeltaChannel  # noqa: E402
from langgraph.checkpoint.memory import InMemorySaver  # noqa: E402
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver as TheirSaver  # noqa: E402
from langgraph.graph import END, START, StateGraph  # noqa: E402
from langgraph.graph.message import add_messages  # noqa: E402
from typing_extensions import TypedDict  # noqa: E402

from graph_sessions.checkpoint import AsyncSqliteSaver as OurSaver  # noqa: E402
from graph_sessions.crypto import generate_key  # noqa: E402

SIDES = ("none", "memory", "theirs", "ours", "ours-encrypted", "shared")
#: the key of the ``ours-encrypted`` side (encryption at rest, docs/encryption.md)
KEY = generate_key("bench")
PG_SIDES = ("postgres-official", "postgres-ours")
#: the tables of each Postgres side (LangGraph's; ours)
PG_TABLES = {
    "postgres-official": ["checkpoints", "checkpoint_blobs", "checkpoint_writes"],
    "postgres-ours": ["gs_checkpoints", "gs_checkpoint_blobs", "gs_checkpoint_writes"],
}
FLAVOURS = ("dict", "langchain", "delta")
WINDOW = 20
SAMPLES = 20


class DictChat(TypedDict, total=False):
    messages: Annotated[list[Any], operator.add]
    turn: int


class LCChat(TypedDict, total=False):
    messages: Annotated[list[Any], add_messages]
    turn: int


def _concat(state: list[Any], writes: Any) -> list[Any]:
    """A DeltaChannel reducer: append every write's messages (batching-invariant)."""
    out = list(state)
    for w in writes:
        out.extend(w)
    return out


class DeltaChat(TypedDict, total=False):
    messages: Annotated[list[Any], DeltaChannel(_concat, list)]
    turn: int


def _think(state: dict[str, Any]) -> dict[str, Any]:
    return {"turn": (state.get("turn") or 0) + 1}


def _dict_bot(state: dict[str, Any]) -> dict[str, Any]:
    return {"messages": [{"role": "assistant", "content": f"reply number {state['turn']} ok"}]}


def _lc_bot(state: dict[str, Any]) -> dict[str, Any]:
    n = state["turn"]
    return {"messages": [AIMessage(content=f"reply number {n} ok", id=f"ai-{n}")]}


def build(flavour: str) -> StateGraph:
    """The 2-node chat graph of the issue."""
    b = StateGraph({"dict": DictChat, "langchain": LCChat, "delta": DeltaChat}[flavour])
    b.add_node("think", _think)
    b.add_node("bot", _lc_bot if flavour == "langchain" else _dict_bot)
    b.add_edge(START, "think")
    b.add_edge("think", "bot")
    b.add_edge("bot", END)
    return b


def user_message(flavour: str, i: int) -> Any:
    """The user message of turn ``i``."""
    if flavour != "langchain":
        return {"role": "user", "content": f"user message {i} hello"}
    return HumanMessage(content=f"user message {i} hello", id=f"user-{i}")


def db_size(path: Path) -> int:
    """Main file + WAL (+ shared memory) in bytes."""
    return sum(
        p.stat().st_size for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()
    )


def median_ms(samples: list[float]) -> float:
    """Median of nanosecond samples, in ms."""
    return statistics.median(samples) / 1e6


async def _pg_saver(side: str, url: str) -> tuple[Any, Any]:
    """A Postgres side's saver on a new connection to ``url`` (set up), and the connection."""
    from psycopg import AsyncConnection
    from psycopg.rows import dict_row

    conn = await AsyncConnection.connect(
        url, autocommit=True, prepare_threshold=0, row_factory=dict_row
    )
    if side == "postgres-official":
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    else:
        from graph_sessions.checkpoint import AsyncPostgresSaver  # type: ignore[assignment]
    saver = AsyncPostgresSaver(conn)  # type: ignore[arg-type]
    await saver.setup()
    return saver, conn


async def run_side(
    side: str,
    flavour: str,
    turns: int,
    folder: Path,
    pg_url: str | None = None,
    size_at: tuple[int, ...] = (),
) -> dict[str, Any]:
    """Run ``turns`` turns of one flavour on one side; return its measurements."""
    path = folder / f"{side}-{flavour}.db"
    graph_builder = build(flavour)
    conn: aiosqlite.Connection | None = None
    pg_conn: Any = None
    saver: Any = None
    sizes: dict[str, int] = {}
    if side in PG_SIDES:
        assert pg_url is not None
        saver, pg_conn = await _pg_saver(side, pg_url)
    elif side == "memory":
        saver = InMemorySaver()
    elif side != "none":
        conn = await aiosqlite.connect(str(path))
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        if side == "theirs":
            saver = TheirSaver(conn)
        else:
            saver = OurSaver(
                conn,
                share_values=side == "shared",
                encryption_key=KEY if side == "ours-encrypted" else None,
            )
        await saver.setup()
    graph = graph_builder.compile(checkpointer=saver)
    config: dict[str, Any] = {"configurable": {"thread_id": "bench"}}
    invoke_ns: list[int] = []
    cpu_ns: list[int] = []  # this process's CPU (all threads): steadier on a busy machine
    history: list[Any] = []
    out: dict[str, Any] = {}
    gc.collect()
    for i in range(turns):
        msg = user_message(flavour, i)
        payload: dict[str, Any] = {"messages": [msg]}
        if side == "none":
            payload = {"messages": [*history, msg], "turn": out.get("turn", 0)}
        t0, c0 = time.perf_counter_ns(), time.process_time_ns()
        out = await graph.ainvoke(payload, config)
        invoke_ns.append(time.perf_counter_ns() - t0)
        cpu_ns.append(time.process_time_ns() - c0)
        if side == "none":
            history = out["messages"]
        if pg_url is not None and i + 1 in size_at:
            await asyncio.sleep(0.05)  # let durability="async" puts land
            sizes[str(i + 1)] = _postgres.total_relation_bytes(pg_url, PG_TABLES[side])
    result: dict[str, Any] = {
        "first_ms": median_ms(invoke_ns[:WINDOW]),
        "last_ms": median_ms(invoke_ns[-WINDOW:]),
        "first_cpu_ms": median_ms(cpu_ns[:WINDOW]),
        "last_cpu_ms": median_ms(cpu_ns[-WINDOW:]),
        "messages": len(out["messages"]),
    }
    if saver is not None:
        await asyncio.sleep(0.05)  # let durability="async" puts land
        get_ns, page_ns = [], []
        for _ in range(SAMPLES):
            t0 = time.perf_counter_ns()
            state = await graph.aget_state(config)
            get_ns.append(time.perf_counter_ns() - t0)
            t0 = time.perf_counter_ns()
            page = [s async for s in graph.aget_state_history(config, limit=10)]
            page_ns.append(time.perf_counter_ns() - t0)
        assert len(state.values["messages"]) == 2 * turns and len(page) == 10
        result["get_state_ms"] = median_ms(get_ns)
        result["history_page_ms"] = median_ms(page_ns)
    if pg_conn is not None:
        await pg_conn.close()
        assert pg_url is not None
        sizes[str(turns)] = _postgres.total_relation_bytes(pg_url, PG_TABLES[side])
        result["file_bytes"] = sizes[str(turns)]
        result["bytes_at_turns"] = sizes
    if conn is not None:
        await conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        await conn.close()
        result["file_bytes"] = db_size(path)
        path.unlink()
        for extra in (Path(f"{path}-wal"), Path(f"{path}-shm")):
            extra.unlink(missing_ok=True)
    return result


def fmt(x: float | None, digits: int = 2) -> str:
    """A number for the table."""
    if x is None:
        return "-"
    return f"{x:,.{digits}f}"


def table(results: dict[str, dict[str, dict[str, Any]]], turns: int) -> str:
    """The Markdown table of results with the target ratios."""
    lines = [
        f"| flavour | side | invoke turns 1-{WINDOW} ms | invoke last {WINDOW} ms | "
        "file MB | get_state ms | history page 10 ms |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for flavour, sides in results.items():
        for side, r in sides.items():
            size = r.get("file_bytes")
            lines.append(
                f"| {flavour} | {side} | {fmt(r['first_ms'])} | {fmt(r['last_ms'])} | "
                f"{fmt(size / 1e6 if size else None, 3)} | {fmt(r.get('get_state_ms'), 3)} | "
                f"{fmt(r.get('history_page_ms'), 3)} |"
            )
    lines += [
        "",
        f"| flavour | side | last/none last (<= 1.5) | last/own first (<= 1.2) | "
        "last/memory last | memory last/none last | "
        f"file theirs/this at {turns} turns (>= 100) | get_state ms (<= 1) | "
        "page ms (<= 5) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for flavour, sides in results.items():
        theirs, none = sides["theirs"], sides["none"]
        memory = sides.get("memory")
        for name in ("ours", "ours-encrypted", "shared"):
            r = sides.get(name)
            if r is None:
                continue
            lines.append(
                f"| {flavour} | {name} | {fmt(r['last_ms'] / none['last_ms'])} | "
                f"{fmt(r['last_ms'] / r['first_ms'])} | "
                f"{fmt(r['last_ms'] / memory['last_ms'] if memory else None)} | "
                f"{fmt(memory['last_ms'] / none['last_ms'] if memory else None)} | "
                f"{fmt(theirs['file_bytes'] / r['file_bytes'], 1)} | "
                f"{fmt(r['get_state_ms'], 3)} | {fmt(r['history_page_ms'], 3)} |"
            )
    lines += ["", *encryption_table(results)]
    return "\n".join(lines)


def encryption_table(results: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """Encryption at rest on our saver against the same saver without it (targets: <= 1.15
    per turn, <= 1.1 file size)."""
    lines = [
        "| flavour | encrypted/plain turns 1-20 | encrypted/plain last 20 (<= 1.15) | "
        "file encrypted/plain (<= 1.1) | get_state encrypted/plain |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for flavour, sides in results.items():
        plain, sealed = sides.get("ours"), sides.get("ours-encrypted")
        if plain is None or sealed is None:
            continue
        lines.append(
            f"| {flavour} | {fmt(sealed['first_ms'] / plain['first_ms'])} | "
            f"{fmt(sealed['last_ms'] / plain['last_ms'])} | "
            f"{fmt(sealed['file_bytes'] / plain['file_bytes'])} | "
            f"{fmt(sealed['get_state_ms'] / plain['get_state_ms'])} |"
        )
    return lines


def pg_table(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    """The Markdown table of the Postgres sides: time per turn, reads, storage by turns."""
    marks = sorted(
        {
            int(n)
            for sides in results.values()
            for r in sides.values()
            for n in r.get("bytes_at_turns", {})
        }
    )
    lines = [
        f"| flavour | side | invoke turns 1-{WINDOW} ms | invoke last {WINDOW} ms | "
        f"CPU turns 1-{WINDOW} ms | CPU last {WINDOW} ms | get_state ms | "
        "history page 10 ms | " + " | ".join(f"MB at {n} turns" for n in marks) + " |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | "
        + " | ".join("---:" for _ in marks)
        + " |",
    ]
    for flavour, sides in results.items():
        for side in PG_SIDES:
            r = sides.get(side)
            if r is None:
                continue
            at = r.get("bytes_at_turns", {})
            sizes = " | ".join(fmt(at[str(n)] / 1e6, 3) if str(n) in at else "-" for n in marks)
            lines.append(
                f"| {flavour} | {side} | {fmt(r['first_ms'])} | {fmt(r['last_ms'])} | "
                f"{fmt(r.get('first_cpu_ms'))} | {fmt(r.get('last_cpu_ms'))} | "
                f"{fmt(r.get('get_state_ms'), 3)} | {fmt(r.get('history_page_ms'), 3)} | {sizes} |"
            )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--quick", action="store_true", help="200 turns, for CI (about a minute)")
    p.add_argument("--turns", type=int, default=None, help="turns per thread (default 2000)")
    p.add_argument("--flavours", default=",".join(FLAVOURS), help="dict,langchain,delta")
    p.add_argument("--sides", default=",".join(SIDES), help=",".join(SIDES))
    p.add_argument(
        "--postgres",
        default=None,
        metavar="URL",
        help="a server URL (or 'start': a throwaway server) for the Postgres sides",
    )
    p.add_argument(
        "--size-at", default="300", help="turns at which Postgres storage is also measured"
    )
    p.add_argument(
        "--rounds", type=int, default=1, help="run every side this many times, interleaved"
    )
    p.add_argument("--out", default=str(HERE / "results" / "saver.json"))
    return p.parse_args(argv)


async def run(args: argparse.Namespace, progress: Callable[[str], None]) -> dict[str, Any]:
    """Every (flavour, side) in order; returns ``{flavour: {side: measurements}}``."""
    turns = args.turns or (200 if args.quick else 2000)
    results: dict[str, dict[str, dict[str, Any]]] = {}
    sides = args.sides.split(",")
    if args.postgres is None and any(s in PG_SIDES for s in sides):
        raise SystemExit(f"{', '.join(PG_SIDES)} need --postgres URL (or --postgres start)")
    size_at = tuple(int(n) for n in args.size_at.split(",") if n)
    with contextlib.ExitStack() as stack:
        server = args.postgres
        if server == "start":
            server = stack.enter_context(_postgres.throwaway_server())
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-saver-"))
        rounds: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for _ in range(args.rounds):  # sides interleaved: a busy machine hits them alike
            for flavour in args.flavours.split(","):
                for side in sides:
                    t0 = time.perf_counter()
                    pg_url = _postgres.fresh_database(server) if side in PG_SIDES else None
                    try:
                        r = await run_side(side, flavour, turns, Path(tmp), pg_url, size_at)
                    finally:
                        if pg_url is not None:
                            _postgres.drop_database(server, pg_url)
                    rounds.setdefault((flavour, side), []).append(r)
                    progress(f"  {flavour:9} {side:6} {time.perf_counter() - t0:6.1f} s  {r}")
        for (flavour, side), runs in rounds.items():
            results.setdefault(flavour, {})[side] = _median_of(runs)
    return {"turns": turns, "rounds": args.rounds, "results": results}


def _median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each timing's median over rounds (sizes do not vary: the first round's)."""
    out = dict(runs[0])
    for key in runs[0]:
        if key.endswith("_ms"):
            out[key] = statistics.median(r[key] for r in runs)
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, write the JSON results."""
    args = parse_args(argv)
    print("graph_sessions.checkpoint saver benchmark", flush=True)
    data = asyncio.run(run(args, lambda line: print(line, flush=True)))
    results = data["results"]
    print()
    if all({"none", "theirs", "ours"} <= set(s) for s in results.values()):
        print(table(results, data["turns"]))
    if any(set(PG_SIDES) & set(s) for s in results.values()):
        print(pg_table(results))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    data["environment"] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "langgraph": importlib_metadata.version("langgraph"),
        "langgraph-checkpoint-sqlite": importlib_metadata.version("langgraph-checkpoint-sqlite"),
        "langgraph-checkpoint-postgres": importlib_metadata.version(
            "langgraph-checkpoint-postgres"
        ),
    }
    out.write_text(json.dumps(data, indent=2))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
