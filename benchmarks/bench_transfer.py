"""Export/import rates and the export's peak memory (``graph-sessions export``/``import``).

Method: one chat session is run for real (3 turns of a one-node graph: 7 checkpoints,
runs, events, a 2-message transcript) and exported; its line is cloned N times under new
ids into a file (N = each ``--sizes`` value). Each step then runs in its own process, so
its peak RSS (``resource.getrusage``, ``ru_maxrss``) is its own:

1. import the file into a fresh SQLite file,
2. export that SQLite file (peak RSS: it must not grow with N),
3. import that export into a fresh Postgres database (``--postgres``),
4. export the Postgres database, and compare: the same bytes but for the header.

Rates are sessions per second of the step's wall time (open and close included).

    python benchmarks/bench_transfer.py                       # 1,000 and 10,000
    python benchmarks/bench_transfer.py --sizes 1000,100000   # the 100,000 export
    python benchmarks/bench_transfer.py --postgres start      # + a throwaway PostgreSQL
"""

from __future__ import annotations

import argparse
import asyncio
import json
import operator
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

from typing_extensions import TypedDict

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))


class ChatState(TypedDict, total=False):
    user_input: str
    turns: Annotated[list[str], operator.add]
    response: str


def _template() -> bytes:
    """The export line of one real 3-turn chat session."""
    from langgraph.graph import END, START, StateGraph

    from graph_sessions import GraphSessionManager
    from graph_sessions.core.transfer import export_backend
    from graph_sessions.storage.backend import NewMessage

    def reply(state: ChatState) -> dict[str, Any]:
        return {"turns": [state.get("user_input", "")], "response": "ok"}

    b = StateGraph(ChatState)
    b.add_node("reply", reply)
    b.add_edge(START, "reply")
    b.add_edge("reply", END)

    async def run() -> bytes:
        async with GraphSessionManager(b, "memory://", sweep_interval=None) as m:
            s = await m.create("TEMPLATE", owner="bench", metadata={"plan": "free"})
            for i in range(3):
                await s.invoke({"user_input": f"turn {i}"})
            await m.backend.append_messages(
                "TEMPLATE", [NewMessage("user", "hi"), NewMessage("assistant", "hello")]
            )
            lines: list[bytes] = []
            await export_backend(m.backend, lines.append, source="bench", sessions_only=True)
            return lines[1]

    return asyncio.run(run())


def _write_file(path: Path, line: bytes, n: int) -> None:
    """The template line under N session ids (run ids are unique across sessions too)."""
    from graph_sessions.core.transfer.format import dump_line, header

    doc = json.loads(line)
    with path.open("wb") as out:
        out.write(dump_line(header("bench")))
        for i in range(n):
            sid = f"s{i:07d}"
            doc["session"]["session_id"] = sid
            for r in doc["runs"]:
                r["run_id"] = f"{sid}-{r['run_id'][-12:]}"
            for e in doc["events"]:
                if e["run_id"]:
                    e["run_id"] = f"{sid}-{e['run_id'][-12:]}"
            out.write(dump_line(doc))


def _child(step: str, url: str, path: str) -> None:
    """One step in this process; prints its numbers as JSON."""
    from graph_sessions.core.transfer import export_backend, import_lines
    from graph_sessions.storage import backend_from_url

    async def run() -> int:
        backend = backend_from_url(url)
        await backend.open()
        try:
            if step == "import":
                with open(path, "rb") as f:
                    report = await import_lines(backend, f)
                return report.imported.get("session", 0)
            with open(path, "wb") as out:
                done = await export_backend(backend, out.write, source=url, sessions_only=True)
            return done.sessions
        finally:
            await backend.close()

    start = time.perf_counter()
    n = asyncio.run(run())
    took = time.perf_counter() - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"sessions": n, "seconds": took, "rate": n / took, "peak_rss_mb": rss_mb}))


def _step(step: str, url: str, path: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", step, url, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{step} {url} failed:\n{done.stderr}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _fresh_pg_db(server_url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000", help="session counts, comma-separated")
    parser.add_argument(
        "--postgres", default=None, help="a server URL, or 'start' for a throwaway cluster"
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.postgres == "start":
        from _postgres import throwaway_server

        with throwaway_server() as url:
            _run(sizes, url)
    else:
        _run(sizes, args.postgres)


def _run(sizes: list[int], pg: str | None) -> None:
    line = _template()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-transfer-") as tmp:
        folder = Path(tmp)
        for n in sizes:
            source = folder / f"in-{n}.jsonl"
            _write_file(source, line, n)
            db = f"sqlite:///{folder / f'db-{n}.db'}"
            row: dict[str, Any] = {"sessions": n, "file_mb": source.stat().st_size / 2**20}
            row["import_sqlite"] = _step("import", db, source)
            out = folder / f"out-{n}.jsonl"
            row["export_sqlite"] = _step("export", db, out)
            if pg is not None:
                pg_db = _fresh_pg_db(pg, f"bench_transfer_{n}")
                row["import_postgres"] = _step("import", pg_db, out)
                back = folder / f"back-{n}.jsonl"
                row["export_postgres"] = _step("export", pg_db, back)
                with out.open("rb") as a, back.open("rb") as b:
                    a.readline(), b.readline()
                    row["identical"] = all(x == y for x, y in zip(a, b, strict=True))
            rows.append(row)
            print(json.dumps(row), flush=True)
    print()
    print("| sessions | step | sessions/s | seconds | peak RSS (MB) |")
    print("| ---: | --- | ---: | ---: | ---: |")
    for row in rows:
        for step in ("import_sqlite", "export_sqlite", "import_postgres", "export_postgres"):
            if step in row:
                r = row[step]
                print(
                    f"| {row['sessions']:,} | {step.replace('_', ' ')} | {r['rate']:.0f} | "
                    f"{r['seconds']:.1f} | {r['peak_rss_mb']:.0f} |"
                )
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / "transfer.json").write_text(
        json.dumps({"rows": rows, "cpus": os.cpu_count(), "load": os.getloadavg()}, indent=1)
    )


if __name__ == "__main__":
    main()
