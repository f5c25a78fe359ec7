"""Differential tests: our savers read back exactly what LangGraph's own SqliteSaver does.

Random linear graphs (Hypothesis) built from nodes that append, mutate lists in place,
replace and remove LangChain messages by id, nest dicts, interrupt, and run subgraphs,
driven by random turn sequences (inputs, resumes, forks from older checkpoints, deleting
the checkpoints of an earlier run in the middle of the thread, reopening) on the
same inputs against both savers; after every turn the state, the whole history, history
pages and subgraph states must be identical (checkpoint ids normalized to positions).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver as LangGraphSqliteSaver
from langgraph.types import Command, StateSnapshot
from support.checkpoint_values import typed, vandalize
from support.delta_graphs import random_delta_builder
from support.saver_graphs import NODES, build

from graph_sessions.checkpoint import SqliteSaver
from graph_sessions.crypto import generate_key

#: the key of the runs with encryption at rest on (``encrypt``): same answers, sealed rows
KEY = generate_key("diff")

pytestmark = pytest.mark.slow

KINDS = sorted(NODES)
#: nodes that mutate a list element in place: outside the contract of ``share_values``
IN_PLACE = {"mutate_message_in_place", "mutate_log_nested"}


def _norm_snapshot(snap: StateSnapshot, ids: dict[str, int]) -> Any:
    def cid(config: Any) -> Any:
        if not config:
            return None
        return ids.get(config["configurable"].get("checkpoint_id"), "?")

    metadata = dict(snap.metadata or {})
    metadata.pop("run_id", None)
    parents = metadata.pop("parents", {}) or {}
    return {
        "values": typed(snap.values),
        "next": snap.next,
        "metadata": metadata,
        "parents": sorted(parents),
        "config": cid(snap.config),
        "parent": cid(snap.parent_config),
        "tasks": [
            (t.name, [i.value for i in t.interrupts], t.error is not None, t.result)
            for t in snap.tasks
        ],
        "interrupts": [i.value for i in snap.interrupts],
    }


def _norm_output(out: Any) -> Any:
    out = dict(out)
    if "__interrupt__" in out:  # interrupt ids derive from (different) checkpoint ids
        out["__interrupt__"] = [i.value for i in out["__interrupt__"]]
    return out


def _history(graph: Any, config: Any, **kwargs: Any) -> tuple[list[Any], dict[str, int]]:
    snaps = list(graph.get_state_history(config, **kwargs))
    full = list(graph.get_state_history(config))
    ids = {s.config["configurable"]["checkpoint_id"]: i for i, s in enumerate(full)}
    return [_norm_snapshot(s, ids) for s in snaps], ids


def _compare(ours: Any, theirs: Any, config: Any, *, share: bool = False) -> None:
    # what a caller does to a state it read must not change what is read next (shared
    # values are the caller's promise not to)
    if not share:
        before = typed(ours.get_state(config).values)
        vandalize(ours.get_state(config).values)
        for snap in ours.get_state_history(config, limit=3):
            vandalize(snap.values)
        assert typed(ours.get_state(config).values) == before
    h_ours, ids_ours = _history(ours, config)
    h_theirs, ids_theirs = _history(theirs, config)
    assert h_ours == h_theirs
    assert _norm_snapshot(ours.get_state(config), ids_ours) == _norm_snapshot(
        theirs.get_state(config), ids_theirs
    )
    sub_ours = ours.get_state(config, subgraphs=True)
    sub_theirs = theirs.get_state(config, subgraphs=True)
    for t_ours, t_theirs in zip(sub_ours.tasks, sub_theirs.tasks, strict=True):
        if t_ours.state is not None or t_theirs.state is not None:
            assert isinstance(t_ours.state, StateSnapshot) and isinstance(
                t_theirs.state, StateSnapshot
            )
            assert typed(t_ours.state.values) == typed(t_theirs.state.values)
            assert t_ours.state.next == t_theirs.state.next
    # pages of the history: limit, before, filter
    if len(ids_ours) > 3:
        by_pos_ours = {v: k for k, v in ids_ours.items()}
        by_pos_theirs = {v: k for k, v in ids_theirs.items()}
        for pos in (1, len(ids_ours) // 2):
            page_ours, _ = _history(
                ours, config, limit=3, before={"configurable": {"checkpoint_id": by_pos_ours[pos]}}
            )
            page_theirs, _ = _history(
                theirs,
                config,
                limit=3,
                before={"configurable": {"checkpoint_id": by_pos_theirs[pos]}},
            )
            assert page_ours == page_theirs
        for source in ("input", "loop"):
            f_ours, _ = _history(ours, config, filter={"source": source}, limit=4)
            f_theirs, _ = _history(theirs, config, filter={"source": source}, limit=4)
            assert f_ours == f_theirs
        # a checkpoint in the middle, read by id
        mid_ours = {
            "configurable": {
                **config["configurable"],
                "checkpoint_id": by_pos_ours[len(ids_ours) // 2],
            }
        }
        mid_theirs = {
            "configurable": {
                **config["configurable"],
                "checkpoint_id": by_pos_theirs[len(ids_theirs) // 2],
            }
        }
        assert _norm_snapshot(ours.get_state(mid_ours), ids_ours) == _norm_snapshot(
            theirs.get_state(mid_theirs), ids_theirs
        )


turns = st.lists(
    st.one_of(
        st.tuples(st.just("input"), st.integers(0, 3)),
        st.tuples(st.just("fork"), st.integers(1, 6)),
        st.tuples(st.just("reopen"), st.just(0)),
        st.tuples(st.just("delete_run"), st.integers(0, 8)),
    ),
    min_size=3,
    max_size=9,
)


def _with_run(config: Any, turn: int) -> Any:
    # the same run id on both sides, recorded in the metadata: "delete_run" names it
    return {"configurable": {**config["configurable"], "run_id": f"run-{turn}"}}


def _delete_theirs(conn: sqlite3.Connection, run_id: str) -> None:
    """LangGraph's SqliteSaver has no ``delete_for_runs``: the same deletion in SQL."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'checkpoints'").fetchone():
        return  # nothing stored yet
    ids = [
        r[0]
        for r in conn.execute(
            "SELECT checkpoint_id FROM checkpoints WHERE json_extract(metadata, '$.run_id') = ?",
            (run_id,),
        )
    ]
    for table in ("checkpoints", "writes"):
        conn.executemany(f"DELETE FROM {table} WHERE checkpoint_id = ?", [(i,) for i in ids])
    conn.commit()


