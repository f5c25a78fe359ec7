"""Crash safety: a process holding sessions is SIGKILLed; a new manager on the same SQLite
file must find every session it left running, repair it from its last checkpoint (never
leave it ``running``), keep what was committed, and let the session continue.

The worker is tests/support/crash_worker.py (its handle: support.crash.Worker), run with ``sys.executable``. It reports progress on
stdout; the slow graph's steps also append ``start:<step>`` to a marker file, and with
``durability="sync"`` seeing ``start:s<k>`` means steps s0..s<k-1> are checkpointed.
"""

from __future__ import annotations

import asyncio
import random
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from support.crash import DEADLINE, Worker, marker_starts
from support.crash_worker import marked_slow_graph
from support.db_tables import checkpoint_table
from support.graphs import approval_graph, chat_graph

from graph_sessions import EventType, GraphSessionManager, RunStatus, SessionBusy, SessionStatus

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def registry_row(db: Path, session_id: str) -> dict[str, Any]:
    """The session's registry row, read straight from the file, read-only."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM sessions WHERE session_id = ?", (session_id,)).fetchone()
    finally:
        conn.close()
    assert row is not None, f"no registry row for {session_id!r}"
    return dict(row)


def integrity_check(db: Path) -> str:
    conn = sqlite3.connect(str(db))
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def manager_on(
    db: Path, graph: Any, checkpointer: str = "auto", **kwargs: Any
) -> GraphSessionManager:
    kwargs.setdefault("sweep_interval", None)
    query = "" if checkpointer == "auto" else f"?checkpointer={checkpointer}"
    return GraphSessionManager(graph=graph, backend=f"sqlite:///{db}{query}", **kwargs)


ALL_STEPS = [f"s{i}:job" for i in range(4)]


async def test_sigkill_mid_run_is_repaired_and_the_session_continues(tmp_path: Path) -> None:
    db, marker = tmp_path / "sessions.db", tmp_path / "worker-steps.txt"
    with Worker(
        tmp_path, "slow", str(db), "job", "--steps", "4", "--delay", "0.3", "--marker", str(marker)
    ) as worker:
        worker.wait_line("invoking")
        worker.wait_for(
            lambda: "s2" in marker_starts(marker), "step s2 to start (s0 and s1 checkpointed)"
        )
        worker.kill()
    dead_pid = worker.pid
    row = registry_row(db, "job")
    assert row["status"] == "running", (
        "the killed process left the session running (nothing repaired it yet)"
    )
    assert f":{dead_pid}:" in row["lease_owner"]

    continuation = tmp_path / "continuation-steps.txt"
    async with manager_on(db, marked_slow_graph(4, continuation), durability="sync") as manager:
        assert manager.repaired == ["job"]
        info = await manager.info("job")
        assert info.status == SessionStatus.FAILED
        assert info.lease_owner is None
        assert info.last_error and "died" in info.last_error and str(dead_pid) in info.last_error
        session = await manager.get("job")
        assert session is not None

        runs = await session.runs()
        assert len(runs) == 1
        assert runs[0].status == RunStatus.ERROR
        assert runs[0].finished_at is not None
        assert runs[0].error and "died" in runs[0].error
        repaired = [e for e in await session.events(limit=1000) if e.type == EventType.REPAIRED]
        assert len(repaired) == 1
        assert repaired[0].run_id == runs[0].run_id
        assert repaired[0].data.get("status") == "failed"

        kept = (await session.get_state())["steps"]
        assert len(kept) >= 2, f"every step finished before the kill is kept, got {kept}"
        assert kept == ALL_STEPS[: len(kept)]

        result = await session.invoke(None)  # continue from the last checkpoint
        assert result.status == "complete"
        assert result.state["steps"] == ALL_STEPS
        assert (await session.get_state())["steps"] == ALL_STEPS
        # Only the steps that had not finished ran again, each once, in order.
        assert marker_starts(continuation) == [f"s{i}" for i in range(len(kept), 4)]
        info = await session.refresh()
        assert info.status == SessionStatus.COMPLETED
        assert info.last_error is None
        runs = await session.runs()
        assert [r.status for r in runs] == [RunStatus.SUCCESS, RunStatus.ERROR]
        assert await manager.count(status="running") == 0

    async with manager_on(db, marked_slow_graph(4)) as manager:  # nothing left to repair
        assert manager.repaired == []
        assert (await manager.info("job")).status == SessionStatus.COMPLETED


async def test_sigkill_of_a_process_idle_at_an_interrupt_keeps_the_interrupt(
    tmp_path: Path,
) -> None:
    db = tmp_path / "sessions.db"
    with Worker(tmp_path, "interrupt", str(db), "ask") as worker:
        assert worker.wait_line("interrupted") == "interrupted"
        worker.kill()

    async with manager_on(db, approval_graph()) as manager:
        assert manager.repaired == []
        session = await manager.get("ask")
        assert session is not None
        assert session.status == SessionStatus.INTERRUPTED
        assert len(session.info.interrupts) == 1
        assert session.info.interrupts[0]["value"]["message"] == "approve?"
        snapshot = await session.snapshot()
        assert snapshot is not None and snapshot.next == ["approve"]
        assert [i["id"] for i in snapshot.interrupts] == [i["id"] for i in session.info.interrupts]
        assert (await session.runs())[0].status == RunStatus.INTERRUPTED

        result = await session.invoke({"user_input": "yes"})  # answers the pending interrupt
        assert result.status == "complete"
        assert result.state["response"] == "sent"
        assert result.state["log"] == ["draft:hello", "answer:yes", "respond"]
        assert (await session.refresh()).status == SessionStatus.COMPLETED


@pytest.mark.slow
@pytest.mark.parametrize("attempt", [0, 1])
async def test_sigkill_during_a_burst_of_writes_loses_no_committed_turn(
    tmp_path: Path, attempt: int
) -> None:
    db = tmp_path / "sessions.db"
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    acks_before_kill = rng.randrange(10, 120)
    extra_sleep = rng.uniform(0.0, 0.05)
    context = f"(seed={seed}: killed after {acks_before_kill} acks + {extra_sleep:.3f}s)"
    sessions = [f"burst-{k}" for k in range(3)]

    with Worker(tmp_path, "burst", str(db), "--n-sessions", "3", "--count", "2000") as worker:
        worker.wait_line("ready")
        seen = 0
        while seen < acks_before_kill:
            line = worker.next_line(timeout=DEADLINE)
            assert line is not None, f"the worker stopped before {acks_before_kill} acks {context}"
            seen += line.startswith("ok ")
        time.sleep(extra_sleep)
        worker.kill()
    acked = {sid: 0 for sid in sessions}  # turns each session's invoke returned for
    for line in worker.lines:
        if line.startswith("ok "):
            _, sid, i = line.split()
            assert int(i) == acked[sid], f"acks out of order: {line} {context}"
            acked[sid] = int(i) + 1
    assert "burst-done" not in worker.lines, f"the burst finished before the kill {context}"

    assert integrity_check(db) == "ok", context
    async with manager_on(db, chat_graph()) as manager:
        assert set(manager.repaired) <= set(sessions), context
        assert await manager.count(status="running") == 0, context
        for sid in sessions:
            session = await manager.get(sid)
            assert session is not None, context
            assert session.status in (
                SessionStatus.COMPLETED,
                SessionStatus.FAILED,
                SessionStatus.CREATED,
            ), context
            turns = (await session.get_state()).get("turns", [])
            # A prefix of what was submitted, holding at least every acknowledged turn and at
            # most the one in flight when the process died.
            assert turns == [str(i) for i in range(len(turns))], f"{sid}: {turns[-5:]} {context}"
            assert acked[sid] <= len(turns) <= acked[sid] + 1, (
                f"{sid}: {len(turns)} turns, {acked[sid]} acked {context}"
            )
            runs = await session.runs(limit=10_000)
            assert RunStatus.RUNNING not in {r.status for r in runs}, f"{sid} {context}"
            assert acked[sid] <= sum(r.status == RunStatus.SUCCESS for r in runs) <= len(turns), (
                f"{sid} {context}"
            )
            if sid in manager.repaired:
                assert [r.status for r in runs][0] == RunStatus.ERROR, f"{sid} {context}"

            result = await session.invoke({"user_input": "after"})  # usable again
            continued_from = result.state["turns"][:-1]
            assert result.state["turns"][-1] == "after", context
            assert continued_from == [str(i) for i in range(len(continued_from))], (
                f"{sid} {context}"
            )
            assert acked[sid] <= len(continued_from) <= acked[sid] + 1, f"{sid} {context}"
        assert await manager.count(status="running") == 0
    assert integrity_check(db) == "ok", context


async def test_a_live_process_running_a_session_is_not_repaired_by_another(tmp_path: Path) -> None:
    db, marker = tmp_path / "sessions.db", tmp_path / "worker-steps.txt"
    with Worker(
        tmp_path,
        "slow",
        str(db),
        "busy",
        "busy-2",
        "--steps",
        "2",
        "--delay",
        "60",
        "--marker",
        str(marker),
    ) as worker:
        worker.wait_line("invoking")
        worker.wait_for(
            lambda: marker_starts(marker).count("s0") == 2, "both sessions to start step s0"
        )

        async with manager_on(db, marked_slow_graph(2)) as manager:
            assert manager.repaired == []
            for sid in ("busy", "busy-2"):
                info = await manager.info(sid)
                assert info.status == SessionStatus.RUNNING
                assert info.lease_owner and f":{worker.pid}:" in info.lease_owner
                session = await manager.get(sid)
                assert session is not None
                with pytest.raises(SessionBusy) as busy:
                    await session.invoke({"user_input": "x", "delay": 0.0}, multitask="reject")
                assert busy.value.session_id == sid
            # The file stays usable for other sessions meanwhile.
            other = await manager.create("other")
            assert (await other.invoke({"user_input": "o", "delay": 0.0})).status == "complete"
            assert (await manager.info("busy")).status == SessionStatus.RUNNING

            worker.kill()
            # A manager that is already open repairs a dead process's session when it meets it.
            session = await manager.get("busy-2")
            assert session is not None
            result = await session.invoke({"user_input": "y", "delay": 0.0})
            assert result.status == "complete"
            assert result.state["steps"] == ["s0:y", "s1:y"]
            assert [r.status for r in await session.runs()] == [RunStatus.SUCCESS, RunStatus.ERROR]
            assert EventType.REPAIRED in [e.type for e in await session.events(limit=1000)]

    async with manager_on(db, marked_slow_graph(2)) as manager:
        assert manager.repaired == ["busy"]
        info = await manager.info("busy")
        assert info.status == SessionStatus.FAILED
        assert info.last_error and str(worker.pid) in info.last_error
        session = await manager.get("busy")
        assert session is not None
        assert (await session.get_state()).get("steps", []) == []  # s0 never finished
        assert [r.status for r in await session.runs()] == [RunStatus.ERROR]
        result = await session.invoke({"user_input": "z", "delay": 0.0})
        assert result.state["steps"] == ["s0:z", "s1:z"]
        assert (await manager.info("busy")).status == SessionStatus.COMPLETED
        assert (await manager.info("busy-2")).status == SessionStatus.COMPLETED
        assert await manager.count(status="running") == 0


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=30)
    return proc.pid


@pytest.mark.parametrize("saver", ["graph-sessions", "langgraph"])
@pytest.mark.parametrize("cut", ["after-node-writes", "after-input-writes"])
async def test_killed_between_a_steps_writes_and_its_checkpoint_is_repaired_as_failed(
    tmp_path: Path, cut: str, saver: str
) -> None:
    """SQLite commits a task's writes and the checkpoint after the step as two transactions
    (``put_writes``, then ``put``); a SIGKILL can land between them, and the burst test above
    does land there now and then. To hit that window every time, the file is put in exactly
    the state such a kill leaves: turn "1" ran, the newest checkpoint(s) of its run are not
    there, the writes saved before them are, the registry says running under a dead pid."""
    db = tmp_path / "sessions.db"
    async with manager_on(db, chat_graph(), saver) as manager:
        session = await manager.create("chat")
        await session.invoke({"user_input": "0"})
        await session.invoke({"user_input": "1"})

    pid = dead_pid()
    conn = sqlite3.connect(str(db))
    cps, writes = checkpoint_table(conn, "checkpoints"), checkpoint_table(conn, "writes")
    assert (cps == "checkpoints") == (saver == "langgraph")
    try:
        ids = [
            r[0]
            for r in conn.execute(
                f"SELECT checkpoint_id FROM {cps} WHERE thread_id = 'chat' AND checkpoint_ns = '' "
                "ORDER BY checkpoint_id DESC LIMIT 2"
            )
        ]
        # Turn "1": input checkpoint (-1) -> after __start__ (0, next=reply) -> after reply (1).
        # after-node-writes: reply's writes are saved, checkpoint 1 is not.
        # after-input-writes: __start__'s writes are saved, checkpoints 0 and 1 are not.
        cut_from = ids[0] if cut == "after-node-writes" else ids[1]
        conn.execute(
            f"DELETE FROM {cps} WHERE thread_id = 'chat' AND checkpoint_id >= ?", (cut_from,)
        )
        conn.execute(
            f"DELETE FROM {writes} WHERE thread_id = 'chat' AND checkpoint_id >= ?", (cut_from,)
        )
        assert (
            conn.execute(
                f"SELECT COUNT(*) FROM {writes} w JOIN {cps} c USING (thread_id, checkpoint_ns, checkpoint_id) "
                f"WHERE w.thread_id = 'chat' AND c.checkpoint_id = (SELECT MAX(checkpoint_id) FROM {cps} "
                "WHERE thread_id = 'chat' AND checkpoint_ns = '')"
            ).fetchone()[0]
            > 0
        ), "the newest checkpoint has the dead step's saved writes"
        conn.execute(
            "UPDATE sessions SET status = 'running', lease_owner = ?, revision = revision + 1 WHERE session_id = 'chat'",
            (f"{socket.gethostname()}:{pid}:killed",),
        )
        conn.execute(
            "UPDATE runs SET status = 'running', finished_at = NULL, checkpoint_after = NULL WHERE run_id = "
            "(SELECT run_id FROM runs WHERE session_id = 'chat' ORDER BY started_at DESC LIMIT 1)"
        )
        conn.commit()
    finally:
        conn.close()

    async with manager_on(db, chat_graph()) as manager:
        assert manager.repaired == ["chat"]
        session = await manager.get("chat")
        assert session is not None
        # The run never reached its end: failed, with the reason, like any run a dead process left.
        assert session.status == SessionStatus.FAILED
        assert session.info.last_error and str(pid) in session.info.last_error
        # Invoking again continues it: turn "1" lands exactly once, then the new turn.
        finished = await session.invoke(None)
        assert finished.state["turns"] == ["0", "1"]
        result = await session.invoke({"user_input": "2"})
        assert result.state["turns"] == ["0", "1", "2"]


async def test_two_managers_repairing_the_same_session_record_one_repair(tmp_path: Path) -> None:
    """Regression: repair wrote without a guard, so a second repairer overwrote the first
    (and could clobber a run the first had started since)."""
    url = f"sqlite:///{tmp_path / 'twice.db'}"
    async with GraphSessionManager(graph=chat_graph(), backend=url) as m:
        await (await m.create("stale")).invoke({"user_input": "x"})
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with sqlite3.connect(tmp_path / "twice.db") as conn:
        conn.execute(
            "UPDATE sessions SET status = 'running', lease_owner = ? WHERE session_id = 'stale'",
            (f"{socket.gethostname()}:{dead.pid}:gone",),
        )
    a = GraphSessionManager(graph=chat_graph(), backend=url)
    b = GraphSessionManager(graph=chat_graph(), backend=url)
    await asyncio.gather(a.open(), b.open())
    try:
        assert sorted(a.repaired + b.repaired) == ["stale"]
        events = await (await a.get_or_create("stale")).events(limit=100)
        assert [e.type for e in events].count(EventType.REPAIRED) == 1
        assert (await a.info("stale")).status == SessionStatus.COMPLETED
    finally:
        await asyncio.gather(a.close(), b.close())
