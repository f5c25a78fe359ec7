"""The session status lifecycle (DESIGN.md "Session status").

A Hypothesis state machine drives one manager over a real SQLite file through random
sequences of create / invoke / resume / fail / suspend / unsuspend / expire / sweep /
reopen and checks the registry against a model of the status table after every step.
Plain tests below pin each transition and each error.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from support.graphs import approval_graph, chat_graph
from support.lifecycle_graphs import flaky_graph, mode_graph

from graph_sessions import (
    GraphSession,
    GraphSessionManager,
    InvalidInput,
    InvalidTransition,
    ManualClock,
    RunFailed,
    SessionExpired,
    SessionNotFound,
    SessionStatus,
    SessionSuspended,
)

S = SessionStatus
START = datetime(2030, 1, 1, tzinfo=UTC)
DEFAULT_TTL = 10.0
RUNNABLE = (S.CREATED, S.COMPLETED, S.FAILED)  # an invoke starts a new turn / continues
SUSPENDABLE = (S.INTERRUPTED, S.COMPLETED, S.FAILED)
AIM = {
    "suspend": SUSPENDABLE,
    "resume:none": (S.SUSPENDED,),
    "resume:value": (S.INTERRUPTED,),
    "invoke:none": (S.FAILED, S.COMPLETED),
}


# --- the state machine ----------------------------------------------------------------


@dataclass
class Model:
    """What DESIGN.md says the registry must hold for one session."""

    status: S
    ttl: float | None
    expires_at: datetime | None
    previous: S | None = None  # the status before suspension
    log: int = 0  # entries the graph appended to state["log"]
    expired: bool = False  # TTL passed, not swept yet


class LifecycleMachine(RuleBasedStateMachine):
    """One manager (SQLite file, ManualClock, no background sweeper) and the model."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.dir = tempfile.mkdtemp(prefix="gs-lifecycle-")
        self.url = f"sqlite:///{self.dir}/sessions.db"
        self.clock = ManualClock(START)
        self.model: dict[str, Model] = {}
        self.swept: set[str] = set()
        self.held: dict[str, GraphSession] = {}  # objects kept since the last run through them
        self.next_id = 0
        self.manager = self.run(self._open())

    # plumbing ----------------------------------------------------------------------
    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    async def _open(self) -> GraphSessionManager:
        manager = GraphSessionManager(
            mode_graph(), self.url, clock=self.clock, ttl=DEFAULT_TTL, sweep_interval=None
        )
        return await manager.open()

    def teardown(self) -> None:
        try:
            self.run(self.manager.close())
        finally:
            self.loop.close()
            shutil.rmtree(self.dir, ignore_errors=True)

    def live(self, *statuses: S) -> list[str]:
        return sorted(
            sid
            for sid, m in self.model.items()
            if not m.expired and (not statuses or m.status in statuses)
        )

    def expired_ids(self) -> list[str]:
        return sorted(sid for sid, m in self.model.items() if m.expired)

    async def fresh(self, sid: str) -> GraphSession:
        session = await self.manager.get(sid)
        assert session is not None, f"live session {sid} reads as gone"
        self.held[sid] = session
        return session

    def renewed(self, m: Model) -> None:
        """A run ended: sliding TTL moves to now + ttl."""
        m.expires_at = self.clock.now + timedelta(seconds=m.ttl) if m.ttl else None

    # rules -------------------------------------------------------------------------
    @initialize(ttls=st.lists(st.sampled_from(["default", 5.0, None]), min_size=2, max_size=2))
    def first_sessions(self, ttls: list[Any]) -> None:
        for ttl in ttls:
            self.create(ttl)

    def create(self, ttl: Any) -> None:
        sid = f"s{self.next_id}"
        self.next_id += 1

        async def go() -> GraphSession:
            if ttl == "default":
                return await self.manager.create(sid)
            return await self.manager.create(sid, ttl=ttl)

        session = self.run(go())
        effective = DEFAULT_TTL if ttl == "default" else ttl
        assert session.info.status == S.CREATED
        self.model[sid] = Model(
            S.CREATED,
            effective,
            self.clock.now + timedelta(seconds=effective) if effective else None,
        )
        self.held[sid] = session

    # A single rule picks the operation: Hypothesis' swarm testing switches whole rules off
    # per program, which with a few dozen programs left most of them without a single invoke.
    @rule(
        data=st.data(),
        op=st.sampled_from(
            [
                "create",
                "invoke:complete",
                "invoke:interrupt",
                "invoke:fail",
                "invoke:none",
                "resume:value",
                "resume:none",
                "suspend",
                "advance-clock",
                "use-expired",
                "reopen",
            ]
        ),
    )
    def step(self, data: st.DataObject, op: str) -> None:
        if op == "create":
            if len(self.live()) < 3:
                self.create(data.draw(st.sampled_from(["default", 5.0, None]), label="ttl"))
            return
        if op == "advance-clock":
            seconds = data.draw(st.sampled_from([1.0, 4.0, 11.0]), label="seconds")
            self.advance_clock(seconds, sweep=data.draw(st.booleans(), label="sweep"))
            return
        if op == "use-expired":
            if self.expired_ids():
                self.use_expired_session(data)
            return
        if op == "reopen":
            self.reopen()
            return
        # invoke(None) / resume() on an interrupted session: see test_no_value_on_interrupted_session_*
        if op in ("invoke:none", "resume:none"):
            statuses: tuple[S, ...] = (S.SUSPENDED, *RUNNABLE)
        else:
            statuses = ()
        candidates = self.live(*statuses)
        if not candidates:
            if statuses:
                return  # nothing to do this step
            self.create("default")
            candidates = self.live()
        # Mostly aim at sessions where the operation is allowed, sometimes at any session.
        aimed = [sid for sid in candidates if self.model[sid].status in AIM.get(op, ())]
        if aimed and data.draw(st.integers(0, 3), label="aim"):
            candidates = aimed
        sid = data.draw(st.sampled_from(candidates), label="session")
        m = self.model[sid]
        event(f"{op} on {m.status}")
        if op.startswith("invoke:"):
            self._invoke(sid, m, op.split(":")[1])
        elif op == "resume:value":
            answer = data.draw(
                st.integers(0, 9) | st.builds(dict, answer=st.integers(0, 9)), label="answer"
            )
            self._resume_with_value(sid, m, answer)
        elif op == "resume:none":
            self._resume_without_value(sid, m)
        else:
            self._suspend(sid, m, data.draw(st.sampled_from([None, "review"]), label="reason"))

    def _invoke(self, sid: str, m: Model, kind: str) -> None:
        graph_input = None if kind == "none" else {"user_input": kind}

        async def go() -> tuple[str, Any]:
            session = await self.fresh(sid)
            try:
                return "ok", await session.invoke(graph_input)
            except (RunFailed, SessionSuspended, InvalidInput, InvalidTransition) as exc:
                return type(exc).__name__, exc

        outcome, value = self.run(go())
        if m.status == S.SUSPENDED:
            assert outcome == "SessionSuspended", (outcome, value)
            assert value.session_id == sid
            return
        if kind == "none" and m.status == S.CREATED:  # nothing to continue: refused, no run
            assert outcome == "InvalidInput", (outcome, value)
            return
        if m.status == S.INTERRUPTED:
            # The interrupt names no resume key: a plain input is not an answer (issue 10
            # #17); refused, nothing changes. resume(value) answers it.
            assert outcome == "InvalidTransition", (outcome, value)
            return
        elif kind == "none" and m.status == S.COMPLETED:  # nothing pending: an empty run
            assert outcome == "ok", value
            assert value.status == "complete"
        elif kind == "fail" or (kind == "none" and m.status == S.FAILED):
            # invoke(None) after a failure re-runs the failed node, whose input still says "fail"
            assert outcome == "RunFailed", (outcome, value)
            assert isinstance(value.error, RuntimeError) and value.session_id == sid
            m.status = S.FAILED
        elif kind == "interrupt":
            assert outcome == "ok", value
            assert value.status == "interrupted" and len(value.interrupts) == 1
            m.status = S.INTERRUPTED
        else:
            assert outcome == "ok", value
            assert value.status == "complete"
            m.status, m.log = S.COMPLETED, m.log + 1
        self.renewed(m)

    def _resume_with_value(self, sid: str, m: Model, value_in: Any) -> None:
        async def go() -> tuple[str, Any]:
            session = await self.fresh(sid)
            try:
                return "ok", await session.resume(value_in)
            except (InvalidInput, InvalidTransition) as exc:
                return type(exc).__name__, exc

        outcome, value = self.run(go())
        if m.status == S.INTERRUPTED:
            assert outcome == "ok", value
            assert value.status == "complete" and value.state["answer"] == value_in
            m.status, m.log = S.COMPLETED, m.log + 1
            self.renewed(m)
        elif m.status == S.SUSPENDED:
            assert outcome == "InvalidInput", (outcome, value)
        else:
            assert outcome == "InvalidTransition", (outcome, value)

    def _resume_without_value(self, sid: str, m: Model) -> None:
        async def go() -> tuple[str, Any]:
            session = await self.fresh(sid)
            try:
                return "ok", await session.resume()
            except InvalidTransition as exc:
                return "InvalidTransition", exc

        outcome, value = self.run(go())
        if m.status == S.SUSPENDED:
            assert (outcome, value) == ("ok", None)
            m.status, m.previous = m.previous, None
        else:
            assert outcome == "InvalidTransition", (outcome, value)

    def _suspend(self, sid: str, m: Model, reason: str | None) -> None:
        async def go() -> tuple[str, Any]:
            session = await self.fresh(sid)
            try:
                return "ok", await session.suspend(reason)
            except InvalidTransition as exc:
                return "InvalidTransition", exc

        outcome, value = self.run(go())
        if m.status in SUSPENDABLE:
            assert outcome == "ok", value
            assert value.status == S.SUSPENDED and value.suspend_reason == reason
            m.previous, m.status = m.status, S.SUSPENDED
        else:
            assert outcome == "InvalidTransition", (outcome, value)
            assert value.session_id == sid

    def advance_clock(self, seconds: float, sweep: bool) -> None:
        now = self.clock.advance(seconds)
        for m in self.model.values():
            if m.expires_at is not None and m.expires_at <= now:
                m.expired = True
        if not sweep:
            return
        report = self.run(self.manager.sweep())
        expired = self.expired_ids()
        event(f"sweep deleted {min(len(expired), 2)}{'+' if len(expired) >= 2 else ''}")
        assert report.deleted == len(expired), (report, expired)
        assert report.archived == 0 and report.skipped_running == 0
        for sid in expired:
            del self.model[sid]
            self.held.pop(sid, None)
            self.swept.add(sid)

    def use_expired_session(self, data: st.DataObject) -> None:
        """An expired session reads as gone: a held object raises ``SessionExpired``;
        ``get_or_create`` makes a fresh session in its place."""
        sid = data.draw(st.sampled_from(self.expired_ids()), label="session")
        action = data.draw(
            st.sampled_from(["invoke", "suspend", "resume", "get_or_create"]), label="action"
        )
        session = self.held.get(sid)
        if session is None:  # no object from this manager: only get_or_create applies
            action = "get_or_create"
        event(f"{action} on expired session")

        async def touch(session: GraphSession) -> None:
            with pytest.raises(SessionExpired) as err:
                if action == "invoke":
                    await session.invoke({"user_input": "complete"})
                elif action == "suspend":
                    await session.suspend("late")
                else:
                    await session.resume()
            assert err.value.session_id == sid

        async def recreate() -> GraphSession:
            fresh = await self.manager.get_or_create(sid)
            assert fresh.info.status == S.CREATED and fresh.info.run_count == 0
            assert await fresh.get_state() == {}
            return fresh

        if action != "get_or_create":
            self.run(touch(session))
            return
        self.held[sid] = self.run(recreate())
        self.model[sid] = Model(
            S.CREATED, DEFAULT_TTL, self.clock.now + timedelta(seconds=DEFAULT_TTL)
        )

    def reopen(self) -> None:
        """Close the manager and open a new one on the same file: everything survives."""

        async def go() -> GraphSessionManager:
            await self.manager.close()
            return await self._open()

        self.manager = self.run(go())
        event("reopen")
        assert self.manager.repaired == []
        self.held.clear()  # objects of the closed manager are not used again

    # invariants --------------------------------------------------------------------
    @invariant()
    def registry_matches_model(self) -> None:
        self.run(self._check())

    async def _check(self) -> None:
        manager = self.manager
        for sid, m in self.model.items():
            row = await manager.backend.get_session(sid)
            assert row is not None, f"{sid} lost its registry row"
            assert row.status != S.RUNNING, f"{sid} left running"
            if m.expired:
                assert await manager.get(sid) is None, f"expired {sid} still readable"
                continue
            session = await manager.get(sid)
            assert session is not None, f"live {sid} reads as gone"
            info = session.info
            assert info.status == m.status, (sid, info.status, m)
            assert info.expires_at == m.expires_at, (sid, info.expires_at, m)
            if m.status == S.SUSPENDED:
                assert info.previous_status == m.previous, (sid, info.previous_status, m)
            snapshot = await session.snapshot()
            waiting = m.status == S.INTERRUPTED or (
                m.status == S.SUSPENDED and m.previous == S.INTERRUPTED
            )
            pending = bool(snapshot and snapshot.interrupts)
            assert pending == waiting, (sid, m, snapshot and snapshot.interrupts)
            assert bool(info.interrupts) == waiting, (sid, m, info.interrupts)
            if m.status == S.CREATED:
                assert snapshot is None
            state = await session.get_state()
            assert len(state.get("log", [])) == m.log, (sid, state, m)
        for sid in self.swept - set(self.model):
            assert await manager.backend.get_session(sid) is None
            assert await manager.get(sid) is None
        assert await manager.count() == len(self.live())
        assert await manager.count(include_expired=True) == len(self.model)
        assert await manager.count(status="running", include_expired=True) == 0
        listed = {i.session_id: i.status for i in (await manager.list(limit=100)).sessions}
        assert listed == {sid: self.model[sid].status for sid in self.live()}


