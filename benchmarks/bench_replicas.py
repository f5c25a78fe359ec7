"""Replicas benchmark: the HTTP load of ``bench_http.py`` (sessions x turns at a fixed
concurrency, keep-alive connections) on one server with SQLite, one server on Postgres,
and N replicas on one Postgres database with every request sent to a random replica (no
stickiness), same machine, same run.

    python benchmarks/bench_replicas.py              # 200 sessions x 5 turns, 3 replicas
    python benchmarks/bench_replicas.py --quick      # smoke run
    python benchmarks/bench_replicas.py --replicas 2 --postgres URL

Reported per side: invokes/s (wall), p50/p99 latency, errors, and the servers' CPU per
invoke (user + system of every server process over the load, from ``/proc``). Replicas on
one host share its cores: they do not add CPU, they show the price of coordination
(leases, fencing, queue checks through the database) and that nothing is lost. Every turn
is checked: the state a turn answers holds every earlier turn of its session.

A throwaway PostgreSQL cluster (Debian's binaries, ``tests/support/postgres.py``, fsync on)
is started unless ``--postgres`` names a server. Prints a Markdown table and writes
``benchmarks/results/replicas.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import platform
import random
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench_http import KeepAlivePool, Load, Server, Sizes, new_id, run_load

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process ``pid`` has used so far (Linux ``/proc``)."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def postgres(given: str | None) -> Iterator[Any]:
    """``create_database()`` of the server to measure on: the one given or a throwaway one."""
    if given:

        class Given:
            n = 0

            def create_database(self) -> str:
                return given  # type: ignore[return-value]

        yield Given()
        return
    sys.path.insert(0, str(ROOT / "tests"))
    import psycopg
    from support.postgres import provision

    with provision() as server:
        with psycopg.connect(server.url(), autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET fsync = on")
            conn.execute("ALTER SYSTEM SET full_page_writes = on")
            conn.execute("ALTER SYSTEM SET synchronous_commit = on")
            conn.execute("SELECT pg_reload_conf()")
        yield server


async def measure(
    side: str, servers: list[Server], sizes: Sizes
) -> tuple[Load, float, dict[str, Any]]:
    """The load on ``servers`` (each request to a random one): the Load and the servers'
    CPU ms per invoke."""
    pools = []
    for server in servers:
        host, port = server.url.removeprefix("http://").split(":")
        pools.append(KeepAlivePool(host, int(port)))
    ids = [f"rep-{i}-{new_id()[:8]}" for i in range(sizes.sessions)]
    wrong: list[str] = []

    async def call(sid: str, turn: int) -> None:
        status, data = await random.choice(pools).post(
            f"/sessions/{sid}/invoke",
            {"input": {"value": turn}, "graph_id": "trivial", "multitask": "enqueue"},
        )
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {data[:160]!r}")
        if len(json.loads(data)["state"]["log"]) != turn + 1:
            wrong.append(sid)
            raise RuntimeError(f"session {sid}: turn {turn} lost or duplicated")

    before = sum(cpu_seconds(s.proc.pid) for s in servers)
    try:
        load = await run_load(side, sizes, call, ids)
    finally:
        for pool in pools:
            await pool.close()
    cpu = sum(cpu_seconds(s.proc.pid) for s in servers) - before
    return load, cpu * 1000 / max(load.invokes, 1), {"wrong_state": len(wrong)}


def start(tmp: Path, n: int, backend: str | None) -> list[Server]:
    servers = []
    for i in range(n):
        folder = tmp / f"server{i}"
        folder.mkdir()
        servers.append(Server(folder, backend=backend))
        servers[-1].wait_ready()  # one after the other: the first migrates
    return servers


async def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run: 40 sessions x 2 turns")
    p.add_argument("--replicas", type=int, default=3)
    p.add_argument("--sessions", type=int, default=200)
    p.add_argument("--turns", type=int, default=5)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--postgres", help="a Postgres database URL instead of a throwaway cluster")
    p.add_argument("--out", default=str(HERE / "results" / "replicas.json"))
    args = p.parse_args(argv)
    if args.quick:
        args.sessions, args.turns = 40, 2
    sizes = Sizes(sessions=args.sessions, turns=args.turns, concurrency=args.concurrency)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp_name, postgres(args.postgres) as pg:
        tmp = Path(tmp_name)
        sides: list[tuple[str, int, str | None]] = [
            ("1 server, SQLite", 1, None),
            ("1 server, Postgres", 1, pg.create_database()),
            (f"{args.replicas} replicas, Postgres", args.replicas, pg.create_database()),
        ]
        for k, (side, n, backend) in enumerate(sides):
            folder = tmp / f"side{k}"
            folder.mkdir()
            servers = start(folder, n, backend)
            try:
                print(f"[{side}: {sizes.sessions} sessions x {sizes.turns}]", flush=True)
                load, cpu_ms, extra = await measure(side, servers, sizes)
            finally:
                for server in servers:
                    server.stop()
            results[side] = {
                "invokes": load.invokes,
                "errors": load.errors,
                "invokes_per_s": load.per_s,
                "latency": load.latency,
                "server_cpu_ms_per_invoke": cpu_ms,
                "error_samples": load.error_samples,
                **extra,
            }
    print(
        f"\n{args.sessions} sessions x {args.turns} turns, {args.concurrency} keep-alive "
        "clients, each request to a random server of the side\n"
    )
    print("| side | invokes/s | p50 ms | p99 ms | errors | server CPU ms per invoke |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for side, r in results.items():
        lat = r["latency"]
        print(
            f"| {side} | {r['invokes_per_s']:.1f} | {lat.get('p50_ms', 0):.2f} | "
            f"{lat.get('p99_ms', 0):.2f} | {r['errors']} | {r['server_cpu_ms_per_invoke']:.2f} |"
        )
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
