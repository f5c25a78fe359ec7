"""HTTP benchmark: the real server (a separate process) against the in-process manager and raw
LangGraph, same machine, same run.

    python benchmarks/bench_http.py            # full run (1,000 sessions under sustained load)
    python benchmarks/bench_http.py --quick    # smoke run, < 60 s
    python benchmarks/bench_http.py --help     # sizes and options

Prints a Markdown table and writes ``benchmarks/results/http.json``.

What is measured:

* **latency** (sequential, one request at a time over one keep-alive connection, httpx):
  ``POST /sessions`` (create), ``POST /sessions/{id}/invoke`` on a new session (trivial
  graph), ``POST /sessions/{id}/resume`` of a session paused at an interrupt, and for
  ``POST /sessions/{id}/stream`` the time to the first graph event (and to the ``start``
  event). The same operations through ``GraphSessionManager`` in this process, and raw
  LangGraph ``ainvoke`` (``AsyncSqliteSaver``, SQLite settings matched as in
  bench_core.py), alternate with the HTTP ones in blocks, so machine noise falls on all.
  The latency rows use httpx as the client, whose own CPU (~0.4-0.5 ms a request on the
  reference machine) is part of the HTTP column.
* **sustained load** (the issue's target: "sustained invokes/s with 1,000 concurrent
  sessions over keep-alive connections; zero errors, p99 < 250 ms"): ``--sessions``
  (1,000) sessions, all live at once, invoked round-robin by ``--concurrency`` (16) clients,
  each on its own keep-alive connection, until each session has had ``--turns`` (3)
  invokes; invokes/s, p50/p99 latency, errors.

  Why 16 connections and not 1,000: a connection carries one request at a time, so the
  connection count is the number of requests in flight, and by Little's law the mean
  latency is ``in flight / throughput``. At the few hundred invokes/s two cores give (raw
  LangGraph included), 1,000 requests in flight would queue ~3-4 s each whatever the server
  does; the p99 target then measures the machine, not the server. 16 connections keep both
  cores busy (throughput at saturation) with a queue short enough for latency to mean
  something, and still exercise 1,000 concurrent sessions: every session is open and
  in use throughout, their runs interleaved on the shared connections (the way a
  client-side pool or a reverse proxy talks to the server). Pass ``--concurrency 1000`` to
  see one connection per session. The load client is a minimal
  asyncio HTTP/1.1 client (httpx costs ~1 ms of CPU a request, which on a 2-core machine
  starves the server it shares the cores with). The same load on the in-process manager
  (``--concurrency`` asyncio tasks) and on raw LangGraph. Latency under load is bounded by
  queueing: ``concurrency / throughput`` is the mean wait, so raise ``--concurrency`` to see
  throughput at saturation, lower it for latency.

The server runs with its defaults (SQLite file, auth off on 127.0.0.1, JSON access logs to a
file, durability ``async``); client and server share the machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import operator
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
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
import httpx  # noqa: E402
from _stats import Op, interleaved_many, loadavg, package_versions  # noqa: E402
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver  # noqa: E402
from langgraph.graph import END, START, StateGraph  # noqa: E402
from langgraph.types import Command, interrupt  # noqa: E402
from typing_extensions import TypedDict  # noqa: E402

from graph_sessions import GraphSessionManager  # noqa: E402


# --------------------------------------------------------------------------------------
# graphs (the server loads them from this file: "bench_http.py:trivial", ":ask")
# --------------------------------------------------------------------------------------
class TrivialState(TypedDict, total=False):
    value: int
    log: Annotated[list[int], operator.add]


def trivial_builder() -> StateGraph:
    """One node returning a small update."""

    def node(state: TrivialState) -> dict[str, Any]:
        return {"log": [state.get("value", 0)]}

    b = StateGraph(TrivialState)
    b.add_node("node", node)
    b.add_edge(START, "node")
    b.add_edge("node", END)
    return b


class AskState(TypedDict, total=False):
    question: str
    answer: str


def ask_builder() -> StateGraph:
    """One node that pauses at ``interrupt()`` and stores the answer."""

    def ask(state: AskState) -> dict[str, Any]:
        return {"answer": interrupt({"question": state.get("question", "")})}

    b = StateGraph(AskState)
    b.add_node("ask", ask)
    b.add_edge(START, "ask")
    b.add_edge("ask", END)
    return b


trivial = trivial_builder()
ask = ask_builder()


# --------------------------------------------------------------------------------------
# sizes
# --------------------------------------------------------------------------------------
@dataclass
class Sizes:
    n: int = 300  # timed iterations per side for each latency row
    warmup: int = 20
    block: int = 10
    sessions: int = 1000  # sessions under sustained load
    turns: int = 3  # invokes per session under sustained load
    concurrency: int = 16  # concurrent clients (HTTP keep-alive connections / asyncio tasks)


QUICK = dict(n=60, warmup=5, block=5, sessions=200, turns=2, concurrency=16)


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, Sizes]:
    d = Sizes()
    p = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--quick", action="store_true", help=f"smoke run (< 60 s): {QUICK}")
    p.add_argument("--n", type=int, help=f"timed iterations per latency row (default {d.n})")
    p.add_argument("--warmup", type=int, help=f"warm-up iterations (default {d.warmup})")
    p.add_argument("--block", type=int, help=f"iterations per alternating block ({d.block})")
    p.add_argument("--sessions", type=int, help=f"sessions under load (default {d.sessions})")
    p.add_argument("--turns", type=int, help=f"invokes per session under load ({d.turns})")
    p.add_argument("--concurrency", type=int, help=f"concurrent clients ({d.concurrency})")
    p.add_argument(
        "--only", choices=("latency", "load"), default=None, help="run only one of the two parts"
    )
    p.add_argument("--tmpdir", default=None, help="where the temporary folder is made")
    p.add_argument("--keep", action="store_true", help="keep the databases and server log")
    p.add_argument("--out", default=str(HERE / "results" / "http.json"), help="JSON results")
    args = p.parse_args(argv)
    sizes = Sizes(**(QUICK if args.quick else {}))  # type: ignore[arg-type]
    for name in ("n", "warmup", "block", "sessions", "turns", "concurrency"):
        value = getattr(args, name)
        if value is not None:
            setattr(sizes, name, value)
    if min(sizes.n, sizes.block, sizes.sessions, sizes.turns, sizes.concurrency) < 1:
        p.error("sizes must be >= 1")
    return args, sizes


# --------------------------------------------------------------------------------------
# statistics
# --------------------------------------------------------------------------------------
def summarize(samples_ns: list[int]) -> dict[str, Any]:
    return _stats.summarize(samples_ns, "p50_ms")


# --------------------------------------------------------------------------------------
# the server process
# --------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``python -m graph_sessions.server`` on a free port with a config serving our graphs."""

    def __init__(
        self, tmp: Path, graphs: dict[str, str] | None = None, backend: str | None = None
    ) -> None:
        """Start it; ``graphs`` (id -> reference) defaults to this file's trivial and ask,
        ``backend`` to a SQLite file in ``tmp``."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        me = Path(__file__).resolve()
        config = {
            "graphs": graphs or {"trivial": f"{me}:trivial", "ask": f"{me}:ask"},
            "graph_sessions": {"backend": backend or f"sqlite:///{tmp / 'server.db'}"},
        }
        self.config = tmp / "langgraph.json"
        self.config.write_text(json.dumps(config))
        self.log = tmp / "server.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRAPH_SESSIONS_")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "graph_sessions.server", "--config", str(self.config)]
            + ["--port", str(self.port)],
            env=env,
            cwd=tmp,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError("server did not become ready")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --------------------------------------------------------------------------------------
# the in-process sides
# --------------------------------------------------------------------------------------
async def open_raw(path: Path, builder: Callable[[], StateGraph]) -> tuple[Any, Any]:
    conn = await aiosqlite.connect(str(path), isolation_level=None, check_same_thread=False)
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "busy_timeout=10000",
        "temp_store=MEMORY",
    ):
        await conn.execute(f"PRAGMA {pragma}")
    saver = AsyncSqliteSaver(conn)
    await saver.setup()
    return conn, builder().compile(checkpointer=saver)


def cfg(thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id}}


def new_id() -> str:
    return uuid.uuid4().hex


# --------------------------------------------------------------------------------------
# measurements
# --------------------------------------------------------------------------------------
@dataclass
class Row:
    label: str
    http: dict[str, Any]
    manager: dict[str, Any] | None
    raw: dict[str, Any] | None
    note: str = ""


async def first_event_ns(
    client: httpx.AsyncClient, path: str, body: dict[str, Any]
) -> tuple[int, int]:
    """(ns to the `start` event, ns to the first graph event) of one stream, read to its end."""
    t0 = time.perf_counter_ns()
    start_ns = first_ns = 0
    async with client.stream("POST", path, json=body) as r:
        if r.status_code != 200:
            raise RuntimeError(f"stream answered {r.status_code}: {await r.aread()!r}")
        event = None
        async for line in r.aiter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
                now = time.perf_counter_ns()
                if event == "start" and not start_ns:
                    start_ns = now - t0
                elif event not in ("start", "result", "error") and not first_ns:
                    first_ns = now - t0
                if event == "error":
                    raise RuntimeError("stream ended with an error event")
    return start_ns, first_ns


async def measure_row(
    rows: list[Row], sizes: Sizes, step: str, label: str, ops: dict[str, Op], note: str = ""
) -> None:
    """Time ``ops`` (``http``, ``manager`` and optionally ``raw``) interleaved; add their row."""
    print(f"[{step}]", flush=True)
    out = await interleaved_many(ops, sizes.n, sizes.warmup, sizes.block)
    raw = summarize(out["raw"]) if "raw" in out else None
    rows.append(Row(label, summarize(out["http"]), summarize(out["manager"]), raw, note))


async def latency_rows(sizes: Sizes, client: httpx.AsyncClient, tmp: Path, rows: list[Row]) -> None:
    m_trivial = GraphSessionManager(graph=trivial_builder(), backend=f"sqlite:///{tmp / 'm1.db'}")
    m_ask = GraphSessionManager(graph=ask_builder(), backend=f"sqlite:///{tmp / 'm2.db'}")
    raw_conn, raw_trivial = await open_raw(tmp / "raw1.db", trivial_builder)
    raw_conn2, raw_ask = await open_raw(tmp / "raw2.db", ask_builder)
    await m_trivial.open()
    await m_ask.open()
    try:
        # create ------------------------------------------------------------------------
        async def http_create(i: int) -> int:
            t = time.perf_counter_ns()
            r = await client.post("/sessions", json={"graph_id": "trivial", "metadata": {"i": i}})
            dt = time.perf_counter_ns() - t
            assert r.status_code == 201, r.text
            return dt

        async def m_create(i: int) -> int:
            t = time.perf_counter_ns()
            await m_trivial.create(metadata={"i": i})
            return time.perf_counter_ns() - t

        await measure_row(
            rows,
            sizes,
            "create",
            "create (POST /sessions)",
            {"http": http_create, "manager": m_create},
            "raw LangGraph has no session registry",
        )

        # invoke, new session -----------------------------------------------------------
        async def http_invoke(i: int) -> int:
            sid = new_id()
            t = time.perf_counter_ns()
            r = await client.post(
                f"/sessions/{sid}/invoke", json={"input": {"value": i}, "graph_id": "trivial"}
            )
            dt = time.perf_counter_ns() - t
            assert r.status_code == 200 and r.json()["status"] == "complete", r.text
            return dt

        async def m_invoke(i: int) -> int:
            sid = new_id()
            t = time.perf_counter_ns()
            session = await m_trivial.get_or_create(sid)
            await session.invoke({"value": i})
            return time.perf_counter_ns() - t

        async def raw_invoke(i: int) -> int:
            sid = new_id()
            t = time.perf_counter_ns()
            await raw_trivial.ainvoke({"value": i}, cfg(sid), durability="async")
            return time.perf_counter_ns() - t

        await measure_row(
            rows,
            sizes,
            "invoke",
            "invoke, new session (POST /sessions/{id}/invoke)",
            {"http": http_invoke, "manager": m_invoke, "raw": raw_invoke},
            "manager side: get_or_create + invoke (what the route does)",
        )

        # resume ------------------------------------------------------------------------
        async def http_resume(i: int) -> int:
            sid = new_id()
            r = await client.post(
                f"/sessions/{sid}/invoke", json={"input": {"question": "q"}, "graph_id": "ask"}
            )
            assert r.json()["status"] == "interrupted", r.text
            t = time.perf_counter_ns()
            r = await client.post(f"/sessions/{sid}/resume", json={"value": f"a{i}"})
            dt = time.perf_counter_ns() - t
            assert r.status_code == 200 and r.json()["result"]["state"]["answer"] == f"a{i}", r.text
            return dt

        async def m_resume(i: int) -> int:
            session = await m_ask.create()
            await session.invoke({"question": "q"})
            t = time.perf_counter_ns()
            session = await m_ask.get(session.session_id)
            assert session is not None
            res = await session.resume(f"a{i}")
            dt = time.perf_counter_ns() - t
            assert res is not None and res.state["answer"] == f"a{i}"
            return dt

        async def raw_resume(i: int) -> int:
            sid = new_id()
            await raw_ask.ainvoke({"question": "q"}, cfg(sid), durability="async")
            t = time.perf_counter_ns()
            out = await raw_ask.ainvoke(Command(resume=f"a{i}"), cfg(sid), durability="async")
            dt = time.perf_counter_ns() - t
            assert out["answer"] == f"a{i}"
            return dt

        await measure_row(
            rows,
            sizes,
            "resume",
            "resume (POST /sessions/{id}/resume)",
            {"http": http_resume, "manager": m_resume, "raw": raw_resume},
            "manager side: get + resume (what the route does)",
        )

        # stream first event -------------------------------------------------------------
        start_samples: list[int] = []

        async def http_stream(i: int) -> int:
            sid = new_id()
            start, first = await first_event_ns(
                client,
                f"/sessions/{sid}/stream",
                {"input": {"value": i}, "graph_id": "trivial", "mode": "updates"},
            )
            if i >= 0:
                start_samples.append(start)
            return first

        async def m_stream(i: int) -> int:
            sid = new_id()
            t = time.perf_counter_ns()
            session = await m_trivial.get_or_create(sid)
            first = 0
            async for _ in session.stream({"value": i}, mode="updates"):
                first = first or time.perf_counter_ns() - t
            return first

        async def raw_stream(i: int) -> int:
            sid = new_id()
            t = time.perf_counter_ns()
            first = 0
            async for _ in raw_trivial.astream(
                {"value": i}, cfg(sid), stream_mode="updates", durability="async"
            ):
                first = first or time.perf_counter_ns() - t
            return first

        await measure_row(
            rows,
            sizes,
            "stream",
            "stream: first graph event (POST /sessions/{id}/stream, updates)",
            {"http": http_stream, "manager": m_stream, "raw": raw_stream},
        )
        rows.append(
            Row(
                "stream: `start` event (headers + first SSE event)",
                summarize(start_samples),
                None,
                None,
            )
        )
    finally:
        await m_trivial.close()
        await m_ask.close()
        await raw_conn.close()
        await raw_conn2.close()


@dataclass
class Load:
    side: str
    invokes: int
    errors: int
    seconds: float
    per_s: float
    latency: dict[str, Any]
    error_samples: list[str]


async def run_load(
    side: str, sizes: Sizes, call: Callable[[str, int], Awaitable[None]], ids: list[str]
) -> Load:
    """``concurrency`` workers take (session, turn) jobs round-robin: turn t of every session
    before turn t+1 of any, so one session never has two runs at once."""
    jobs: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
    for turn in range(sizes.turns):
        for sid in ids:
            jobs.put_nowait((sid, turn))
    samples: list[int] = []
    errors: list[str] = []

    async def worker() -> None:
        while True:
            try:
                sid, turn = jobs.get_nowait()
            except asyncio.QueueEmpty:
                return
            t = time.perf_counter_ns()
            try:
                await call(sid, turn)
                samples.append(time.perf_counter_ns() - t)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:200])

    gc.collect()
    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(sizes.concurrency)))
    seconds = time.perf_counter() - t0
    n = len(samples)
    return Load(side, n, len(errors), seconds, n / seconds, summarize(samples), errors[:5])


class KeepAlivePool:
    """A minimal HTTP/1.1 keep-alive client (asyncio streams, Content-Length bodies only), so
    that under load the client's own CPU cost (httpx: ~1 ms a request) does not starve the
    server it shares the cores with. One connection per worker."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.free: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        conn = self.free.pop() if self.free else await asyncio.open_connection(self.host, self.port)
        reader, writer = conn
        payload = json.dumps(body).encode()
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        data = await reader.readexactly(length)
        self.free.append(conn)
        return status, data

    async def close(self) -> None:
        for _, writer in self.free:
            writer.close()
        self.free.clear()


