"""Concurrency: one writer per session, the multitask strategies, sessions that never wait
on each other, the sync facade from threads, two managers on one file, and cancellation.

Everything runs for real: SQLite files in tmp_path, LangGraph graphs from tests/support/graphs.py.
No timing assertions: where order matters, the tests record the order of events.
"""

from __future__ import annotations

import asyncio
import operator
import threading
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import pytest
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt
from support.graphs import chat_graph, slow_graph
from typing_extensions import TypedDict

from graph_sessions import (
    EventType,
    GraphSession,
    GraphSessionManager,
    InvalidInput,
    ManagerClosed,
    RunCancelled,
    RunStatus,
    SessionBusy,
    SessionStatus,
    SyncGraphSessionManager,
)

DEADLINE = 30.0  # upper bound for any "wait until" poll; never an assertion on duration


def make_manager(graph: Any, backend: str, **kwargs: Any) -> GraphSessionManager:
    kwargs.setdefault("sweep_interval", None)
    return GraphSessionManager(graph=graph, backend=backend, **kwargs)


async def wait_until(predicate: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll ``predicate`` until it is true; fail (not hang) after DEADLINE seconds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + DEADLINE
    while not await predicate():
        if loop.time() > end:
            pytest.fail(f"gave up waiting for: {what}")
        await asyncio.sleep(0.01)


async def steps_of(session: GraphSession) -> list[str]:
    return list((await session.get_state()).get("steps", []))


async def all_runs(session: GraphSession) -> list[Any]:
    """The session's runs, oldest first."""
    return list(reversed(await session.runs(limit=1000)))


async def assert_linear_history(session: GraphSession) -> int:
    """The session's checkpoints form one chain (each one's parent is the one before it):
    two writers never appended to the same parent. Returns the chain's length."""
    history = await session.checkpoints(limit=10_000)  # newest first, every checkpoint
    for newer, older in zip(history, history[1:], strict=False):
        assert newer.parent_checkpoint_id == older.checkpoint_id, (
            f"checkpoint {newer.checkpoint_id} (step {newer.step}) has parent {newer.parent_checkpoint_id}, "
            f"not the checkpoint before it {older.checkpoint_id}: the chain forked"
        )
    if history:
        assert history[-1].parent_checkpoint_id is None
    return len(history)


def expected_steps(tag: str, n: int = 3) -> list[str]:
    return [f"s{i}:{tag}" for i in range(n)]


# --- enqueue / reject on one session -------------------------------------------------------


@pytest.mark.slow
async def test_enqueue_200_concurrent_invokes_run_one_at_a_time_in_order(db_url: str) -> None:
    async with make_manager(chat_graph(), db_url) as manager:
        session = await manager.create("chat")
        results = await asyncio.gather(
            *(session.invoke({"user_input": str(i)}, multitask="enqueue") for i in range(200))
        )

        inputs = [str(i) for i in range(200)]
        assert [r.status for r in results] == ["complete"] * 200
        # FIFO: the i-th submitted run saw exactly the i runs before it, none after.
        for i, result in enumerate(results):
            assert result.state["turns"] == inputs[: i + 1], (
                f"run {i} saw {result.state['turns'][-3:]}"
            )
            assert result.state["response"] == f"turn {i + 1}: {i}"

        assert (await session.get_state())["turns"] == inputs
        info = await session.refresh()
        assert info.status == SessionStatus.COMPLETED
        assert info.run_count == 200
        assert info.lease_owner is None
        runs = await all_runs(session)
        assert len(runs) == 200
        assert {r.status for r in runs} == {RunStatus.SUCCESS}
        assert {r.run_id for r in runs} == {r.run_id for r in results}
        assert await assert_linear_history(session) >= 200
        stats = await manager.stats()
        assert stats.runs_total == 200
        assert stats.by_status == {"completed": 1}


async def test_reject_200_concurrent_invokes_exactly_the_accepted_ones_land(db_url: str) -> None:
    async with make_manager(slow_graph(2), db_url) as manager:
        session = await manager.create("busy")
        outcomes = await asyncio.gather(
            *(
                session.invoke({"user_input": str(i), "delay": 0.02}, multitask="reject")
                for i in range(200)
            ),
            return_exceptions=True,
        )

        accepted = [i for i, o in enumerate(outcomes) if not isinstance(o, BaseException)]
        refused = [o for o in outcomes if isinstance(o, SessionBusy)]
        others = [
            o for o in outcomes if isinstance(o, BaseException) and not isinstance(o, SessionBusy)
        ]
        assert others == []
        assert len(accepted) + len(refused) == 200
        assert len(accepted) >= 1
        # All 200 calls reach the gate before the first run ends: some must have been refused.
        assert len(refused) >= 1
        for busy in refused:
            assert busy.session_id == "busy"
            assert busy.to_dict()["error"] == "session_busy"

        steps = await steps_of(session)
        assert len(steps) == 2 * len(accepted)
        assert steps == [s for i in accepted for s in (f"s0:{i}", f"s1:{i}")]
        info = await session.refresh()
        assert info.status == SessionStatus.COMPLETED
        assert info.run_count == len(accepted)
        runs = await all_runs(session)
        assert len(runs) == len(accepted)  # a refused invoke leaves no run behind
        assert {r.status for r in runs} == {RunStatus.SUCCESS}


# --- many sessions ------------------------------------------------------------------------


@pytest.mark.slow
async def test_1000_sessions_invoked_concurrently_never_cross(db_url: str) -> None:
    async with make_manager(chat_graph(), db_url) as manager:

        async def one(i: int) -> tuple[str, Any]:
            session = await manager.get_or_create(f"user-{i}", owner=f"owner-{i % 7}")
            return session.session_id, await session.invoke({"user_input": f"input-{i}"})

        results = await asyncio.gather(*(one(i) for i in range(1000)))

        for i, (sid, result) in enumerate(results):
            assert sid == f"user-{i}"
            assert result.status == "complete"
            assert result.session_id == sid
            assert result.state["turns"] == [f"input-{i}"]
        for i in range(0, 1000, 1):
            session = await manager.get(f"user-{i}")
            assert session is not None
            assert session.status == SessionStatus.COMPLETED
            assert (await session.get_state())["turns"] == [f"input-{i}"]
        stats = await manager.stats()
        assert stats.total == 1000
        assert stats.by_status == {"completed": 1000}
        assert stats.runs_total == 1000


@pytest.mark.slow
async def test_other_sessions_never_wait_for_a_slow_one(db_url: str) -> None:
    async with make_manager(slow_graph(1), db_url) as manager:
        a = await manager.create("A")
        b = await manager.create("B")
        finished: list[str] = []
        a_status_when_b_done: list[SessionStatus] = []

        async def run_a() -> None:
            await a.invoke({"user_input": "a", "delay": 1.0})
            finished.append("A")

        async def run_b() -> None:
            await wait_until(
                lambda: _status_is(manager, "A", SessionStatus.RUNNING), "session A to be running"
            )
            await b.invoke({"user_input": "b", "delay": 0.0})
            finished.append("B")
            a_status_when_b_done.append((await manager.info("A")).status)

        await asyncio.gather(run_a(), run_b())
        assert finished == ["B", "A"]
        assert a_status_when_b_done == [SessionStatus.RUNNING]
        assert await steps_of(a) == ["s0:a"]
        assert await steps_of(b) == ["s0:b"]


async def _status_is(manager: GraphSessionManager, sid: str, status: SessionStatus) -> bool:
    return (await manager.info(sid)).status == status


# --- interrupt / rollback -----------------------------------------------------------------


async def _start_slow_second_run(
    manager: GraphSessionManager,
) -> tuple[GraphSession, asyncio.Future[Any]]:
    """A session with one finished run ("pre"), then a slow run ("a", 1 s per step) in a
    task, returned once its first step is checkpointed."""
    session = await manager.create("multi")
    await session.invoke({"user_input": "pre", "delay": 0.0})
    first = asyncio.ensure_future(session.invoke({"user_input": "a", "delay": 1.0}))
    await wait_until(
        lambda: _has_step(session, "s0:a"), "the first step of run 'a' to be checkpointed"
    )
    return session, first


async def _has_step(session: GraphSession, step: str) -> bool:
    return step in await steps_of(session)


async def test_multitask_interrupt_cancels_the_running_run_and_keeps_its_finished_steps(
    any_backend: str,
) -> None:
    async with make_manager(slow_graph(3), any_backend) as manager:
        session, first = await _start_slow_second_run(manager)

        second = await session.invoke({"user_input": "b", "delay": 0.0}, multitask="interrupt")
        with pytest.raises(RunCancelled) as cancelled:
            await first

        assert cancelled.value.session_id == "multi"
        assert second.status == "complete"
        steps = await steps_of(session)
        a_steps = [s for s in steps if s.endswith(":a")]
        # The cancelled run's finished steps stay (at least s0, never all three), then b's.
        assert a_steps and a_steps == expected_steps("a")[: len(a_steps)] and len(a_steps) < 3
        assert steps == expected_steps("pre") + a_steps + expected_steps("b")
        assert second.state["steps"] == steps

        runs = await all_runs(session)
        assert [r.status for r in runs] == [
            RunStatus.SUCCESS,
            RunStatus.CANCELLED,
            RunStatus.SUCCESS,
        ]
        assert runs[1].run_id == cancelled.value.run_id
        assert runs[1].multitask == "enqueue" and runs[2].multitask == "interrupt"
        info = await session.refresh()
        assert info.status == SessionStatus.COMPLETED
        assert info.lease_owner is None
        events = await session.events(limit=1000)
        cancels = [e for e in events if e.type == EventType.RUN_CANCELLED]
        assert [(e.run_id, e.data.get("reason")) for e in cancels] == [
            (cancelled.value.run_id, "interrupt")
        ]
        await assert_linear_history(session)


@pytest.mark.slow
async def test_multitask_rollback_cancels_the_running_run_and_restores_the_state_before_it(
    any_backend: str,
) -> None:
    async with make_manager(slow_graph(3), any_backend) as manager:
        session, first = await _start_slow_second_run(manager)

        second = await session.invoke({"user_input": "b", "delay": 0.0}, multitask="rollback")
        with pytest.raises(RunCancelled) as cancelled:
            await first

        assert cancelled.value.session_id == "multi"
        assert second.status == "complete"
        steps = await steps_of(session)
        assert steps == expected_steps("pre") + expected_steps("b")
        # Not only the head: no checkpoint of the rolled-back run is left in the history.
        history = await session.checkpoints(limit=100)
        assert history, "the session has checkpoints"
        for checkpoint in history:
            assert not [s for s in checkpoint.values.get("steps", []) if s.endswith(":a")], (
                checkpoint.checkpoint_id
            )
            assert checkpoint.values.get("user_input") != "a", checkpoint.checkpoint_id

        runs = await all_runs(session)
        assert [r.status for r in runs] == [
            RunStatus.SUCCESS,
            RunStatus.CANCELLED,
            RunStatus.SUCCESS,
        ]
        assert runs[1].run_id == cancelled.value.run_id
        info = await session.refresh()
        assert info.status == SessionStatus.COMPLETED
        assert info.lease_owner is None
        events = await session.events(limit=1000)
        cancels = [e for e in events if e.type == EventType.RUN_CANCELLED]
        assert [(e.run_id, e.data.get("reason")) for e in cancels] == [
            (cancelled.value.run_id, "rollback")
        ]
        await assert_linear_history(session)


class AskState(TypedDict, total=False):
    user_input: str
    log: Annotated[list[str], operator.add]


def ask_then_work_graph() -> StateGraph:
    """ask (interrupt) -> work; `work` takes 1 s after the answer "first", none otherwise."""

    async def ask(state: AskState) -> dict[str, Any]:
        return {"log": [f"answer:{interrupt({'question': 'go on?'})}"]}

    async def work(state: AskState) -> dict[str, Any]:
        await asyncio.sleep(1.0 if state["log"][-1] == "answer:first" else 0.0)
        return {"log": ["work"]}

    b = StateGraph(AskState)
    b.add_node("ask", ask)
    b.add_node("work", work)
    b.add_edge(START, "ask")
    b.add_edge("ask", "work")
    b.add_edge("work", END)
    return b


async def test_multitask_rollback_of_a_resume_restores_the_pending_interrupt(
    any_backend: str,
) -> None:
    async with make_manager(ask_then_work_graph(), any_backend) as manager:
        session = await manager.create("ask")
        assert (await session.invoke({"user_input": "go"})).status == "interrupted"
        first = asyncio.ensure_future(session.invoke(Command(resume="first")))
        await wait_until(
            lambda: _log_has(session, "answer:first"),
            "the resumed node to finish with the answer 'first'",
        )

        second = await session.invoke(Command(resume="second"), multitask="rollback")
        with pytest.raises(RunCancelled):
            await first

        # Rolled back to the pending interrupt: the second answer is the one that counts.
        assert second.state["log"] == ["answer:second", "work"]
        history = await session.checkpoints(limit=100)
        assert not [c.checkpoint_id for c in history if "answer:first" in c.values.get("log", [])]


async def _log_has(session: GraphSession, entry: str) -> bool:
    return entry in (await session.get_state()).get("log", [])


# --- the sync facade from threads ---------------------------------------------------------


def _run_threads(target: Callable[[int], None], n: int) -> None:
    errors: list[BaseException] = []

    def guarded(t: int) -> None:
        try:
            target(t)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(t,), name=f"caller-{t}") for t in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not [t.name for t in threads if t.is_alive()], "threads still running"
    assert errors == []


