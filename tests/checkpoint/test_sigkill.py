"""A process killed with SIGKILL in the middle of a put loses at most that checkpoint.

A child process runs chat turns on several threads in a loop (``durability="sync"``,
``synchronous=NORMAL``, short delta chains so full values and deltas both occur) and
records each completed turn in a progress file (a new child first finishes the turn
its predecessor was killed in: new input on a checkpoint with pending writes would drop
them, which is LangGraph's semantics, not a storage loss); the test kills it at a random moment,
reopens the file and checks that every thread reads back whole (state and whole history),
that no completed turn is lost, and that ``PRAGMA integrity_check`` is ``ok``. Repeated
several times on the same file, each child continuing where the last one died.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from graph_sessions.checkpoint import SqliteSaver

pytestmark = pytest.mark.slow

THREADS = ("a", "b", "c")

CHILD = textwrap.dedent(
    """
    import operator, sys
    from pathlib import Path
    from typing import Annotated, Any
    from typing_extensions import TypedDict
    from langgraph.graph import END, START, StateGraph
    from graph_sessions.checkpoint import SqliteSaver

    class Chat(TypedDict, total=False):
        messages: Annotated[list[Any], operator.add]
        turn: int

    def user(state):
        return {"turn": (state.get("turn") or 0) + 1}

    def bot(state):
        return {"messages": [{"role": "assistant", "content": f"reply {state['turn']}",
                              "pad": "x" * 3000}]}

    b = StateGraph(Chat)
    b.add_node("user", user)
    b.add_node("bot", bot)
    b.add_edge(START, "user")
    b.add_edge("user", "bot")
    b.add_edge("bot", END)
    db, progress = sys.argv[1], Path(sys.argv[2])
    with SqliteSaver.from_conn_string(db, snapshot_every=8) as saver:
        graph = b.compile(checkpointer=saver)
        for t in ("a", "b", "c"):  # finish a turn the last child was killed in
            config = {"configurable": {"thread_id": t}}
            if saver.get_tuple(config) is not None:
                graph.invoke(None, config, durability="sync")
        with progress.open("a") as out:
            out.write("ready\\n")
            out.flush()
            while True:
                for t in ("a", "b", "c"):
                    config = {"configurable": {"thread_id": t}}
                    n = len(graph.get_state(config).values.get("messages", [])) // 2
                    graph.invoke({"messages": [{"role": "user", "content": f"hello {n}"}]},
                                 config, durability="sync")
                    n = len(graph.get_state(config).values["messages"]) // 2
                    out.write(f"{t} {n}\\n")
                    out.flush()
    """
)


def _check_thread(saver: SqliteSaver, thread_id: str) -> int:
    """Every checkpoint of the thread reads back consistent; returns its completed turns."""
    config: Any = {"configurable": {"thread_id": thread_id}}
    history = list(saver.list(config))
    latest = saver.get_tuple(config)
    if latest is None:
        assert history == []
        return 0
    assert history[0].config == latest.config
    for tup in history:
        messages = tup.checkpoint["channel_values"].get("messages", [])
        for k, message in enumerate(messages):
            expected = f"hello {k // 2}" if k % 2 == 0 else f"reply {k // 2 + 1}"
            assert message["content"] == expected, (thread_id, tup.config, k)
    messages = latest.checkpoint["channel_values"].get("messages", [])
    # the latest checkpoint may be the input one of an unfinished turn: whole turns only
    return len(messages) // 2


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_sigkill_during_puts_loses_at_most_the_checkpoint_being_written(tmp_path: Path) -> None:
    db = tmp_path / "killed.db"
    rng = random.Random(20261123)
    done: dict[str, int] = dict.fromkeys(THREADS, 0)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for round_ in range(5):
        progress = tmp_path / f"progress-{round_}.txt"
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(db), str(progress)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while not (progress.exists() and "ready" in progress.read_text()):
            assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
            assert time.monotonic() < deadline, "child never got ready"
            time.sleep(0.02)
        time.sleep(rng.uniform(0.05, 0.6))
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        assert child.returncode == -signal.SIGKILL
        if child.stderr:
            child.stderr.close()
        for line in progress.read_text().split("\n")[1:]:
            if line:
                thread_id, turns = line.split()
                done[thread_id] = max(done[thread_id], int(turns))
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        with SqliteSaver.from_conn_string(str(db)) as saver:
            for thread_id in THREADS:
                stored = _check_thread(saver, thread_id)
                # every turn the child reported finished is there; at most one more
                assert done[thread_id] <= stored <= done[thread_id] + 1, (thread_id, done)
                done[thread_id] = stored
    assert sum(done.values()) > len(THREADS)  # the children did get work done