async def load_rows(sizes: Sizes, url: str, tmp: Path) -> list[Load]:
    out: list[Load] = []
    host, port = url.removeprefix("http://").split(":")
    pool = KeepAlivePool(host, int(port))
    try:
        ids = [f"load-{i}-{new_id()[:8]}" for i in range(sizes.sessions)]

        async def http_call(sid: str, turn: int) -> None:
            status, data = await pool.post(
                f"/sessions/{sid}/invoke",
                {"input": {"value": turn}, "graph_id": "trivial", "multitask": "reject"},
            )
            if status != 200:
                raise RuntimeError(f"HTTP {status}: {data[:120]!r}")
            if len(json.loads(data)["state"]["log"]) != turn + 1:
                raise RuntimeError("wrong state")

        print(f"[load: http, {sizes.sessions} sessions x {sizes.turns}]", flush=True)
        out.append(await run_load("http", sizes, http_call, ids))
    finally:
        await pool.close()

    manager = GraphSessionManager(graph=trivial_builder(), backend=f"sqlite:///{tmp / 'load.db'}")
    async with manager:
        ids = [f"load-{i}" for i in range(sizes.sessions)]

        async def m_call(sid: str, turn: int) -> None:
            session = await manager.get_or_create(sid)
            res = await session.invoke({"value": turn}, multitask="reject")
            if len(res.state["log"]) != turn + 1:
                raise RuntimeError("wrong state")

        print("[load: manager]", flush=True)
        out.append(await run_load("manager", sizes, m_call, ids))

    conn, raw = await open_raw(tmp / "load-raw.db", trivial_builder)
    try:

        async def raw_call(sid: str, turn: int) -> None:
            res = await raw.ainvoke({"value": turn}, cfg(sid), durability="async")
            if len(res["log"]) != turn + 1:
                raise RuntimeError("wrong state")

        print("[load: raw LangGraph]", flush=True)
        out.append(await run_load("raw", sizes, raw_call, ids))
    finally:
        await conn.close()
    return out


