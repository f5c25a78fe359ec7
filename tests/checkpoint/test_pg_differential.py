"""Differential tests on Postgres: our Postgres savers read back exactly what LangGraph's
own Postgres savers do, on the same random graphs and turn sequences as
``test_differential.py`` (inputs, resumes, forks, deleting one run's checkpoints mid-thread,
reopening), both savers in one database (their tables do not collide); after every turn
the state, the whole history, history pages, filters and subgraph states are identical.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.postgres import PostgresSaver as LangGraphPostgresSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver as LangGraphAsyncPostgresSaver
from langgraph.types import Command
from psycopg import Connection
from psycopg.rows import dict_row, tuple_row
from support.checkpoint_values import typed
from support.delta_graphs import random_delta_builder
from support.saver_graphs import NODES, build
from test_differential import (
    _compare,
    _delta_turn,
    _history,
    _norm_output,
    _run_turn,
    _with_run,
    delta_turns,
    turns,
)

from graph_sessions.checkpoint import AsyncPostgresSaver, PostgresSaver

pytestmark = pytest.mark.slow

KINDS = sorted(NODES)
EXAMPLES = int(os.environ.get("SAVER_DIFF_EXAMPLES", "10"))
_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _delete_theirs(conn: Connection[Any], run_id: str) -> None:
    """LangGraph's PostgresSaver has no ``delete_for_runs``: the same deletion in SQL."""
    with conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(
            "SELECT checkpoint_id FROM checkpoints WHERE metadata->>'run_id' = %s", (run_id,)
        )
        ids = [r[0] for r in cur.fetchall()]
        for table in ("checkpoints", "checkpoint_writes"):
            cur.executemany(f"DELETE FROM {table} WHERE checkpoint_id = %s", [(i,) for i in ids])


def _connect(url: str, **kwargs: Any) -> Connection[Any]:
    return Connection.connect(url, autocommit=True, prepare_threshold=0, **kwargs)


@_SETTINGS
@given(
    kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=5),
    ops=turns,
    snapshot_every=st.sampled_from([1, 2, 100]),
)
def test_sync_same_as_langgraph_postgres(
    postgres_url: str, kinds: list[str], ops: list[tuple[str, int]], snapshot_every: int
) -> None:
    builder = build(kinds)
    with (
        _connect(postgres_url, row_factory=dict_row) as theirs_conn,
        _connect(postgres_url) as ours_conn,
    ):
        theirs_saver = LangGraphPostgresSaver(theirs_conn)  # type: ignore[arg-type]
        theirs_saver.setup()
        theirs = builder.compile(checkpointer=theirs_saver)
        saver = PostgresSaver(ours_conn, snapshot_every=snapshot_every)
        ours = builder.compile(checkpointer=saver)
        config = {"configurable": {"thread_id": f"t-{uuid.uuid4().hex}"}}
        for turn, (op, arg) in enumerate(ops):
            if op == "reopen":  # a new process: nothing remembered
                saver = PostgresSaver(ours_conn, snapshot_every=snapshot_every)
                ours = builder.compile(checkpointer=saver)
                op = "input"
            if op == "delete_run":
                run = f"run-{arg}"
                saver.delete_for_runs([run])
                _delete_theirs(theirs_conn, run)
                _compare(ours, theirs, config)
                continue
            out_theirs = _run_turn(theirs, config, op, arg, turn)
            out_ours = _run_turn(ours, config, op, arg, turn)
            assert typed(_norm_output(out_ours)) == typed(_norm_output(out_theirs))
            _compare(ours, theirs, config)