def _run_turn(graph: Any, config: Any, op: str, arg: int, turn: int) -> Any:
    state = graph.get_state(config)
    if state.next and state.interrupts:
        return graph.invoke(
            Command(resume=f"yes-{turn}"), _with_run(config, turn), durability="sync"
        )
    if op == "fork":
        history = list(graph.get_state_history(config))
        if len(history) > arg:
            target = _with_run(history[arg].config, turn)
            return graph.invoke(
                {"messages": [HumanMessage(content=f"fork {turn}", id=f"h-fork-{turn}")]},
                target,
                durability="sync",
            )
    msgs = [HumanMessage(content=f"hi {turn}.{j}", id=f"h-{turn}-{j}") for j in range(arg)]
    return graph.invoke(
        {"messages": msgs, "log": [f"in-{turn}"]}, _with_run(config, turn), durability="sync"
    )


@settings(
    max_examples=int(os.environ.get("SAVER_DIFF_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=5),
    ops=turns,
    snapshot_every=st.sampled_from([1, 2, 3, 100]),
    share=st.booleans(),
    encrypt=st.booleans(),
)
def test_same_as_langgraph(
    tmp_path_factory: pytest.TempPathFactory,
    kinds: list[str],
    ops: list[tuple[str, int]],
    snapshot_every: int,
    share: bool,
    encrypt: bool,
) -> None:
    assume(not (share and IN_PLACE & set(kinds)))
    folder: Path = tmp_path_factory.mktemp("diff")
    builder = build(kinds)
    theirs_conn = sqlite3.connect(folder / "theirs.db", check_same_thread=False)
    ours_conn = sqlite3.connect(folder / "ours.db", check_same_thread=False)
    try:
        theirs = builder.compile(checkpointer=LangGraphSqliteSaver(theirs_conn))
        saver = SqliteSaver(
            ours_conn,
            snapshot_every=snapshot_every,
            share_values=share,
            encryption_key=KEY if encrypt else None,
        )
        ours = builder.compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "t1"}}
        for turn, (op, arg) in enumerate(ops):
            if op == "reopen":  # a new process: nothing remembered
                saver = SqliteSaver(
                    ours_conn,
                    snapshot_every=snapshot_every,
                    share_values=share,
                    encryption_key=KEY if encrypt else None,
                )
                ours = builder.compile(checkpointer=saver)
                op = "input"
            if op == "delete_run":  # checkpoints of one earlier run vanish mid-thread
                saver.delete_for_runs([f"run-{arg}"])
                _delete_theirs(theirs_conn, f"run-{arg}")
                _compare(ours, theirs, config, share=share)
                continue
            out_theirs = _run_turn(theirs, config, op, arg, turn)
            out_ours = _run_turn(ours, config, op, arg, turn)
            assert typed(_norm_output(out_ours)) == typed(_norm_output(out_theirs))
            _compare(ours, theirs, config, share=share)
    finally:
        theirs_conn.close()
        ours_conn.close()