LifecycleMachine.TestCase.settings = settings(
    max_examples=50,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestLifecycleMachine = pytest.mark.slow(LifecycleMachine.TestCase)


# --- plain tests: transitions and errors ------------------------------------------------


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


def make_manager(
    graph: Any, url: str, clock: ManualClock | None = None, **kwargs: Any
) -> GraphSessionManager:
    kwargs.setdefault("sweep_interval", None)
    return GraphSessionManager(graph, url, clock=clock, **kwargs)


async def _in_status(manager: GraphSessionManager, sid: str, status: S) -> GraphSession:
    """A session brought to ``status`` with the mode graph."""
    session = await manager.create(sid)
    if status == S.COMPLETED:
        await session.invoke({"user_input": "complete"})
    elif status == S.INTERRUPTED:
        await session.invoke({"user_input": "interrupt"})
    elif status == S.FAILED:
        with pytest.raises(RunFailed):
            await session.invoke({"user_input": "fail"})
    elif status == S.SUSPENDED:
        await session.invoke({"user_input": "complete"})
        await session.suspend()
    await session.refresh()
    assert session.info.status == status
    return session


async def test_new_session_is_created_and_runs_end_completed(any_backend: str) -> None:
    async with make_manager(mode_graph(), any_backend) as manager:
        session = await manager.create("s")
        assert session.status == S.CREATED and session.info.run_count == 0
        result = await session.invoke({"user_input": "hello"})
        assert result.status == "complete"
        assert session.status == S.COMPLETED and session.info.run_count == 1
        types = [e.type for e in await session.events()]
        assert types == ["created", "run_started", "run_completed"]
        # the next invoke starts a new turn
        result = await session.invoke({"user_input": "again"})
        assert result.state["log"] == ["done:hello", "done:again"]


async def test_suspend_with_reason(any_backend: str, clock: ManualClock) -> None:
    async with make_manager(mode_graph(), any_backend, clock) as manager:
        session = await _in_status(manager, "s", S.COMPLETED)
        clock.advance(1)
        info = await session.suspend(reason="abuse review")
        assert info.status == S.SUSPENDED
        assert info.suspend_reason == "abuse review"
        assert info.previous_status == S.COMPLETED
        assert info.updated_at == clock.now
        stored = await manager.get("s")
        assert stored.info.status == S.SUSPENDED and stored.info.suspend_reason == "abuse review"
        events = await session.events()
        assert events[-1].type == "suspended"
        assert events[-1].data["reason"] == "abuse review"
        assert events[-1].at == clock.now
        # listing by status finds it
        assert [i.session_id for i in await manager.list(status="suspended")] == ["s"]


@pytest.mark.parametrize("before", [S.INTERRUPTED, S.COMPLETED, S.FAILED])
async def test_resume_of_suspended_returns_none_and_restores_previous_status(
    any_backend: str, before: S
) -> None:
    async with make_manager(mode_graph(), any_backend) as manager:
        session = await _in_status(manager, "s", before)
        state_before = await session.get_state()
        await session.suspend("hold")
        assert await session.resume() is None
        assert session.info.status == before
        assert session.info.previous_status is None and session.info.suspend_reason is None
        stored = await manager.get("s")
        assert stored.info.status == before
        assert await stored.get_state() == state_before
        assert (await session.events())[-1].type == "unsuspended"
        # and it runs again
        if before == S.INTERRUPTED:
            result = await session.resume({"ok": 1})
            assert result.status == "complete" and result.state["answer"] == {"ok": 1}
        else:
            result = await session.invoke({"user_input": "complete"})
            assert result.status == "complete"


async def test_invoke_on_suspended_session_is_refused(any_backend: str) -> None:
    async with make_manager(mode_graph(), any_backend) as manager:
        session = await _in_status(manager, "s", S.INTERRUPTED)
        await session.suspend("wait for legal")
        other = await manager.get("s")  # another holder: the refusal does not depend on who asks
        for holder in (session, other):
            with pytest.raises(SessionSuspended) as err:
                await holder.invoke({"user_input": "complete"})
            assert err.value.session_id == "s"
            assert "wait for legal" in str(err.value)
        stored = await manager.get("s")
        assert stored.info.status == S.SUSPENDED and stored.info.run_count == 1
        assert (await stored.snapshot()).interrupts  # still waiting at its interrupt


async def test_resume_with_value_on_suspended_is_invalid_input(any_backend: str) -> None:
    async with make_manager(mode_graph(), any_backend) as manager:
        session = await _in_status(manager, "s", S.INTERRUPTED)
        await session.suspend()
        with pytest.raises(InvalidInput) as err:
            await session.resume({"answer": 1})
        assert err.value.session_id == "s"
        assert (await manager.get("s")).info.status == S.SUSPENDED


@pytest.mark.parametrize("status", [S.CREATED, S.COMPLETED, S.FAILED])
async def test_resume_without_an_interrupt_is_invalid_transition(
    any_backend: str, status: S
) -> None:
    async with make_manager(mode_graph(), any_backend) as manager:
        session = await _in_status(manager, "s", status)
        for args in [(), ({"answer": 1},)]:
            with pytest.raises(InvalidTransition) as err:
                await session.resume(*args)
            assert err.value.session_id == "s"
        assert (await manager.get("s")).info.status == status


@pytest.mark.parametrize("status", [S.CREATED, S.SUSPENDED])
async def test_suspend_is_refused_outside_interrupted_completed_failed(
    any_backend: str, status: S
) -> None:
    async with make_manager(mode_graph(), any_backend) as manager:
        session = await _in_status(manager, "s", status)
        before = await manager.get("s")
        with pytest.raises(InvalidTransition) as err:
            await session.suspend("again")
        assert err.value.session_id == "s"
        after = await manager.get("s")
        assert after.info.status == status
        assert after.info.suspend_reason == before.info.suspend_reason
        assert after.info.revision == before.info.revision


async def test_interrupted_session_resumes_by_invoke_or_resume(any_backend: str) -> None:
    async with make_manager(approval_graph(), any_backend) as manager:
        a = await manager.create("a")
        first = await a.invoke({"user_input": "draft"})
        assert first.status == "interrupted" and first.resume_key == "user_input"
        assert a.status == S.INTERRUPTED
        assert (await a.snapshot()).interrupts == first.interrupts
        done = await a.invoke({"user_input": "yes"})  # seed semantics: the input answers it
        assert done.status == "complete" and done.state["response"] == "sent"
        assert a.status == S.COMPLETED
        assert (await a.snapshot()).interrupts == []
        types = [e.type for e in await a.events()]
        assert types.count("interrupted") == 1 and types.count("resumed") == 1


async def test_resume_with_a_plain_value(any_backend: str) -> None:
    async with make_manager(approval_graph(), any_backend) as manager:
        session = await manager.create("s")
        await session.invoke({"user_input": "draft"})
        result = await session.resume("yes")
        assert result.status == "complete"
        assert result.state["approved"] is True and result.state["response"] == "sent"


@pytest.mark.parametrize("call", ["invoke_none", "resume_no_value"])
async def test_no_value_on_interrupted_session_keeps_it_consistent(
    any_backend: str, call: str
) -> None:
    async with make_manager(mode_graph(), any_backend) as manager:
        session = await _in_status(manager, "s", S.INTERRUPTED)
        try:
            if call == "invoke_none":
                await session.invoke(None)
            else:
                await session.resume()
        except (InvalidInput, InvalidTransition):
            pass  # refusing is fine, as long as nothing changed
        stored = await manager.get("s")
        pending = (await stored.snapshot()).interrupts
        assert (stored.info.status == S.INTERRUPTED) == bool(pending), (stored.info.status, pending)


async def test_first_invoke_without_input_is_refused(any_backend: str) -> None:
    async with make_manager(mode_graph(), any_backend) as manager:
        session = await manager.create("s")
        with pytest.raises(InvalidInput) as err:
            await session.invoke(None)
        assert err.value.session_id == "s"
        stored = await manager.get("s")
        assert stored.info.status == S.CREATED and stored.info.run_count == 0
        assert await stored.runs() == []


async def test_failed_run_marks_session_failed_and_keeps_last_good_state(any_backend: str) -> None:
    switch = {"broken": True}
    async with make_manager(flaky_graph(switch), any_backend) as manager:
        session = await manager.create("s")
        with pytest.raises(RunFailed) as err:
            await session.invoke({"user_input": "x"})
        assert err.value.session_id == "s"
        assert isinstance(err.value.error, RuntimeError) and isinstance(
            err.value.__cause__, RuntimeError
        )
        stored = await manager.get("s")
        assert stored.info.status == S.FAILED
        assert "second is broken" in stored.info.last_error
        assert stored.info.run_count == 1
        snapshot = await stored.snapshot()
        assert snapshot.next == ["second"]  # the last good checkpoint, with the failed node pending
        assert snapshot.values["log"] == ["first:x"]
        assert [e.type for e in await stored.events()][-1] == "run_failed"
        runs = await stored.runs()
        assert runs[0].status == "error" and "second is broken" in runs[0].error


async def test_failed_then_invoke_none_continues_the_pending_work(any_backend: str) -> None:
    switch = {"broken": True}
    async with make_manager(flaky_graph(switch), any_backend) as manager:
        session = await manager.create("s")
        with pytest.raises(RunFailed):
            await session.invoke({"user_input": "x"})
        with pytest.raises(RunFailed):  # still broken: still failed, nothing re-done
            await session.invoke(None)
        assert (await manager.get("s")).info.status == S.FAILED
        switch["broken"] = False
        result = await session.invoke(None)
        assert result.status == "complete"
        # `first` ran once; only the failed node ran again
        assert result.state["log"] == ["first:x", "second:x"]
        stored = await manager.get("s")
        assert stored.info.status == S.COMPLETED and stored.info.last_error is None
        assert stored.info.run_count == 3


async def test_failed_then_new_input_starts_a_new_turn(any_backend: str) -> None:
    async with make_manager(mode_graph(), any_backend) as manager:
        session = await manager.create("s")
        await session.invoke({"user_input": "complete"})
        with pytest.raises(RunFailed):
            await session.invoke({"user_input": "fail"})
        assert (await manager.get("s")).info.status == S.FAILED
        result = await session.invoke({"user_input": "next"})
        assert result.status == "complete"
        assert result.state["log"] == ["done:complete", "done:next"]
        assert (await manager.get("s")).info.status == S.COMPLETED


async def test_failed_session_can_be_suspended_and_resumed_back_to_failed(any_backend: str) -> None:
    async with make_manager(mode_graph(), any_backend) as manager:
        session = await _in_status(manager, "s", S.FAILED)
        last_error = session.info.last_error
        await session.suspend("look at it")
        assert await session.resume() is None
        stored = await manager.get("s")
        assert stored.info.status == S.FAILED and stored.info.last_error == last_error


async def test_statuses_survive_reopening_the_manager(db_url: str, clock: ManualClock) -> None:
    wanted = [S.CREATED, S.COMPLETED, S.INTERRUPTED, S.FAILED, S.SUSPENDED]
    async with make_manager(mode_graph(), db_url, clock) as manager:
        for status in wanted:
            await _in_status(manager, str(status), status)
    async with make_manager(mode_graph(), db_url, clock) as manager:
        assert manager.repaired == []
        for status in wanted:
            session = await manager.get(str(status))
            assert session is not None and session.info.status == status
        assert (await manager.get("suspended")).info.previous_status == S.COMPLETED
        interrupted = await manager.get("interrupted")
        result = await interrupted.resume({"after": "restart"})
        assert result.status == "complete" and result.state["answer"] == {"after": "restart"}


async def test_held_object_is_not_expired_when_the_session_was_renewed(
    any_backend: str, clock: ManualClock
) -> None:
    async with make_manager(chat_graph(), any_backend, clock, ttl=10) as manager:
        first = await manager.get_or_create("s")
        second = await manager.get("s")
        clock.advance(8)
        await second.invoke({"user_input": "renews to +18"})
        clock.advance(4)  # +12: alive (expires at +18), but `first` still holds expires_at=+10
        assert await manager.get("s") is not None
        result = await first.invoke({"user_input": "still alive"})
        assert result.state["turns"] == ["renews to +18", "still alive"]


async def test_deleted_session_held_object_raises_not_found(any_backend: str) -> None:
    async with make_manager(mode_graph(), any_backend) as manager:
        session = await _in_status(manager, "s", S.COMPLETED)
        assert await manager.delete("s") is True
        with pytest.raises(SessionNotFound):
            await session.suspend()
        with pytest.raises(SessionNotFound):
            await session.invoke({"user_input": "complete"})
