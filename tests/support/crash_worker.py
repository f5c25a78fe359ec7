"""A child process for tests/test_crash.py and tests/test_leases.py (needs ``tests/`` on
PYTHONPATH: ``support.paths.subprocess_env``): it opens a GraphSessionManager on a SQLite
file, runs one scenario and reports progress on stdout (one line per fact, flushed), so
the test can SIGKILL it at a known point and check what a new manager finds on reopen.

    python tests/support/crash_worker.py slow DB SESSION [SESSION...] --steps 4 --delay 0.3 --marker FILE
    python tests/support/crash_worker.py interrupt DB SESSION
    python tests/support/crash_worker.py burst DB --n-sessions 3 --count 400

The worker never exits on its own before ``--lifetime`` seconds (default 120), so a test
that forgets it cannot leave it behind for long.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path
from typing import Any

from langgraph.graph import END, START, StateGraph

from graph_sessions import GraphSessionManager
from support.graphs import StepState, approval_graph, chat_graph


def marked_slow_graph(n_steps: int = 4, marker: str | Path | None = None) -> StateGraph:
    """Like tests/support/graphs.py ``slow_graph``, but each step first appends ``start:<name>:<pid>``
    to ``marker``. With ``durability="sync"``, seeing ``start:s<k>`` means the checkpoints
    of steps s0..s<k-1> are committed (each step is saved before the next one starts)."""
    b = StateGraph(StepState)
    prev = START
    for i in range(n_steps):
        name = f"s{i}"

        async def step(state: StepState, _name: str = name) -> dict[str, Any]:
            if marker is not None:
                with open(marker, "a", encoding="utf-8") as fh:
                    fh.write(f"start:{_name}:{os.getpid()}\n")
            await asyncio.sleep(state.get("delay", 0.3))
            return {"steps": [f"{_name}:{state.get('user_input', '')}"]}

        b.add_node(name, step)
        b.add_edge(prev, name)
        prev = name
    b.add_edge(prev, END)
    return b


def emit(*parts: Any) -> None:
    print(" ".join(str(p) for p in parts), flush=True)


async def _forever() -> None:
    await asyncio.Event().wait()


async def scenario_slow(args: argparse.Namespace) -> None:
    manager = GraphSessionManager(
        graph=marked_slow_graph(args.steps, args.marker),
        backend=f"sqlite:///{args.db}",
        durability="sync",
        sweep_interval=None,
        lease_ttl=args.lease_ttl,
    )
    await manager.open()
    emit("pid", os.getpid())
    tasks = []
    for sid in args.sessions:
        session = await manager.get_or_create(sid)
        tasks.append(
            asyncio.ensure_future(session.invoke({"user_input": sid, "delay": args.delay}))
        )
    emit("invoking", *args.sessions)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    # Most tests kill before this; a paused-then-resumed worker reports its runs' fate.
    emit("done", *(getattr(r, "code", None) or getattr(r, "status", r) for r in results))
    await _forever()


async def scenario_interrupt(args: argparse.Namespace) -> None:
    manager = GraphSessionManager(
        graph=approval_graph(), backend=f"sqlite:///{args.db}", sweep_interval=None
    )
    await manager.open()
    emit("pid", os.getpid())
    session = await manager.get_or_create(args.sessions[0])
    result = await session.invoke({"user_input": "hello"})
    emit("interrupted" if result.status == "interrupted" else f"unexpected:{result.status}")
    await _forever()  # idle, holding the manager open, until killed


async def scenario_burst(args: argparse.Namespace) -> None:
    manager = GraphSessionManager(
        graph=chat_graph(), backend=f"sqlite:///{args.db}", sweep_interval=None
    )
    await manager.open()
    emit("pid", os.getpid())
    sessions = [await manager.get_or_create(f"burst-{k}") for k in range(args.n_sessions)]
    emit("ready", *(s.session_id for s in sessions))

    async def one(session: Any) -> None:
        for i in range(args.count):
            await session.invoke({"user_input": str(i)})
            emit("ok", session.session_id, i)  # invoke returned: turn i is committed

    await asyncio.gather(*(one(s) for s in sessions))
    emit("burst-done")
    await _forever()


SCENARIOS = {"slow": scenario_slow, "interrupt": scenario_interrupt, "burst": scenario_burst}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("db")
    parser.add_argument("sessions", nargs="*")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--delay", type=float, default=0.3)
    parser.add_argument("--marker", default=None)
    parser.add_argument("--n-sessions", dest="n_sessions", type=int, default=3)
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument("--lifetime", type=float, default=120.0)
    parser.add_argument("--lease-ttl", dest="lease_ttl", type=float, default=30.0)
    args = parser.parse_args()

    async def run() -> None:
        try:
            await asyncio.wait_for(SCENARIOS[args.scenario](args), args.lifetime)
        except TimeoutError:
            emit("lifetime-over")

    asyncio.run(run())
    os._exit(0)  # do not close the manager: the test decides how this process ends


if __name__ == "__main__":
    main()