@pytest.mark.slow
def test_sync_facade_8_threads_x_25_invokes_on_one_session_loses_nothing(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'sync.db'}"
    with SyncGraphSessionManager(graph=chat_graph(), backend=url, sweep_interval=None) as manager:
        manager.create("shared")

        def caller(t: int) -> None:
            session = manager.get_or_create("shared")  # each thread its own handle
            for j in range(25):
                result = session.invoke({"user_input": f"{t}-{j}"})
                assert result.status == "complete"
                assert result.state["turns"][-1] == f"{t}-{j}"

        _run_threads(caller, 8)

        session = manager.get("shared")
        assert session is not None
        turns = session.get_state()["turns"]
        assert len(turns) == 200
        assert sorted(turns) == sorted(f"{t}-{j}" for t in range(8) for j in range(25))
        for t in range(8):  # each thread's invokes landed in the order it made them
            assert [x for x in turns if x.startswith(f"{t}-")] == [f"{t}-{j}" for j in range(25)]
        info = session.refresh()
        assert info.run_count == 200
        assert info.status == SessionStatus.COMPLETED
        assert len(session.runs(limit=1000)) == 200


@pytest.mark.slow
def test_sync_facade_threads_on_different_sessions(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'sync.db'}"
    with SyncGraphSessionManager(graph=chat_graph(), backend=url, sweep_interval=None) as manager:

        def caller(t: int) -> None:
            session = manager.get_or_create(f"thread-{t}")
            for j in range(25):
                session.invoke({"user_input": f"{t}-{j}"})

        _run_threads(caller, 8)

        for t in range(8):
            session = manager.get(f"thread-{t}")
            assert session is not None
            assert session.get_state()["turns"] == [f"{t}-{j}" for j in range(25)]
            assert session.refresh().run_count == 25
        assert manager.stats().total == 8


