"""``graph-sessions rekey`` as a process while a server (keys ``new,old``) serves turns of
100 sessions written under ``old``: no acknowledged turn is lost, everything opens with the
new key alone afterwards, and the file (and its WAL) holds nothing sealed with ``old``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import defaultdict
from pathlib import Path

import pytest
from support.paths import subprocess_env
from support.server import start_module_server
from support.server_graphs import work
from test_rekey import NEW, OLD, holds_key

from graph_sessions import GraphSessionManager
from graph_sessions.crypto import ENCRYPTION_KEY_VARIABLE

EXE = str(Path(sys.executable).parent / "graph-sessions")
SESSIONS = 100
THREADS = 8


def file_bytes(db: Path) -> bytes:
    return b"".join(
        Path(str(db) + s).read_bytes() for s in ("", "-wal") if Path(str(db) + s).exists()
    )


@pytest.mark.slow
async def test_rekey_while_100_sessions_are_invoked(tmp_path: Path) -> None:
    folder = tmp_path / "srv"
    folder.mkdir()
    db = folder / "sessions.db"
    ids = [f"s{i:03d}" for i in range(SESSIONS)]
    async with GraphSessionManager({"work": work}, f"sqlite:///{db}", encryption_key=OLD) as m:
        for sid in ids:
            session = await m.create(sid, owner=None, metadata={"email": f"{sid}@example.com"})
            await session.invoke({"user_input": f"{sid}-before"})
            await session.messages.append("user", f"{sid} transcript", data={"n": 1})
    assert holds_key(file_bytes(db), "old")

    server = start_module_server(folder, env={ENCRYPTION_KEY_VARIABLE: f"{NEW},{OLD}"})
    acked: dict[str, list[str]] = defaultdict(list)
    errors: list[str] = []
    stop = threading.Event()
    rekey_done = threading.Event()
    turned_after: set[str] = set()

    def invoker(mine: list[str]) -> None:
        with server.client() as client:
            n = 0
            while not stop.is_set():
                for sid in mine:
                    text = f"{sid}-{n}"
                    after = rekey_done.is_set()
                    r = client.post(f"/sessions/{sid}/invoke", json={"input": {"user_input": text}})
                    if r.status_code == 200:
                        acked[sid].append(text)
                        if after:
                            turned_after.add(sid)
                    else:
                        errors.append(f"{sid} {r.status_code} {r.text[:200]}")
                n += 1

    threads = [threading.Thread(target=invoker, args=(ids[i::THREADS],)) for i in range(THREADS)]
    for t in threads:
        t.start()
    try:
        while sum(map(len, acked.values())) < 40 and not errors:
            await _sleep(0.1)
        before = sum(map(len, acked.values()))
        env = subprocess_env({**os.environ, ENCRYPTION_KEY_VARIABLE: f"{NEW},{OLD}"})
        proc = subprocess.run(
            [EXE, "rekey", "--backend", f"sqlite:///{db}", "--batch", "5", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        during = sum(map(len, acked.values()))
        rekey_done.set()
        assert proc.returncode == 0, proc.stderr
        report = json.loads(proc.stdout)
        print("rekey under load:", report, "turns served before it ended:", during)
        for kind in ("sessions", "events", "messages", "checkpoint values"):  # no run failed
            assert report["kinds"][kind]["resealed"] > 0, (kind, report)
        # every session gets at least one turn after the rekey too
        while len(turned_after) < SESSIONS and not errors:
            await _sleep(0.1)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
        server.stop()
    assert not errors, errors[:5]
    assert during > before  # turns were served while the rekey ran
    stored = file_bytes(db)
    assert not holds_key(stored, "old") and holds_key(stored, "new")
    assert b"@example.com" not in stored
    async with GraphSessionManager({"work": work}, f"sqlite:///{db}", encryption_key=NEW) as m:
        for sid in ids:
            session = await m.get(sid)
            log = (await session.get_state())["log"]
            assert f"{sid}-before" in log
            missing = [t for t in acked[sid] if t not in log]
            assert not missing, (sid, missing)  # 0 lost turns
            assert (await m.info(sid)).metadata == {"email": f"{sid}@example.com"}
            assert (await session.messages.load())[0].content == f"{sid} transcript"
            events = await session.events(limit=1000)
            assert events and all("sealed" not in str(e.data) for e in events)


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)
