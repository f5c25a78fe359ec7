"""The Redis savers beyond the conformance suite: versions-only storage and list tails,
TTL by Redis expiry (every key of a thread gone), the fencing hook, script reloading,
maintenance leaving no orphan keys, option errors, the async saver's sync API from a
thread, and a 300-turn chat whose memory grows linearly (with its timings printed)."""

from __future__ import annotations

import asyncio
import operator
import statistics
import threading
import time
from collections.abc import Iterator
from typing import Annotated, Any, TypedDict

import pytest
import redis
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from support.redis import RedisServer

from graph_sessions.checkpoint import AsyncRedisSaver, RedisSaver
from graph_sessions.checkpoint.redis_keys import thread_keys
from graph_sessions.errors import ConfigError, InvalidInput, LeaseLost


class Chat(TypedDict, total=False):
    messages: Annotated[list[dict[str, Any]], operator.add]
    big: str
    turns: int


def _reply(state: Chat) -> dict[str, Any]:
    last = state["messages"][-1]["content"]
    return {
        "messages": [{"role": "ai", "content": f"you said {last}"}],
        "turns": state.get("turns", 0) + 1,
    }


def chat_graph() -> StateGraph:
    builder = StateGraph(Chat)
    builder.add_node("reply", _reply)
    builder.add_edge(START, "reply")
    return builder


def _say(graph: Any, thread: str, turn: int) -> Any:
    return graph.invoke(
        {"messages": [{"role": "user", "content": f"turn {turn} " + "x" * 80}]},
        {"configurable": {"thread_id": thread}},
    )


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    conn = redis.Redis.from_url(redis_server.url())
    yield conn
    conn.close()


def _prefix_keys(client: redis.Redis, prefix: str) -> list[bytes]:
    return sorted(client.scan_iter(match=prefix + "*", count=1000))


def test_versions_only_and_tails(redis_server: RedisServer, client: redis.Redis) -> None:
    """An unchanged channel is stored once; a growing list is stored as tails (the value
    hash holds each message about once), and reads back whole."""
    prefix = redis_server.new_prefix()
    saver = RedisSaver(client, prefix=prefix)
    graph = chat_graph().compile(checkpointer=saver)
    config = {"configurable": {"thread_id": "t1"}}
    graph.invoke({"messages": [{"role": "user", "content": "hi"}], "big": "B" * 5000}, config)
    for turn in range(20):
        _say(graph, "t1", turn)
    keys = thread_keys(prefix, "t1")
    fields = [f.decode() for f in client.hkeys(keys.v)]
    assert len([f for f in fields if "\x00big\x00" in f]) == 1
    # 41 user/ai messages of ~90 bytes: whole copies at every version would be ~40x more
    stored = sum(len(v) for k, v in client.hgetall(keys.v).items() if b"\x00messages\x00" in k)
    assert stored < 8000, stored
    assert client.hlen(keys.vb) > 0
    state = graph.get_state(config)
    assert len(state.values["messages"]) == 42 and state.values["big"] == "B" * 5000
    # a reopened saver (nothing remembered) reads the same and goes on
    again = chat_graph().compile(checkpointer=RedisSaver(client, prefix=prefix))
    assert again.get_state(config).values == state.values
    _say(again, "t1", 99)
    assert len(again.get_state(config).values["messages"]) == 44


@pytest.mark.slow
def test_ttl_expires_every_key_of_the_thread(
    redis_server: RedisServer, client: redis.Redis
) -> None:
    """With ttl=1 every key under the prefix (the thread's and the two indexes) expires;
    each put renews it (sliding)."""
    prefix = redis_server.new_prefix()
    saver = RedisSaver(client, prefix=prefix, ttl=1)
    graph = chat_graph().compile(checkpointer=saver)
    _say(graph, "t1", 0)
    keys = _prefix_keys(client, prefix)
    assert {thread_keys(prefix, "t1").cp.encode(), f"{prefix}threads".encode()} <= set(keys)
    assert all(0 < client.pttl(k) <= 1000 for k in keys)
    # one absolute deadline for all of them (set in one script): they expire together
    assert len({client.execute_command("PEXPIRETIME", k) for k in keys}) == 1
    for turn in range(1, 4):  # 1.8 s of activity: kept alive by each put
        time.sleep(0.6)
        _say(graph, "t1", turn)
    assert len(graph.get_state({"configurable": {"thread_id": "t1"}}).values["messages"]) == 8
    time.sleep(1.6)
    assert _prefix_keys(client, prefix) == []
    assert graph.get_state({"configurable": {"thread_id": "t1"}}).values == {}