# --------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------
def fmt(x: float) -> str:
    return f"{x:.2f}" if x < 100 else f"{x:.0f}"


def ratio(a: dict[str, Any] | None, b: dict[str, Any] | None, key: str) -> str:
    return f"{a[key] / b[key]:.2f}x" if a and b and b[key] else "—"


def markdown(rows: list[Row], loads: list[Load], env: dict[str, Any], sizes: Sizes) -> str:
    lines = [
        f"graph-sessions HTTP benchmark — {env['when']}, {env['mode']} run, "
        f"{env['cpus']} CPUs, Python {env['python']}, load avg {env['loadavg_start']} → "
        f"{env.get('loadavg_end', '?')}, server {env.get('server_http', '?')}",
        "",
        "Latency, sequential over one keep-alive connection, httpx client (ms; ratio on p50):",
        "",
        "| operation | HTTP p50 | HTTP p99 | manager p50 | manager p99 | raw p50 | raw p99 "
        "| HTTP ÷ manager | HTTP ÷ raw |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        m, w = r.manager, r.raw
        lines.append(
            f"| {r.label} | {fmt(r.http['p50_ms'])} | {fmt(r.http['p99_ms'])} | "
            f"{fmt(m['p50_ms']) if m else '—'} | {fmt(m['p99_ms']) if m else '—'} | "
            f"{fmt(w['p50_ms']) if w else '—'} | {fmt(w['p99_ms']) if w else '—'} | "
            f"{ratio(r.http, m, 'p50_ms')} | {ratio(r.http, w, 'p50_ms')} |"
        )
    lines += [
        "",
        f"Sustained load: {sizes.sessions:,} concurrent sessions x {sizes.turns} invokes each, "
        f"over {sizes.concurrency} keep-alive connections ({sizes.concurrency} requests in "
        "flight; in-process sides: as many asyncio tasks). Target: zero errors, p99 < 250 ms.",
        "",
        "| side | sessions | connections | invokes | errors | seconds | invokes/s | p50 ms "
        "| p99 ms | target |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for ld in loads:
        target = "—"
        if ld.side == "http":
            ok = ld.errors == 0 and ld.latency["p99_ms"] < 250
            target = ("PASS" if ok else "MISS") + " (0 errors, p99 < 250 ms)"
        conns = str(sizes.concurrency) if ld.side == "http" else "—"
        lines.append(
            f"| {ld.side} | {sizes.sessions:,} | {conns} | {ld.invokes:,} | {ld.errors} | "
            f"{ld.seconds:.1f} | {ld.per_s:.0f} | "
            f"{fmt(ld.latency['p50_ms'])} | {fmt(ld.latency['p99_ms'])} | {target} |"
        )
    by = {ld.side: ld for ld in loads}
    if "http" in by and "manager" in by and "raw" in by:
        lines += [
            "",
            f"Throughput ratio: HTTP ÷ manager = {by['http'].per_s / by['manager'].per_s:.2f}, "
            f"HTTP ÷ raw LangGraph = {by['http'].per_s / by['raw'].per_s:.2f}.",
        ]
    if "http" in by and by["http"].per_s:
        wait = sizes.concurrency / by["http"].per_s * 1000
        lines += [
            "",
            f"Connections = requests in flight; by Little's law the mean HTTP latency is about "
            f"{sizes.concurrency} / {by['http'].per_s:.0f} invokes/s = {wait:.0f} ms. "
            f"{sizes.concurrency} connections saturate the cores with a short queue; one per "
            f"session ({sizes.sessions:,}) would mean ~{sizes.sessions / by['http'].per_s:.1f} s "
            "of queueing whatever the server (see the module docstring; --concurrency to vary).",
        ]
        for err in by["http"].error_samples:
            lines.append(f"- error sample: {err}")
    return "\n".join(lines)


def _server_impl() -> str:
    """The HTTP parser and event loop uvicorn picks ("auto") in this interpreter, which the
    server process shares: httptools and uvloop when ``uvicorn[standard]`` is installed."""

    def importable(name: str) -> bool:
        try:
            __import__(name)
        except ImportError:
            return False
        return True

    http = "httptools" if importable("httptools") else "h11"
    loop = "uvloop" if importable("uvloop") and sys.platform != "win32" else "asyncio"
    return f"uvicorn {http} + {loop}"


def environment(args: argparse.Namespace, sizes: Sizes) -> dict[str, Any]:
    versions = package_versions(
        ("graph-sessions", "langgraph", "fastapi", "uvicorn", "httpx", "sse-starlette")
    )
    return {
        "server_http": _server_impl(),
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "mode": "quick" if args.quick else "full",
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "versions": versions,
        "sizes": asdict(sizes),
        "loadavg_start": loadavg(),
    }


async def run(
    sizes: Sizes, tmp: Path, server: Server, only: str | None
) -> tuple[list[Row], list[Load]]:
    rows: list[Row] = []
    loads: list[Load] = []
    if only in (None, "latency"):
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            await latency_rows(sizes, client, tmp, rows)
    if only in (None, "load"):
        loads = await load_rows(sizes, server.url, tmp)
    return rows, loads


def main(argv: list[str] | None = None) -> int:
    args, sizes = parse_args(argv)
    env = environment(args, sizes)
    tmp = Path(tempfile.mkdtemp(prefix="gs-bench-http-", dir=args.tmpdir))
    started = time.perf_counter()
    print(f"graph-sessions HTTP benchmark ({env['mode']}), files in {tmp}", flush=True)
    server = Server(tmp)
    code = 0
    try:
        server.wait_ready()
        rows, loads = asyncio.run(run(sizes, tmp, server, args.only))
    except BaseException as exc:
        print(f"benchmark failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        print(server.log.read_text()[-3000:] if server.log.exists() else "", file=sys.stderr)
        code = 1
    finally:
        server.stop()
    if code:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        return code
    env["loadavg_end"] = loadavg()
    env["wall_s"] = round(time.perf_counter() - started, 1)
    table = markdown(rows, loads, env, sizes)
    print()
    print(table)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "environment": env,
                "latency": [asdict(r) for r in rows],
                "load": [asdict(ld) for ld in loads],
                "markdown": table,
            },
            indent=2,
        )
    )
    print(f"\nwrote {out} (wall {env['wall_s']} s)")
    if args.keep:
        print(f"kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