# --- two managers on one file ---------------------------------------------------------------


async def test_two_managers_on_one_file_enqueue_on_the_same_session(db_url: str) -> None:
    async with make_manager(chat_graph(), db_url) as m1, make_manager(chat_graph(), db_url) as m2:
        s1 = await m1.get_or_create("shared")
        s2 = await m2.get_or_create("shared")
        seen_running_by: set[str | None] = set()
        stop = asyncio.Event()

        # The registry never shows a running row without a lease, nor a lease of a third party.
        async def watch() -> None:
            while not stop.is_set():
                info = await m1.backend.get_session("shared")
                assert info is not None
                if info.status == SessionStatus.RUNNING:
                    assert info.lease_owner is not None
                    seen_running_by.add(info.lease_owner)
                await asyncio.sleep(0.005)

        watcher = asyncio.ensure_future(watch())
        calls = [
            (s1 if i % 2 == 0 else s2).invoke(
                {"user_input": f"{'m1' if i % 2 == 0 else 'm2'}-{i}"}, multitask="enqueue"
            )
            for i in range(100)
        ]
        results = await asyncio.gather(*calls)
        stop.set()
        await watcher

        assert [r.status for r in results] == ["complete"] * 100
        turns = (await s1.get_state())["turns"]
        assert len(turns) == 100
        assert sorted(turns) == sorted(f"{'m1' if i % 2 == 0 else 'm2'}-{i}" for i in range(100))
        for tag in ("m1", "m2"):  # each manager keeps its own FIFO order
            mine = [t for t in turns if t.startswith(tag)]
            assert mine == sorted(mine, key=lambda t: int(t.split("-")[1]))
        # Each run continued from the one before it, whichever manager ran it.
        by_len = sorted(results, key=lambda r: len(r.state["turns"]))
        assert [len(r.state["turns"]) for r in by_len] == list(range(1, 101))
        for prev, nxt in zip(by_len, by_len[1:], strict=False):
            assert nxt.state["turns"][:-1] == prev.state["turns"]
        for manager in (m1, m2):
            info = await manager.info("shared")
            assert info.status == SessionStatus.COMPLETED
            assert info.lease_owner is None
            assert info.run_count == 100
        runs = await all_runs(s2)
        assert len(runs) == 100
        assert {r.status for r in runs} == {RunStatus.SUCCESS}
        assert seen_running_by <= {m1.context.lease_owner, m2.context.lease_owner}
        assert await assert_linear_history(s1) >= 100


