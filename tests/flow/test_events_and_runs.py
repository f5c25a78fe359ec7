"""Events and runs recorded by an interrupt then a resume.

Real parts only: SQLite files under tmp_path and the memory backend (``any_backend`` runs a
test on both). Moved from the numbered section 8 of the former tests/test_flow.py."""

from __future__ import annotations

from support.flow import (
    is_utc,
    manager,
)
from support.graphs import approval_graph

from graph_sessions import (
    EventType,
    RunStatus,
)


async def test_events_and_runs_of_interrupt_then_resume(any_backend: str) -> None:
    async with manager(approval_graph(), any_backend) as m:
        s = await m.create("ev", owner="alice")
        r1 = await s.invoke({"user_input": "x"})
        r2 = await s.invoke({"user_input": "yes"})
        events = await s.events()
        assert [e.type for e in events] == [
            EventType.CREATED,
            EventType.RUN_STARTED,
            EventType.INTERRUPTED,
            EventType.RUN_STARTED,
            EventType.RESUMED,
            EventType.RUN_COMPLETED,
        ]
        assert [e.run_id for e in events] == [
            None,
            r1.run_id,
            r1.run_id,
            r2.run_id,
            r2.run_id,
            r2.run_id,
        ]
        assert r1.run_id != r2.run_id
        assert all(e.session_id == "ev" for e in events)
        ids = [e.id for e in events]
        assert ids == sorted(ids) and len(set(ids)) == 6
        stamps = [e.at for e in events]
        assert all(is_utc(t) for t in stamps)
        assert stamps == sorted(stamps)
        assert events[0].data.get("owner") == "alice"
        assert events[2].data["interrupts"] == [r1.interrupts[0]["id"]]
        assert events[4].data["interrupts"] == [r1.interrupts[0]["id"]]
        # paging by id
        assert [e.id for e in await s.events(after=ids[2])] == ids[3:]
        assert [e.id for e in await s.events(limit=2)] == ids[:2]

        runs = await s.runs()
        assert [r.run_id for r in runs] == [r2.run_id, r1.run_id]
        assert [r.status for r in runs] == [RunStatus.SUCCESS, RunStatus.INTERRUPTED]
        assert all(
            r.session_id == "ev" and r.kind == "invoke" and r.multitask == "enqueue" for r in runs
        )
        assert all(is_utc(r.started_at) and is_utc(r.finished_at) for r in runs)
        assert runs[0].checkpoint_after == r2.checkpoint_id
        assert runs[1].checkpoint_after == r1.checkpoint_id
        assert runs[0].checkpoint_before == r1.checkpoint_id
        assert runs[1].checkpoint_before is None
        assert [r.run_id for r in await s.runs(limit=1)] == [r2.run_id]
