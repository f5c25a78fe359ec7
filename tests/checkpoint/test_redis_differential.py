"""Differential tests on Redis: our Redis savers read back exactly what LangGraph's
``InMemorySaver`` does, on the random graphs and turn sequences of ``test_differential.py``
(inputs, resumes, forks, deleting one run's checkpoints mid-thread, reopening); after every
turn the state, the whole history, history pages, filters and subgraph states are
identical. DeltaChannel graphs too, with prune / delete_for_runs / copy keeping what the
kept checkpoints read."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from support.checkpoint_values import typed
from support.delta_graphs import random_delta_builder
from support.redis import RedisServer
from support.saver_graphs import NODES, build
from test_differential import (
    _compare,
    _delta_turn,
    _history,
    _norm_output,
    _readings,
    _run_turn,
    delta_turns,
    turns,
)
from test_pg_differential import _arun_turn

from graph_sessions.checkpoint import AsyncRedisSaver, RedisSaver

pytestmark = pytest.mark.slow

KINDS = sorted(NODES)
_SETTINGS = settings(
    max_examples=int(os.environ.get("SAVER_DIFF_EXAMPLES", "10")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _delete_theirs(saver: InMemorySaver, run_id: str) -> None:
    """``InMemorySaver`` has no ``delete_for_runs``: the same deletion on its dicts."""
    for thread_id, namespaces in saver.storage.items():
        for ns, checkpoints in namespaces.items():
            for cid in [
                cid
                for cid, (_, meta, _) in checkpoints.items()
                if saver.serde.loads_typed(meta).get("run_id") == run_id
            ]:
                del checkpoints[cid]
                saver.writes.pop((thread_id, ns, cid), None)


@_SETTINGS
@given(
    kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=5),
    ops=turns,
    snapshot_every=st.sampled_from([1, 2, 3, 256]),
)
def test_sync_same_as_inmemory(
    redis_server: RedisServer, kinds: list[str], ops: list[tuple[str, int]], snapshot_every: int
) -> None:
    builder = build(kinds)
    memory = InMemorySaver()
    theirs = builder.compile(checkpointer=memory)
    prefix = redis_server.new_prefix()
    with RedisSaver.from_conn_string(
        redis_server.url(), prefix=prefix, snapshot_every=snapshot_every
    ) as saver:
        ours = builder.compile(checkpointer=saver)
        config = {"configurable": {"thread_id": f"t-{uuid.uuid4().hex}"}}
        for turn, (op, arg) in enumerate(ops):
            if op == "reopen":  # a new process: nothing remembered
                saver = RedisSaver(saver.client, prefix=prefix, snapshot_every=snapshot_every)
                ours = builder.compile(checkpointer=saver)
                op = "input"
            if op == "delete_run":
                saver.delete_for_runs([f"run-{arg}"])
                _delete_theirs(memory, f"run-{arg}")
                _compare(ours, theirs, config)
                continue
            out_theirs = _run_turn(theirs, config, op, arg, turn)
            out_ours = _run_turn(ours, config, op, arg, turn)
            assert typed(_norm_output(out_ours)) == typed(_norm_output(out_theirs))
            _compare(ours, theirs, config)


@_SETTINGS
@given(kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=4), ops=turns)
def test_async_same_as_inmemory(
    redis_server: RedisServer, kinds: list[str], ops: list[tuple[str, int]]
) -> None:
    """``AsyncRedisSaver``: turns with ``ainvoke`` on its loop; the comparisons read
    through its sync API from another thread."""
    builder = build(kinds)

    async def scenario() -> None:
        async with AsyncRedisSaver.from_conn_string(
            redis_server.url(), prefix=redis_server.new_prefix()
        ) as saver:
            theirs = builder.compile(checkpointer=InMemorySaver())
            ours = builder.compile(checkpointer=saver)
            config = {"configurable": {"thread_id": "t1"}}
            for turn, (op, arg) in enumerate(ops):
                if op in ("reopen", "delete_run"):
                    op = "input"
                out_theirs = await _arun_turn(theirs, config, op, arg, turn)
                out_ours = await _arun_turn(ours, config, op, arg, turn)
                assert typed(_norm_output(out_ours)) == typed(_norm_output(out_theirs))
                await asyncio.to_thread(_compare, ours, theirs, config)

    asyncio.run(scenario())


@_SETTINGS
@given(
    frequency=st.sampled_from([1, 2, 3, 100]),
    parallel=st.booleans(),
    ask=st.booleans(),
    models=st.booleans(),
    ops=delta_turns,
    snapshot_every=st.sampled_from([1, 2, 256]),
)
def test_delta_channel_same_as_inmemory(
    redis_server: RedisServer,
    frequency: int,
    parallel: bool,
    ask: bool,
    models: bool,
    ops: list[tuple[str, int]],
    snapshot_every: int,
) -> None:
    """DeltaChannel graphs: the same outputs, states and histories as ``InMemorySaver``;
    after our prune, delete_for_runs or copy the checkpoints kept read what they read."""
    builder = random_delta_builder(
        frequency, parallel=parallel, ask=ask, overwrite=False, models=models
    )
    theirs = builder.compile(checkpointer=InMemorySaver())
    prefix = redis_server.new_prefix()
    with RedisSaver.from_conn_string(
        redis_server.url(), prefix=prefix, snapshot_every=snapshot_every
    ) as saver:
        ours = builder.compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "t1"}}
        diverged = False
        for turn, (op, arg) in enumerate(ops):
            if op == "reopen":
                saver = RedisSaver(saver.client, prefix=prefix, snapshot_every=snapshot_every)
                ours = builder.compile(checkpointer=saver)
                op = "input"
            if op in ("prune", "retain", "delete_run", "copy"):
                before = _readings(ours, config)
                head = ours.get_state(config)
                if op in ("prune", "retain"):
                    saver.prune(["t1"], strategy="keep_latest")
                    kept = [head.config["configurable"]["checkpoint_id"]] if head.values else []
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
                if op == "delete_run":
                    break
                continue
            if diverged and op == "fork":
                op = "input"
            out_theirs = _delta_turn(theirs, config, op, arg, turn)
            out_ours = _delta_turn(ours, config, op, arg, turn)
            assert typed(_norm_output(out_ours)) == typed(_norm_output(out_theirs))
            assert typed(ours.get_state(config).values) == typed(theirs.get_state(config).values)
            assert ours.get_state(config).next == theirs.get_state(config).next
            if not diverged:
                assert _history(ours, config)[0] == _history(theirs, config)[0]
            for snap in ours.get_state_history(config):
                mine = saver.get_delta_channel_history(config=snap.config, channels=["items"])
                walk = BaseCheckpointSaver.get_delta_channel_history(
                    saver, config=snap.config, channels=["items"]
                )
                assert typed(dict(mine)) == typed(dict(walk))


def test_threads_share_one_sync_saver(redis_server: RedisServer) -> None:
    """The sync saver used from several threads at once (redis-py's pool): each thread's
    conversation reads back as ``InMemorySaver``'s."""
    builder = build(["append_log"])
    errors: list[BaseException] = []
    with RedisSaver.from_conn_string(redis_server.url(), prefix=redis_server.new_prefix()) as saver:
        ours = builder.compile(checkpointer=saver)

        def worker(n: int) -> None:
            try:
                theirs = builder.compile(checkpointer=InMemorySaver())
                config = {"configurable": {"thread_id": f"w{n}"}}
                for turn in range(5):
                    _run_turn(theirs, config, "input", 1, turn)
                    _run_turn(ours, config, "input", 1, turn)
                _compare(ours, theirs, config)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        workers = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for t in workers:
            t.start()
        for t in workers:
            t.join(60)
    assert not errors, errors
