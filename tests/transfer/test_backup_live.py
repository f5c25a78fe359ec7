"""``graph-sessions backup`` while a server writes in a loop: each copy opens, passes
``PRAGMA integrity_check``, and every session in it is consistent (its runs, checkpoints
and state agree)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from support.server import base_env, start_module_server
from support.server_graphs import work

from graph_sessions import GraphSessionManager
from graph_sessions.models import RunStatus, SessionStatus

EXE = str(Path(sys.executable).parent / "graph-sessions")


async def _check_copy(path: Path) -> int:
    """Every session of the copy is consistent; returns how many completed turns it holds."""
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    turns = 0
    async with GraphSessionManager({"work": work}, f"sqlite:///{path}", sweep_interval=None) as m:
        page = await m.list(limit=1000, include_expired=True)  # after the start-up repair
        assert page.sessions
        for info in page.sessions:
            s = await m.get(info.session_id)
            assert s is not None
            runs = await s.runs(limit=1000)
            done = [r for r in runs if r.status == RunStatus.SUCCESS]
            state = await s.get_state()
            history = {
                h.config["configurable"]["checkpoint_id"] for h in await s.state_history(limit=None)
            }
            # every finished run's checkpoint is in the copy, and the state holds its turn
            for r in done:
                assert r.checkpoint_after in history
            # a run caught mid-way by the snapshot was repaired when the copy was opened
            # (its process is gone): no session stays running, none lost a finished turn
            assert info.status != SessionStatus.RUNNING
            # the state holds every finished turn; a turn caught after its checkpoint but
            # before its run's end was recorded is in the state too, its run repaired
            repaired = [r for r in runs if r.status == RunStatus.ERROR]
            assert len(repaired) <= 1, info.session_id
            assert len(done) <= len(state.get("log", [])) <= len(done) + len(repaired), (
                info.session_id
            )
            turns += len(done)
    return turns


@pytest.mark.slow
async def test_backup_while_a_server_writes(tmp_path: Path) -> None:
    server = start_module_server(tmp_path / "srv")
    db = tmp_path / "srv" / "sessions.db"
    stop = threading.Event()
    written: list[int] = []
    errors: list[str] = []

    def writer() -> None:
        with server.client() as client:
            i = 0
            while not stop.is_set():
                sid = f"s{i % 40}"
                r = client.post(f"/sessions/{sid}/invoke", json={"input": {"user_input": f"t{i}"}})
                if r.status_code != 200:
                    errors.append(f"{r.status_code} {r.text}")
                written.append(i)
                i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 30:
            time.sleep(0.05)
        counts = []
        for n in range(3):
            copy = tmp_path / f"copy{n}.db"
            before = len(written)
            done = subprocess.run(
                [EXE, "backup", "--backend", f"sqlite:///{db}", str(copy)],
                env=base_env(),
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 0, done.stderr
            assert "integrity ok" in done.stdout
            counts.append((before, len(written)))
            time.sleep(0.3)
    finally:
        stop.set()
        thread.join(timeout=60)
        server.stop()
    assert not errors, errors[:3]
    for n, (before, after) in enumerate(counts):
        assert after > before or n == 0  # the server kept writing while copies were taken
        turns = await _check_copy(tmp_path / f"copy{n}.db")
        assert turns >= min(before, 40) - 1
    assert len(written) > counts[0][0]
