"""Run-time behaviour of YAML graphs in sessions: interrupt payloads written once, parallel
interrupts, an interrupt inside a YAML subgraph across a restart, map result order, and a
failing python tool (the run fails clearly, the session is `failed`, a retry continues)."""

from __future__ import annotations

from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from support.yaml_files import manager, visible, write

from graph_sessions import GraphSessionManager
from graph_sessions.errors import RunFailed
from graph_sessions.graphs.yaml import load_yaml_graph


async def test_interrupt_payload_is_written_once_per_round(tmp_path: Path) -> None:
    write(
        tmp_path,
        "bump.py",
        """
        CALLS = []

        def bump(state):
            CALLS.append(1)
            return {"counter": (state.get("counter") or 0) + 1}
        """,
    )
    path = write(
        tmp_path,
        "rounds.yaml",
        """
        name: rounds
        state:
          counter: int
        tools:
          bump: {type: python, path: bump.py, function: bump}
        nodes:
          bump: {type: python, tool: bump}
          ask:
            type: interrupt
            message: "Round {state.counter}: go on?"
            resume_key: answer
        edges:
          - {from: START, to: bump}
          - {from: bump, to: ask}
          - {from: ask, to: bump, condition: "answer == 'more'"}
          - {from: ask, to: END}
        """,
    )
    async with manager(str(path), tmp_path) as m:
        s = await m.create()
        r = await s.invoke({})
        assert r.interrupt == {"message": "Round 1: go on?", "resume_key": "answer"}
        r = await s.invoke({"answer": "more"})
        assert r.interrupt == {"message": "Round 2: go on?", "resume_key": "answer"}
        r = await s.invoke({"answer": "stop"})
        assert r.status == "complete"
        assert visible(r.state) == {
            "counter": 2,
            "interrupt_message": "Round 2: go on?",
            "answer": "stop",
        }
        history = list(reversed(await s.checkpoints(limit=50)))
        # The question is computed by one step per round (never on resume)...
        assert sum(c.next == ["ask__prepare"] for c in history) == 2
        # ...and the saved question changes exactly twice.
        seen = [c.values.get("interrupt_message") for c in history]
        changes = [b for a, b in zip(seen, seen[1:], strict=False) if a != b]
        assert changes == ["Round 1: go on?", "Round 2: go on?"]


def test_parallel_interrupt_nodes_each_ask_their_own_question(tmp_path: Path) -> None:
    """Two interrupt nodes in parallel branches share the default `state_key`: each still
    asks its own question (before: LangGraph refused two writes of `interrupt_message`)."""
    path = write(
        tmp_path,
        "both.yaml",
        """
        name: both
        nodes:
          a: {type: interrupt, message: "A?", resume_key: ra}
          b: {type: interrupt, message: "B?", resume_key: rb}
          join: {type: passthrough, output: {both: "{state.ra} {state.rb}"}}
        edges:
          - {from: START, to: [a, b]}
          - {from: a, to: join}
          - {from: b, to: join}
          - {from: join, to: END}
        """,
    )
    graph = load_yaml_graph(path).copy(update={"checkpointer": InMemorySaver()})
    config = {"configurable": {"thread_id": "t"}}
    out = graph.invoke({}, config)
    asked = {i.value["message"]: i.id for i in out["__interrupt__"]}
    assert sorted(asked) == ["A?", "B?"]
    out = graph.invoke(Command(resume={asked["A?"]: "yes", asked["B?"]: "no"}), config)
    assert out["both"] == "yes no"
    assert out["interrupt_message"] in ("A?", "B?")


def review_project(tmp_path: Path) -> Path:
    """A parent and a child graph in the YamlGraph style (a `checkpointer:` section and an
    `interrupt_output_mapping`, both ignored here); the child asks the human."""
    write(
        tmp_path,
        "tally.py",
        """
        CALLS = []

        def tally(state):
            CALLS.append(state.get("request"))
            return len(CALLS)
        """,
    )
    write(
        tmp_path,
        "subgraphs/child.yaml",
        """
        version: "1.0"
        name: review-child
        state:
          incoming: str
          phase: str
          notes: str
          question: str
          answer: str
        nodes:
          prepare:
            type: passthrough
            output:
              phase: "asking"
              notes: "draft for {state.incoming}"
          ask:
            type: interrupt
            message: "Is '{state.notes}' right?"
            state_key: question
            resume_key: answer
          settle:
            type: passthrough
            output:
              phase: "done"
              notes: "{state.notes} -> {state.answer}"
        edges:
          - from: START
            to: prepare
          - from: prepare
            to: ask
          - from: ask
            to: settle
          - from: settle
            to: END
        """,
    )
    return write(
        tmp_path,
        "parent.yaml",
        """
        version: "1.0"
        name: review-parent
        description: Hands the request to a child graph that asks a human.
        checkpointer:
          type: memory
        state:
          request: str
          child_phase: str
          outcome: str
          summary: str
        tools:
          tally: {type: python, path: tally.py, function: tally}
        nodes:
          count:
            type: python
            tool: tally
            state_key: calls
          delegate:
            type: subgraph
            graph: subgraphs/child.yaml
            input_mapping:
              request: incoming
            output_mapping:
              outcome: notes
              child_phase: phase
            interrupt_output_mapping:
              child_phase: phase
          wrap_up:
            type: passthrough
            output:
              summary: "{state.outcome} ({state.child_phase})"
        edges:
          - from: START
            to: count
          - from: count
            to: delegate
          - from: delegate
            to: wrap_up
          - from: wrap_up
            to: END
        """,
    )