def test_fence_refuses_writes_when_the_epoch_moved(
    redis_server: RedisServer, client: redis.Redis
) -> None:
    prefix = redis_server.new_prefix()
    saver = RedisSaver(client, prefix=prefix)
    graph = chat_graph().compile(checkpointer=saver)
    lease = prefix + "lease:t1"
    client.set(lease, "3")
    saver.fence("t1", lease, 3)
    _say(graph, "t1", 0)
    stored = len(list(saver.list({"configurable": {"thread_id": "t1"}})))
    client.set(lease, "4")  # another process took the session over
    with pytest.raises(LeaseLost):
        _say(graph, "t1", 1)
    tup = saver.get_tuple({"configurable": {"thread_id": "t1"}})
    assert tup is not None
    with pytest.raises(LeaseLost):
        saver.put_writes(tup.config, [("messages", [])], "task-1")
    client.delete(lease)  # deleted: refused too
    with pytest.raises(LeaseLost):
        _say(graph, "t1", 2)
    assert len(list(saver.list({"configurable": {"thread_id": "t1"}}))) == stored
    assert saver.get_tuple({"configurable": {"thread_id": "t1"}}).pending_writes == []  # type: ignore[union-attr]
    saver.unfence("t1")
    _say(graph, "t1", 3)
    assert len(list(saver.list({"configurable": {"thread_id": "t1"}}))) > stored


def test_scripts_reloaded_after_flush(redis_server: RedisServer, client: redis.Redis) -> None:
    saver = RedisSaver(client, prefix=redis_server.new_prefix())
    graph = chat_graph().compile(checkpointer=saver)
    _say(graph, "t1", 0)
    client.script_flush()
    _say(graph, "t1", 1)
    assert len(graph.get_state({"configurable": {"thread_id": "t1"}}).values["messages"]) == 4


def test_maintenance_leaves_no_orphans(redis_server: RedisServer, client: redis.Redis) -> None:
    """prune keeps only what the latest checkpoint reads (its values and their tail bases,
    its writes); delete_thread leaves no key of the prefix."""
    prefix = redis_server.new_prefix()
    saver = RedisSaver(client, prefix=prefix, snapshot_every=4)
    graph = chat_graph().compile(checkpointer=saver)
    config = {"configurable": {"thread_id": "t1"}}
    for turn in range(10):
        _say(graph, "t1", turn)
    saver.copy_thread("t1", "t2")
    before = graph.get_state(config).values
    count = len(list(saver.list(config)))
    saver.prune(["t1"], strategy="keep_latest")
    assert graph.get_state(config).values == before
    assert len(list(saver.list(config))) == 1
    keys = thread_keys(prefix, "t1")
    assert client.hlen(keys.v) <= 4 + 2  # the list's chain (< snapshot_every) + turns
    assert set(client.hkeys(keys.vb)) <= set(client.hkeys(keys.v))
    # the copy is whole and independent
    assert graph.get_state({"configurable": {"thread_id": "t2"}}).values == before
    assert len(list(saver.list({"configurable": {"thread_id": "t2"}}))) == count == 30
    saver.delete_thread("t1")
    saver.delete_thread("t2")
    assert _prefix_keys(client, prefix) == []


def test_delete_for_runs_by_run_index(redis_server: RedisServer, client: redis.Redis) -> None:
    prefix = redis_server.new_prefix()
    saver = RedisSaver(client, prefix=prefix)
    graph = chat_graph().compile(checkpointer=saver)
    for turn in range(3):
        graph.invoke(
            {"messages": [{"role": "user", "content": str(turn)}]},
            {"configurable": {"thread_id": "t1", "run_id": f"run-{turn}"}},
        )
    saver.delete_for_runs(["run-2"])
    runs = {
        (t.metadata or {}).get("run_id") for t in saver.list({"configurable": {"thread_id": "t1"}})
    }
    assert runs == {"run-0", "run-1"}
    assert len(graph.get_state({"configurable": {"thread_id": "t1"}}).values["messages"]) == 4
    saver.delete_for_runs(["run-0", "run-1"])
    assert _prefix_keys(client, prefix) == []