# --- cancelling the caller --------------------------------------------------------------------


@pytest.mark.slow
async def test_cancelling_the_callers_task_leaves_the_session_not_running(any_backend: str) -> None:
    async with make_manager(slow_graph(3), any_backend) as manager:
        session = await manager.create("impatient")
        await session.invoke({"user_input": "pre", "delay": 0.0})

        with pytest.raises(TimeoutError):
            await asyncio.wait_for(session.invoke({"user_input": "a", "delay": 2.0}), timeout=1.0)

        info = await session.refresh()
        assert info.status != SessionStatus.RUNNING
        # The cancelled run left work pending in its checkpoint: failed, with the reason.
        assert info.status == SessionStatus.FAILED
        assert info.last_error is not None and "cancelled" in info.last_error
        assert info.lease_owner is None
        runs = await all_runs(session)
        assert [r.status for r in runs] == [RunStatus.SUCCESS, RunStatus.CANCELLED]
        assert runs[1].finished_at is not None
        events = await session.events(limit=1000)
        assert EventType.RUN_CANCELLED in [e.type for e in events]

        again = await session.invoke({"user_input": "b", "delay": 0.0}, multitask="reject")
        assert again.status == "complete"
        assert await steps_of(session) == expected_steps("pre") + expected_steps("b")
        info = await session.refresh()
        assert info.status == SessionStatus.COMPLETED
        assert [r.status for r in await all_runs(session)] == [
            RunStatus.SUCCESS,
            RunStatus.CANCELLED,
            RunStatus.SUCCESS,
        ]