async def test_interrupt_inside_a_yaml_subgraph_survives_a_manager_restart(
    tmp_path: Path,
) -> None:
    path = review_project(tmp_path)
    backend = f"sqlite:///{tmp_path / 'sessions.db'}"
    async with GraphSessionManager(graph_path=str(path), backend=backend) as m:
        s = await m.create("ticket-7")
        r = await s.invoke({"request": "refund"})
        assert r.is_interrupted
        assert r.interrupt == {"message": "Is 'draft for refund' right?", "resume_key": "answer"}
    # A new manager (a restarted process) on the same file resumes inside the child.
    async with GraphSessionManager(graph_path=str(path), backend=backend) as m:
        s = await m.get("ticket-7")
        assert s.info.status == "interrupted"
        r = await s.invoke({"answer": "yes"})
        assert r.status == "complete"
        assert visible(r.state) == {
            "request": "refund",
            "calls": 1,  # the parent's step before the subgraph did not run again
            "child_phase": "done",
            "outcome": "draft for refund -> yes",
            "summary": "draft for refund -> yes (done)",
        }


async def test_map_order_and_a_failing_tool_fail_the_run_then_a_retry_continues(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        "work.py",
        """
        import asyncio

        BROKEN = {"on": True}
        SQUARED = []

        async def square(state):
            x = state["x"]
            SQUARED.append(x)
            await asyncio.sleep(0.002 * (20 - x))  # later items finish first
            return x * x

        def publish(state):
            if BROKEN["on"]:
                raise RuntimeError("the publishing service is down")
            return f"published {len(state['squares'])}"
        """,
    )
    path = write(
        tmp_path,
        "work.yaml",
        """
        name: work
        state:
          xs: list
        tools:
          square: {type: python, path: work.py, function: square}
          publish: {type: python, path: work.py, function: publish}
        nodes:
          squares:
            type: map
            over: "{state.xs}"
            as: x
            node: {type: python, tool: square, state_key: y}
            collect: squares
          publish: {type: python, tool: publish, state_key: result}
        edges:
          - {from: START, to: squares}
          - {from: squares, to: publish}
          - {from: publish, to: END}
        """,
    )
    xs = list(range(15))  # more than 10 items: order is numeric, not text
    async with manager(str(path), tmp_path) as m:
        s = await m.create()
        with pytest.raises(RunFailed) as info:
            await s.invoke({"xs": xs})
        assert "RuntimeError: the publishing service is down" in str(info.value)
        cause = info.value.__cause__
        assert cause is not None and any(
            "python node 'publish' (tool 'publish')" in note
            for note in getattr(cause, "__notes__", [])
        )
        assert (await s.refresh()).status == "failed"
        assert (await s.get_state())["squares"] == [x * x for x in xs]
        # Fix the cause and retry: the run continues from the failed step.
        import sys

        work = next(
            v for k, v in sys.modules.items() if k.startswith("_graph_sessions_yaml_tools_work")
        )
        work.BROKEN["on"] = False
        r = await s.invoke(None)
        assert r.status == "complete" and r.state["result"] == "published 15"
        assert sorted(work.SQUARED) == xs  # the map did not run again


def test_interrupt_keys_stay_absent_until_an_interrupt_runs(tmp_path: Path) -> None:
    """The keys interrupt nodes write accept parallel writes (a last-value reducer), yet
    stay absent, not "", while no interrupt ran, as without a reducer."""
    path = write(
        tmp_path,
        "maybe.yaml",
        """
        name: maybe
        state:
          user_input: str
          n: int
        nodes:
          a: {type: passthrough, output: {x: "1"}}
          ask: {type: interrupt, message: "hi"}
        edges:
          - {from: START, to: a}
          - {from: a, to: ask, condition: "n > 5"}
          - {from: a, to: END}
        """,
    )
    assert load_yaml_graph(path).invoke({"n": 1}) == {"n": 1, "x": "1"}
