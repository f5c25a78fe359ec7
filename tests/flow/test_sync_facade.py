"""The sync facade (SyncGraphSessionManager): the seed flow and two threads on one session.

Real parts only: SQLite files under tmp_path and the memory backend (``any_backend`` runs a
test on both). Moved from the numbered section 11 of the former tests/test_flow.py."""

from __future__ import annotations

import threading
from pathlib import Path

from support.flow import (
    DRAFT_FOR,
    SUPPORT_BOT,
)
from support.graphs import chat_graph

from graph_sessions import (
    EventType,
    SessionStatus,
    SyncGraphSessionManager,
)

S = SessionStatus


def test_sync_facade_seed_flow(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'sync.db'}"
    with SyncGraphSessionManager(
        graph=f"{SUPPORT_BOT}:graph", backend=db, output_key="response", sweep_interval=None
    ) as m:
        s = m.get_or_create("user-123", metadata={"plan": "pro"}, owner="alice")
        first = s.invoke({"user_input": "where is my parcel"})
        assert first.status == "interrupted"
        assert first.resume_key == "user_input"
        assert not s.is_complete
    with SyncGraphSessionManager(
        graph=f"{SUPPORT_BOT}:graph", backend=db, output_key="response", sweep_interval=None
    ) as m:
        s = m.get_or_create("user-123")
        assert s.status == S.INTERRUPTED
        assert s.info.owner == "alice" and s.info.metadata == {"plan": "pro"}
        done = s.invoke({"user_input": "yes"})
        assert done.status == "complete"
        assert done.output == DRAFT_FOR.format("where is my parcel")
        assert s.is_complete
        assert s.get_state()["approved"] is True
        assert [e.type for e in s.events()][-1] == EventType.RUN_COMPLETED
        assert m.info("user-123").status == S.COMPLETED
        assert len(m.list()) == 1
        # a new turn, streamed through the facade: it pauses at the approval again
        chunks = list(s.stream({"user_input": "another"}, mode="updates"))
        assert chunks[0] == {
            "draft": {"draft": DRAFT_FOR.format("another"), "history": ["user: another"]}
        }
        assert "__interrupt__" in chunks[-1]
        assert m.info("user-123").status == S.INTERRUPTED
        assert s.refresh().run_count == 3


def test_sync_facade_two_threads_same_session(tmp_path: Path) -> None:
    n = 8
    db = f"sqlite:///{tmp_path / 'threads.db'}"
    errors: list[BaseException] = []
    outputs: list[str] = []
    lock = threading.Lock()
    with SyncGraphSessionManager(
        graph=chat_graph(), backend=db, output_key="response", sweep_interval=None
    ) as m:
        m.create("shared")
        barrier = threading.Barrier(2)

        def worker(tag: str) -> None:
            try:
                session = m.get_or_create("shared")  # each thread its own session object
                barrier.wait()
                for i in range(n):
                    out = session.invoke({"user_input": f"{tag}{i}"}).output
                    with lock:
                        outputs.append(out)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(tag,)) for tag in ("x", "y")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert errors == []
        s = m.get("shared")
        assert s is not None
        turns = s.get_state()["turns"]
        assert len(turns) == 2 * n
        assert sorted(turns) == sorted([f"x{i}" for i in range(n)] + [f"y{i}" for i in range(n)])
        # each run saw the previous one: the turn numbers are 1..2n, each exactly once
        assert sorted(int(o.split(":")[0].split()[1]) for o in outputs) == list(range(1, 2 * n + 1))
        assert m.info("shared").run_count == 2 * n
        assert m.info("shared").status == S.COMPLETED
