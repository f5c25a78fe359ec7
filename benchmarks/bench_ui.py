"""Web inspector benchmark: time to the first rows of the sessions list over 100,000 sessions,
and the gzipped size of what /ui ships.

    python benchmarks/bench_ui.py                 # 100,000 sessions, 5 page loads
    python benchmarks/bench_ui.py --sessions 5000 --loads 3   # a smoke run

Method:

* A SQLite file gets ``--sessions`` registry rows (default 100,000) by ``executemany`` with
  the backend's own column encoding (``to_column``), as bench_core.py fills its list
  benchmark: the schema is made by opening a manager once; the rows then go in bulk while no
  manager has the file open. Statuses are mixed (mostly completed, some failed, interrupted,
  created), spread over 20 owners, updated one after the other 10 ms apart.
* ``python -m graph_sessions.server`` serves that file with one admin API key.
* Debian's Chromium (headless, Playwright) opens ``/ui/``, signs in with the key, then loads
  ``/ui/#/sessions`` ``--loads`` times, each a full navigation with the browser cache off.
  The list marks ``graph-sessions:first-rows`` (``performance.mark``) when its table first
  shows rows; that mark's ``startTime`` is the time from navigation start to the first row
  (the module scripts load, ``/stats``, ``/graphs``, the newest session, then the page of 50
  sorted by ``updated_at``).
* The shipped size is the sum over every file under ``src/graph_sessions/ui/static`` of its
  gzip (level 6, what servers and CDNs commonly use) and its raw size.

Prints a Markdown table and writes ``benchmarks/results/ui.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import platform
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
try:
    import graph_sessions  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT / "src"))

import asyncio  # noqa: E402

import httpx  # noqa: E402
from langgraph.graph import END, START, StateGraph  # noqa: E402
from typing_extensions import TypedDict  # noqa: E402

from graph_sessions import GraphSessionManager, SessionInfo, SessionStatus  # noqa: E402
from graph_sessions.storage.sqlite import SESSION_COLUMNS  # noqa: E402
from graph_sessions.storage.sqlite.rows import to_column  # noqa: E402
from graph_sessions.ui import ASSETS  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
KEY = "bench-ui-admin-key-0001"
MARK = "graph-sessions:first-rows"


class State(TypedDict, total=False):
    value: int


def _builder() -> StateGraph:
    def node(state: State) -> dict[str, Any]:
        return {"value": 1}

    b = StateGraph(State)
    b.add_node("node", node)
    b.add_edge(START, "node")
    b.add_edge("node", END)
    return b


#: the graph the server serves (``bench_ui.py:graph``)
graph = _builder()


def fill(path: Path, n: int, seed: int = 7) -> float:
    """Schema by a manager, then ``n`` rows by executemany; seconds taken."""
    t0 = time.perf_counter()

    async def schema() -> None:
        m = GraphSessionManager(graph=_builder(), backend=f"sqlite:///{path}", graph_id="bench")
        await m.open()
        await m.close()

    asyncio.run(schema())
    rng = random.Random(seed)
    statuses = [
        SessionStatus.COMPLETED,
        SessionStatus.FAILED,
        SessionStatus.INTERRUPTED,
        SessionStatus.CREATED,
    ]
    columns = SESSION_COLUMNS.replace(" ", "").split(",")
    base = datetime.now(UTC) - timedelta(days=30)
    rows = []
    for i in range(n):
        at = base + timedelta(milliseconds=10 * i)
        status = rng.choices(statuses, [70, 5, 10, 15])[0]
        info = SessionInfo(
            session_id=f"s-{i:07d}",
            graph_id="bench",
            owner=f"user-{i % 20:02d}",
            status=status,
            metadata={"plan": rng.choice(["free", "pro"]), "n": i},
            created_at=at,
            updated_at=at,
            run_count=0 if status == SessionStatus.CREATED else 1,
            last_error="RuntimeError: boom" if status == SessionStatus.FAILED else None,
        )
        rows.append(tuple(to_column(c, getattr(info, c)) for c in columns))
    conn = sqlite3.connect(str(path))
    try:
        with conn:
            conn.executemany(
                f"INSERT INTO sessions ({SESSION_COLUMNS}) "
                f"VALUES ({', '.join('?' * len(columns))})",
                rows,
            )
    finally:
        conn.close()
    return time.perf_counter() - t0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(tmp: Path, db: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    config = {
        "graphs": {"bench": f"{Path(__file__).resolve()}:graph"},
        "graph_sessions": {"backend": f"sqlite:///{db}"},
    }
    (tmp / "langgraph.json").write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRAPH_SESSIONS_")}
    env["GRAPH_SESSIONS_API_KEYS"] = f"{KEY}:root:admin"
    proc = subprocess.Popen(
        [sys.executable, "-m", "graph_sessions.server", "--config", str(tmp / "langgraph.json")]
        + ["--port", str(port)],
        env=env,
        cwd=tmp,
        stdout=(tmp / "server.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError((tmp / "server.log").read_text()[-2000:])
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return proc, url
        time.sleep(0.1)
    raise RuntimeError("server did not become ready")


def first_rows_ms(url: str, loads: int) -> list[float]:
    """Navigation start → first row of the list, ms, for each of ``loads`` page loads."""
    from playwright.sync_api import sync_playwright

    out: list[float] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 860})
            page = context.new_page()
            cdp = context.new_cdp_session(page)
            cdp.send("Network.enable")
            cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
            page.goto(f"{url}/ui/#/signin")
            page.fill("#credential", KEY)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_selector("#session-rows tr[data-session]", timeout=120_000)
            for _ in range(loads):
                page.goto("about:blank")
                page.goto(f"{url}/ui/#/sessions")
                page.wait_for_selector("#session-rows tr[data-session]", timeout=120_000)
                mark = page.evaluate(
                    "name => performance.getEntriesByName(name).map(e => e.startTime)", MARK
                )
                rows = page.eval_on_selector_all("#session-rows tr[data-session]", "r => r.length")
                if not mark or rows != 50:
                    raise RuntimeError(f"no first-rows mark ({mark}) or not 50 rows ({rows})")
                out.append(float(mark[0]))
        finally:
            browser.close()
    return out


#: the requests the list makes before its first rows, in its order
LIST_REQUESTS = {
    "GET /stats": ("/stats", {}),
    "GET /graphs": ("/graphs", {}),
    "GET /sessions newest 1": ("/sessions", {"sort": "updated_at", "order": "desc", "limit": 1}),
    "GET /sessions page of 50": ("/sessions", {"sort": "updated_at", "order": "desc", "limit": 50}),
}


def request_ms(url: str, n: int = 5) -> dict[str, float]:
    """Median ms of each request the list makes first (httpx, keep-alive, ``n`` each)."""
    out = {}
    with httpx.Client(base_url=url, headers={"X-Api-Key": KEY}) as c:
        for name, (path, params) in LIST_REQUESTS.items():
            samples = []
            for _ in range(n):
                t0 = time.perf_counter()
                c.get(path, params=params).raise_for_status()
                samples.append((time.perf_counter() - t0) * 1000)
            out[name] = statistics.median(samples)
    return out


def asset_sizes() -> dict[str, int]:
    raw = gz = files = 0
    for path in sorted(p for p in ASSETS.rglob("*") if p.is_file()):
        data = path.read_bytes()
        raw += len(data)
        gz += len(gzip.compress(data, compresslevel=6, mtime=0))
        files += 1
    return {"files": files, "raw_bytes": raw, "gzip_bytes": gz}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sessions", type=int, default=100_000)
    p.add_argument("--loads", type=int, default=5)
    args = p.parse_args()
    sizes = asset_sizes()
    with tempfile.TemporaryDirectory(prefix="bench-ui-") as folder:
        tmp = Path(folder)
        db = tmp / "ui.db"
        fill_s = fill(db, args.sessions)
        print(f"filled {args.sessions} sessions in {fill_s:.1f} s", flush=True)
        proc, url = start_server(tmp, db)
        try:
            with httpx.Client(base_url=url, headers={"X-Api-Key": KEY}) as c:
                total = c.get("/stats").json()["total"]
            assert total == args.sessions, total
            times = first_rows_ms(url, args.loads)
            requests = request_ms(url)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    result = {
        "sessions": args.sessions,
        "first_rows_ms": times,
        "first_rows_median_ms": statistics.median(times),
        "assets": sizes,
        "requests_median_ms": requests,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "loadavg": os.getloadavg(),
    }
    print()
    print(f"| {args.sessions:,} sessions (SQLite) | value |")
    print("| --- | --- |")
    print(
        f"| time to first list rows, median of {len(times)} loads | "
        f"{result['first_rows_median_ms']:.0f} ms (each: {', '.join(f'{t:.0f}' for t in times)}) |"
    )
    print(
        f"| shipped assets, gzip -6 | {sizes['gzip_bytes']:,} bytes "
        f"({sizes['files']} files, {sizes['raw_bytes']:,} raw) |"
    )
    for name, ms in requests.items():
        print(f"| {name} (httpx, median of 5) | {ms:.1f} ms |")
    out = HERE / "results" / "ui.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