@_SETTINGS
@given(
    kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=4),
    ops=turns,
    share=st.booleans(),
)
def test_async_same_as_langgraph_postgres(
    postgres_url: str, kinds: list[str], ops: list[tuple[str, int]], share: bool
) -> None:
    """``AsyncPostgresSaver`` against LangGraph's: turns run with ``ainvoke`` on the
    loop; the comparisons read through the sync API from another thread."""
    builder = build(kinds)
    if share:
        kinds = [k for k in kinds if k not in ("mutate_message_in_place", "mutate_log_nested")]
        builder = build(kinds or ["append_log"])

    async def scenario() -> None:
        async with (
            LangGraphAsyncPostgresSaver.from_conn_string(postgres_url) as theirs_saver,
            AsyncPostgresSaver.from_conn_string(postgres_url, share_values=share) as saver,
        ):
            await theirs_saver.setup()
            theirs = builder.compile(checkpointer=theirs_saver)
            ours = builder.compile(checkpointer=saver)
            config = {"configurable": {"thread_id": f"t-{uuid.uuid4().hex}"}}
            for turn, (op, arg) in enumerate(ops):
                if op in ("reopen", "delete_run"):
                    op = "input"
                out_theirs = await _arun_turn(theirs, config, op, arg, turn)
                out_ours = await _arun_turn(ours, config, op, arg, turn)
                assert typed(_norm_output(out_ours)) == typed(_norm_output(out_theirs))
                await asyncio.to_thread(_compare, ours, theirs, config, share=share)

    asyncio.run(scenario())


async def _arun_turn(graph: Any, config: Any, op: str, arg: int, turn: int) -> Any:
    """``_run_turn`` with ``ainvoke``."""
    state = await graph.aget_state(config)
    if state.next and state.interrupts:
        return await graph.ainvoke(
            Command(resume=f"yes-{turn}"), _with_run(config, turn), durability="sync"
        )
    if op == "fork":
        history = [s async for s in graph.aget_state_history(config)]
        if len(history) > arg:
            target = _with_run(history[arg].config, turn)
            return await graph.ainvoke(
                {"messages": [HumanMessage(content=f"fork {turn}", id=f"h-fork-{turn}")]},
                target,
                durability="sync",
            )
    msgs = [HumanMessage(content=f"hi {turn}.{j}", id=f"h-{turn}-{j}") for j in range(arg)]
    return await graph.ainvoke(
        {"messages": msgs, "log": [f"in-{turn}"]}, _with_run(config, turn), durability="sync"
    )


@_SETTINGS
@given(
    frequency=st.sampled_from([1, 2, 100]),
    parallel=st.booleans(),
    ask=st.booleans(),
    models=st.booleans(),
    ops=delta_turns,
    snapshot_every=st.sampled_from([1, 100]),
)
def test_delta_channel_same_as_langgraph_postgres(
    postgres_url: str,
    frequency: int,
    parallel: bool,
    ask: bool,
    models: bool,
    ops: list[tuple[str, int]],
    snapshot_every: int,
) -> None:
    """DeltaChannel graphs: the same outputs, states and histories as LangGraph's
    PostgresSaver; our history hook gives what LangGraph's default walk gives, on every
    checkpoint; after our prune the head reads what it read."""
    builder = random_delta_builder(
        frequency, parallel=parallel, ask=ask, overwrite=False, models=models
    )
    with (
        _connect(postgres_url, row_factory=dict_row) as theirs_conn,
        _connect(postgres_url) as ours_conn,
    ):
        theirs_saver = LangGraphPostgresSaver(theirs_conn)
        theirs_saver.setup()
        theirs = builder.compile(checkpointer=theirs_saver)
        saver = PostgresSaver(ours_conn, snapshot_every=snapshot_every)
        ours = builder.compile(checkpointer=saver)
        thread = f"t-{uuid.uuid4().hex}"
        config = {"configurable": {"thread_id": thread}}
        for turn, (op, arg) in enumerate(ops):
            if op == "reopen":
                saver = PostgresSaver(ours_conn, snapshot_every=snapshot_every)
                ours = builder.compile(checkpointer=saver)
                op = "input"
            if op == "prune":
                head = ours.get_state(config)
                saver.prune([thread])
                assert typed(ours.get_state(config).values) == typed(head.values)
                break
            if op in ("retain", "delete_run", "copy"):
                op = "input"
            out_theirs = _delta_turn(theirs, config, op, arg, turn)
            out_ours = _delta_turn(ours, config, op, arg, turn)
            assert typed(_norm_output(out_ours)) == typed(_norm_output(out_theirs))
            assert typed(ours.get_state(config).values) == typed(theirs.get_state(config).values)
            assert _history(ours, config)[0] == _history(theirs, config)[0]
            for snap in ours.get_state_history(config):
                fast = saver.get_delta_channel_history(config=snap.config, channels=["items"])
                slow = BaseCheckpointSaver.get_delta_channel_history(
                    saver, config=snap.config, channels=["items"]
                )
                assert typed(dict(fast)) == typed(dict(slow))