def test_bad_options_are_typed_errors(redis_server: RedisServer) -> None:
    url = redis_server.url()
    for bad in ({"ttl": 0}, {"ttl": -1}, {"ttl": True}, {"snapshot_every": 0}, {"prefix": 3}):
        with pytest.raises(ConfigError):
            RedisSaver(url, **bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="decode_responses"):
        RedisSaver(redis.Redis.from_url(url, decode_responses=True))
    with (
        RedisSaver.from_conn_string(url, prefix=redis_server.new_prefix()) as saver,
        pytest.raises(InvalidInput),
    ):
        saver.prune(["t1"], strategy="everything")


def test_async_saver_sync_api_from_another_thread(redis_server: RedisServer) -> None:
    async def scenario() -> None:
        async with AsyncRedisSaver.from_conn_string(
            redis_server.url(), prefix=redis_server.new_prefix()
        ) as saver:
            graph = chat_graph().compile(checkpointer=saver)
            config = {"configurable": {"thread_id": "t1"}}
            await graph.ainvoke({"messages": [{"role": "user", "content": "hi"}]}, config)
            # from another thread: bridged onto the loop
            state = await asyncio.to_thread(graph.get_state, config)
            assert len(state.values["messages"]) == 2
            seen: list[Any] = []
            worker = threading.Thread(target=lambda: seen.extend(saver.list(config)))
            worker.start()
            await asyncio.to_thread(worker.join, 30)
            assert len(seen) == 3
            with pytest.raises(asyncio.InvalidStateError):
                saver.get_tuple(config)  # from the loop's own thread

    asyncio.run(scenario())


def _memory(client: redis.Redis, prefix: str, thread: str) -> int:
    return sum(
        int(client.memory_usage(k, samples=0) or 0) for k in thread_keys(prefix, thread).all()
    )


def _chat_run(
    saver: BaseCheckpointSaver[Any], turns: int, probe: Any = None
) -> tuple[list[float], dict[int, int]]:
    """Per-turn put time (ms, summed over the turn's puts) and ``probe()`` every 100 turns."""
    spent = [0.0]
    put = saver.put

    def timed_put(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return put(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - start

    saver.put = timed_put  # type: ignore[method-assign]
    graph = chat_graph().compile(checkpointer=saver)
    per_turn: list[float] = []
    sizes: dict[int, int] = {}
    for turn in range(1, turns + 1):
        spent[0] = 0.0
        _say(graph, "chat", turn)
        per_turn.append(spent[0] * 1000)
        if probe is not None and turn % 100 == 0:
            sizes[turn] = probe()
    return per_turn, sizes


@pytest.mark.slow
def test_chat_of_300_turns_grows_linearly(redis_server: RedisServer, client: redis.Redis) -> None:
    """Memory per 100 turns stays flat with tails (quadratic without: the contrast run with
    ``snapshot_every=1`` shows the test can tell). Prints the numbers of the report."""
    growth: dict[int, float] = {}
    for every in (256, 1):
        prefix = redis_server.new_prefix()
        saver = RedisSaver(client, prefix=prefix, snapshot_every=every)
        times, sizes = _chat_run(saver, 300, lambda p=prefix: _memory(client, p, "chat"))
        growth[every] = (sizes[300] - sizes[200]) / (sizes[200] - sizes[100])
        print(
            f"\nredis snapshot_every={every}: put ms/turn 1-20 {statistics.mean(times[:20]):.3f}"
            f" 281-300 {statistics.mean(times[280:]):.3f}; memory at 100/200/300 turns "
            f"{sizes[100]}/{sizes[200]}/{sizes[300]} bytes; growth ratio {growth[every]:.2f}"
        )
    mem_times, _ = _chat_run(InMemorySaver(), 300)
    print(
        f"InMemorySaver: put ms/turn 1-20 {statistics.mean(mem_times[:20]):.3f}"
        f" 281-300 {statistics.mean(mem_times[280:]):.3f}"
    )
    assert growth[256] < 1.25, growth  # linear: each 100 turns cost about the same
    assert growth[1] > 1.4, growth  # whole lists every version: quadratic