# --- LangGraph's DeltaChannel ---------------------------------------------------------------

delta_turns = st.lists(
    st.one_of(
        st.tuples(st.just("input"), st.integers(0, 2)),
        st.tuples(st.just("fork"), st.integers(1, 8)),
        st.tuples(st.just("reopen"), st.just(0)),
        st.tuples(st.just("prune"), st.just(0)),
        st.tuples(st.just("retain"), st.integers(1, 4)),
        st.tuples(st.just("delete_run"), st.integers(0, 8)),
        st.tuples(st.just("copy"), st.just(0)),
    ),
    min_size=3,
    max_size=10,
)


def _delta_turn(
    graph: Any, config: Any, op: str, arg: int, turn: int, durability: Any = "sync"
) -> Any:
    state = graph.get_state(config)
    if state.next and state.interrupts:
        return graph.invoke(
            Command(resume=f"yes-{turn}"), _with_run(config, turn), durability=durability
        )
    if op == "fork":
        history = list(graph.get_state_history(config))
        if len(history) > arg:
            target = _with_run(history[arg].config, turn)
            return graph.invoke({"items": [{"fork": turn}]}, target, durability=durability)
    items = [{"in": f"{turn}.{j}"} for j in range(arg)]
    return graph.invoke({"items": items}, _with_run(config, turn), durability=durability)


def _readings(graph: Any, config: Any) -> dict[str, Any]:
    """What each checkpoint of the thread reads, by checkpoint id."""
    return {
        s.config["configurable"]["checkpoint_id"]: (typed(s.values), s.next)
        for s in graph.get_state_history(config)
    }


