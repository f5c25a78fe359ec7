"""Failure: a failing run raises RunFailed, the session records it and recovers.

Real parts only: SQLite files under tmp_path and the memory backend (``any_backend`` runs a
test on both). Moved from the numbered section 3 of the former tests/test_flow.py."""

from __future__ import annotations

import pytest
from support.flow import (
    manager,
)
from support.graphs import failing_graph

from graph_sessions import (
    EventType,
    RunFailed,
    RunStatus,
    SessionStatus,
)

S = SessionStatus


async def test_failing_run_raises_run_failed_then_recovers(any_backend: str) -> None:
    async with manager(failing_graph(), any_backend) as m:
        s = await m.create("f1")
        with pytest.raises(RunFailed) as ei:
            await s.invoke({"user_input": "fail"})
        err = ei.value
        assert isinstance(err.error, RuntimeError)
        assert str(err.error) == "boom"
        assert err.__cause__ is err.error
        assert err.session_id == "f1"
        assert err.run_id

        info = await m.info("f1")
        assert info.status == S.FAILED
        assert info.last_error is not None and "boom" in info.last_error
        runs = await s.runs()
        assert len(runs) == 1
        assert runs[0].run_id == err.run_id
        assert runs[0].status == RunStatus.ERROR
        assert runs[0].error is not None and "boom" in runs[0].error
        assert runs[0].finished_at is not None
        # the state stays at the last good checkpoint (after `ok`)
        assert (await s.get_state())["log"] == ["ok:fail"]
        types = [e.type for e in await s.events()]
        assert types == [EventType.CREATED, EventType.RUN_STARTED, EventType.RUN_FAILED]

        good = await s.invoke({"user_input": "good"})
        assert good.status == "complete"
        assert good.state["log"] == ["ok:fail", "ok:good", "boom-ok"]
        info = await m.info("f1")
        assert info.status == S.COMPLETED
        assert info.last_error is None
        assert [r.status for r in await s.runs()] == [RunStatus.SUCCESS, RunStatus.ERROR]
