"""The export streams: its peak memory does not grow with the number of sessions (each
export runs in its own process, so ``ru_maxrss`` is its own). ``benchmarks/bench_transfer.py``
measures the same at 1,000 / 10,000 / 100,000 sessions."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from support.graphs import chat_graph
from support.paths import subprocess_env

from graph_sessions import GraphSessionManager
from graph_sessions.core.transfer import export_backend, import_lines
from graph_sessions.core.transfer.format import dump_line, header

CHILD = """
import asyncio, resource, sys
from graph_sessions.core.transfer import export_backend
from graph_sessions.storage import backend_from_url

async def main():
    b = backend_from_url(sys.argv[1])
    await b.open()
    with open(sys.argv[2], "wb") as out:
        report = await export_backend(b, out.write, source="x", sessions_only=True)
    await b.close()
    return report.sessions

n = asyncio.run(main())
print(n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


async def _template() -> dict:
    async with GraphSessionManager(chat_graph(), "memory://", sweep_interval=None) as m:
        s = await m.create("T")
        for i in range(3):
            await s.invoke({"user_input": f"turn {i} " + "x" * 1000})
        lines: list[bytes] = []
        await export_backend(m.backend, lines.append, source="x", sessions_only=True)
    return orjson.loads(lines[1])


def _clones(doc: dict, n: int) -> Iterator[bytes]:
    """The file's lines, made one at a time (this process stays small: a child process
    starts from its parent's peak RSS)."""
    yield dump_line(header("test"))
    for i in range(n):
        sid = f"s{i:06d}"
        doc["session"]["session_id"] = sid
        for r in doc["runs"]:
            r["run_id"] = f"{sid}-{r['run_id'][-12:]}"
        yield dump_line(doc)


def _peak_kb(url: str, out: Path) -> tuple[int, int]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, url, str(out)],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        check=True,
    )
    n, kb = done.stdout.split()
    return int(n), int(kb)


@pytest.mark.slow
async def test_export_memory_does_not_grow_with_the_session_count(tmp_path: Path) -> None:
    doc = await _template()
    peaks = {}
    for n in (300, 3000):
        url = f"sqlite:///{tmp_path / f'{n}.db'}"
        async with GraphSessionManager(None, url, sweep_interval=None) as m:
            report = await import_lines(m.backend, _clones(doc, n))
            assert report.imported == {"session": n}
        exported, kb = _peak_kb(url, tmp_path / f"{n}.jsonl")
        assert exported == n
        peaks[n] = kb
    size = (tmp_path / "3000.jsonl").stat().st_size
    # ten times the sessions (a file of ~size bytes): the peak grows by far less than the
    # file (an export holding every line would grow by about its size)
    assert size > 100 * 2**20, size
    assert peaks[3000] - peaks[300] < 8 * 1024, json.dumps(peaks)