@pytest.mark.slow
async def test_cancelling_a_queued_caller_drops_its_run_and_keeps_the_queue_going(
    db_url: str,
) -> None:
    async with make_manager(slow_graph(1), db_url) as manager:
        session = await manager.create("queue")
        running = asyncio.ensure_future(session.invoke({"user_input": "a", "delay": 1.0}))
        await wait_until(
            lambda: _status_is(manager, "queue", SessionStatus.RUNNING), "run 'a' to start"
        )
        queued = [
            asyncio.ensure_future(
                session.invoke({"user_input": tag, "delay": 0.0}, multitask="enqueue")
            )
            for tag in ("b", "c", "d")
        ]
        await asyncio.sleep(0.05)  # let them queue behind 'a'
        queued[1].cancel()  # 'c' gives up while waiting its turn
        results = await asyncio.gather(running, *queued, return_exceptions=True)

        assert isinstance(results[2], asyncio.CancelledError)
        assert [r.status for i, r in enumerate(results) if i != 2] == ["complete"] * 3
        assert await steps_of(session) == ["s0:a", "s0:b", "s0:d"]  # 'c' never ran; order kept
        runs = await all_runs(session)
        assert [r.status for r in runs] == [RunStatus.SUCCESS] * 3  # and left no run behind
        info = await session.refresh()
        assert info.status == SessionStatus.COMPLETED and info.run_count == 3


async def test_cancelling_the_caller_at_any_point_never_leaves_the_session_running(
    db_url: str,
) -> None:
    """Cancel the invoke after k loop iterations, for many k: whatever point the cancellation
    lands on (waiting for the gate, starting the run, running the graph), the session must
    end up not running, no run row may stay 'running', and another manager must be able to
    run the session."""
    stuck: list[str] = []
    async with make_manager(slow_graph(1), db_url) as manager:
        for k in range(0, 12):
            sid = f"cancel-{k}"
            session = await manager.create(sid)
            task = asyncio.ensure_future(session.invoke({"user_input": "a", "delay": 5.0}))
            for _ in range(k):
                await asyncio.sleep(0)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            info = await session.refresh()
            runs = await session.runs()
            if info.status == SessionStatus.RUNNING or any(
                r.status == RunStatus.RUNNING for r in runs
            ):
                stuck.append(f"k={k}: status={info.status} runs={[str(r.status) for r in runs]}")

        # The consequence: another manager (or process) sees a live lease and waits forever.
        async with make_manager(slow_graph(1), db_url) as other:
            for k in range(0, 12):
                other_session = await other.get(f"cancel-{k}")
                assert other_session is not None
                try:
                    await other_session.invoke(
                        {"user_input": "b", "delay": 0.0}, multitask="reject"
                    )
                except SessionBusy as exc:
                    stuck.append(f"k={k}: another manager is refused: {exc}")
    assert stuck == []