@settings(
    max_examples=int(os.environ.get("SAVER_DIFF_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    frequency=st.sampled_from([1, 2, 3, 5, 100]),
    parallel=st.booleans(),
    ask=st.booleans(),
    overwrite=st.booleans(),
    models=st.booleans(),
    durability=st.sampled_from(["sync", "async", "exit"]),
    ops=delta_turns,
    snapshot_every=st.sampled_from([1, 3, 100]),
    share=st.booleans(),
    encrypt=st.booleans(),
)
def test_delta_channel_same_as_langgraph(
    tmp_path_factory: pytest.TempPathFactory,
    frequency: int,
    parallel: bool,
    ask: bool,
    overwrite: bool,
    models: bool,
    durability: str,
    ops: list[tuple[str, int]],
    snapshot_every: int,
    share: bool,
    encrypt: bool,
) -> None:
    """DeltaChannel graphs on ours (copying reads, or ``share_values``), LangGraph's SqliteSaver and InMemorySaver: the same
    outputs, states and histories (with forks and interrupts); our fast history hook gives
    what LangGraph's default walk gives on every checkpoint; after our prune, retention,
    delete_for_runs or copy, the checkpoints kept read what they read before and the thread
    goes on as LangGraph's unpruned one does."""
    folder: Path = tmp_path_factory.mktemp("delta")
    builder = random_delta_builder(
        frequency, parallel=parallel, ask=ask, overwrite=overwrite, models=models
    )
    theirs_conn = sqlite3.connect(folder / "theirs.db", check_same_thread=False)
    ours_conn = sqlite3.connect(folder / "ours.db", check_same_thread=False)
    try:
        sides = {
            "theirs": builder.compile(checkpointer=LangGraphSqliteSaver(theirs_conn)),
            "memory": builder.compile(checkpointer=InMemorySaver()),
        }
        saver = SqliteSaver(
            ours_conn,
            snapshot_every=snapshot_every,
            share_values=share,
            encryption_key=KEY if encrypt else None,
        )
        ours = builder.compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "t1"}}
        diverged = False  # ours lost checkpoints the others keep: compare heads only
        for turn, (op, arg) in enumerate(ops):
            if op == "reopen":
                saver = SqliteSaver(
                    ours_conn,
                    snapshot_every=snapshot_every,
                    share_values=share,
                    encryption_key=KEY if encrypt else None,
                )
                ours = builder.compile(checkpointer=saver)
                op = "input"
            if op in ("prune", "retain", "delete_run", "copy"):
                before = _readings(ours, config)
                head = ours.get_state(config)
                if op == "prune":
                    saver.prune(["t1"], strategy="keep_latest")
                    kept = [head.config["configurable"]["checkpoint_id"]] if head.values else []
                elif op == "retain":
                    with saver._locked() as conn:  # what checkpoint_retention runs
                        saver.engine.keep_newest(conn, "t1", arg)
                    kept = sorted(before, reverse=True)[:arg]  # the newest ``arg``
                elif op == "delete_run":
                    saver.delete_for_runs([f"run-{arg}"])
                    kept = [cid for cid in before if cid in _readings(ours, config)][:1]
                else:
                    saver.copy_thread("t1", "t-copy")
                    copy = {"configurable": {"thread_id": "t-copy"}}
                    assert _readings(ours, copy) == before
                    saver.delete_thread("t-copy")
                    kept = list(before)
                after = _readings(ours, config)
                for cid in kept:
                    assert after.get(cid) == before[cid], (op, cid)
                diverged = diverged or op != "copy"
                if op == "delete_run":  # the head may have gone: continue from what is left
                    break
                continue
            if diverged and op == "fork":
                op = "input"
            outs = {
                name: _delta_turn(g, config, op, arg, turn, durability) for name, g in sides.items()
            }
            out_ours = _delta_turn(ours, config, op, arg, turn, durability)
            for out in outs.values():
                assert typed(_norm_output(out_ours)) == typed(_norm_output(out))
            for g in sides.values():
                assert typed(ours.get_state(config).values) == typed(g.get_state(config).values)
                assert ours.get_state(config).next == g.get_state(config).next
            if not diverged:
                h_ours, _ = _history(ours, config)
                for g in sides.values():
                    assert h_ours == _history(g, config)[0]
            # what a caller does to a state it read must not change what is read next
            # (shared values are the caller's promise not to)
            if not share:
                first = typed(ours.get_state(config).values)
                vandalize(ours.get_state(config).values)
                assert typed(ours.get_state(config).values) == first
            # the fast hook against LangGraph's default walk, on every checkpoint
            for snap in ours.get_state_history(config):
                fast = saver.get_delta_channel_history(config=snap.config, channels=["items"])
                slow = BaseCheckpointSaver.get_delta_channel_history(
                    saver, config=snap.config, channels=["items"]
                )
                assert typed(dict(fast)) == typed(dict(slow))
    finally:
        theirs_conn.close()
        ours_conn.close()