async def test_close_refuses_queued_runs_and_leaves_nothing_running(db_url: str) -> None:
    """Regression: a run queued behind the one close() cancelled started against a closing
    manager and left the session 'running'."""
    manager = make_manager(slow_graph(3), db_url, shutdown_timeout=0.01)
    await manager.open()
    session = await manager.create("closing")
    first = asyncio.ensure_future(session.invoke({"user_input": "a", "delay": 1.0}))
    queued = asyncio.ensure_future(session.invoke({"user_input": "b", "delay": 0.0}))
    await wait_until(lambda: _status_is(manager, "closing", SessionStatus.RUNNING), "a running run")
    await manager.close()
    results = await asyncio.gather(first, queued, return_exceptions=True)
    assert isinstance(results[0], RunCancelled)
    assert isinstance(results[1], ManagerClosed)
    async with make_manager(slow_graph(3), db_url) as again:
        info = await again.info("closing")
        assert info.status != SessionStatus.RUNNING
        assert again.repaired == []


@pytest.mark.parametrize("strategy", ["interrupt", "rollback"])
async def test_interrupt_and_rollback_cancel_the_queued_runs_too(
    any_backend: str, strategy: str
) -> None:
    """Regression: in a burst, ``interrupt``/``rollback`` cancelled only the running run;
    the queued ones still ran afterwards (the strategy degraded to ``enqueue``)."""
    async with make_manager(slow_graph(2), any_backend) as manager:
        session = await manager.create("s")
        running = asyncio.ensure_future(session.invoke({"user_input": "run", "delay": 0.3}))
        await wait_until(
            lambda: _status_is(manager, "s", SessionStatus.RUNNING), "the first run to start"
        )
        queued = [
            asyncio.ensure_future(session.invoke({"user_input": f"q{i}", "delay": 0.01}))
            for i in range(20)
        ]
        await asyncio.sleep(0.05)
        result = await session.invoke({"user_input": "new", "delay": 0.01}, multitask=strategy)
        assert result.status == "complete"
        outcomes = await asyncio.gather(running, *queued, return_exceptions=True)
        assert all(isinstance(o, RunCancelled) for o in outcomes), outcomes
        state = (await session.get_state())["steps"]
        assert not any(s.split(":")[1].startswith("q") for s in state), state
        assert state[-2:] == ["s0:new", "s1:new"]


async def test_a_burst_of_interrupt_invokes_runs_only_the_last(any_backend: str) -> None:
    async with make_manager(slow_graph(2), any_backend) as manager:
        session = await manager.create("s")
        calls = [
            asyncio.ensure_future(
                session.invoke({"user_input": str(i), "delay": 0.05}, multitask="interrupt")
            )
            for i in range(50)
        ]
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        done = [i for i, o in enumerate(outcomes) if not isinstance(o, BaseException)]
        assert done == [49], outcomes
        assert all(isinstance(o, RunCancelled) for o in outcomes[:49])
        assert (await session.get_state())["steps"] == ["s0:49", "s1:49"]
        assert (await manager.info("s")).status == SessionStatus.COMPLETED


@pytest.mark.parametrize(
    "configurable",
    [
        {"__pregel_checkpointer": None},
        {"__pregel_store": None},
        {"__anything_internal": 1},
        {"checkpoint_ns": "elsewhere"},
        {"checkpoint_map": {}},
    ],
)
async def test_reserved_configurable_keys_are_refused(
    any_backend: str, configurable: dict[str, Any]
) -> None:
    """Regression: ``__pregel_checkpointer: None`` in configurable ran the graph without
    persistence, silently."""
    async with make_manager(chat_graph(), any_backend) as manager:
        session = await manager.create("s")
        with pytest.raises(InvalidInput) as err:
            await session.invoke({"user_input": "x"}, config={"configurable": configurable})
        assert next(iter(configurable)) in str(err.value)
        assert await manager.backend.latest_checkpoint_id("s") is None  # nothing ran
        ok = await session.invoke({"user_input": "y"}, config={"configurable": {"user": "u1"}})
        assert ok.state["turns"] == ["y"]
        assert await manager.backend.latest_checkpoint_id("s") is not None


async def _status_is(manager: GraphSessionManager, session_id: str, status: SessionStatus) -> bool:
    return (await manager.info(session_id)).status == status
