"""``graph-sessions rekey`` on Redis: every value of a deployment re-sealed under the newest
key, a deployment written without a key sealed (its list tails stay tails, sealed), a key
missing from the ring refused before anything changes, no turn lost while sessions are
invoked meanwhile; each checked on what Redis holds (every key of the prefix, read by type)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from support.paths import subprocess_env
from test_encryption_at_rest import MARKER, asking_graph, graph
from test_rekey import NEW, OLD, config_file, holds_key, read_everything, rekey, store_marker

from graph_sessions import GraphSessionManager
from graph_sessions.checkpoint.redis_records import TAIL
from graph_sessions.crypto import ENCRYPTION_KEY_VARIABLE, is_sealed
from graph_sessions.storage.records import PendingRun

EXE = str(Path(sys.executable).parent / "graph-sessions")
#: a queued run nobody claims (not before 2100)
QUEUED = PendingRun(
    run_id="queued-1",
    session_id="chat",
    owner="alice",
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
    payload={"input": {"messages": [f"later {MARKER}"]}},
    not_before=datetime(2100, 1, 1, tzinfo=UTC),
)


async def dump(server: Any, prefix: str) -> dict[bytes, Any]:
    """Every key of ``prefix`` and what it holds, read by type (the key ids a keyed process
    saw, ``P settings``, left out: not data)."""
    client = Redis.from_url(server.url())
    out: dict[bytes, Any] = {}
    try:
        async for key in client.scan_iter(match=f"{prefix}*"):
            if key == f"{prefix}settings".encode():
                continue
            kind = (await client.type(key)).decode()
            if kind == "string":
                out[key] = await client.get(key)
            elif kind == "hash":
                out[key] = dict(await client.hgetall(key))
            elif kind == "zset":
                out[key] = await client.zrange(key, 0, -1, withscores=True)
            elif kind == "set":
                out[key] = sorted(await client.smembers(key))
            elif kind == "list":
                out[key] = await client.lrange(key, 0, -1)
            elif kind == "stream":
                out[key] = await client.xrange(key)
            else:
                raise AssertionError(f"{key!r} is a {kind}")
    finally:
        await client.aclose()
    return out


def flat(held: dict[bytes, Any]) -> bytes:
    """All the bytes of a :func:`dump` (keys, fields, members, values)."""

    def walk(value: Any) -> bytes:
        if isinstance(value, bytes):
            return value
        if isinstance(value, dict):
            return b"".join(walk(k) + b"\n" + walk(v) for k, v in value.items())
        if isinstance(value, list | tuple):
            return b"".join(walk(v) + b"\n" for v in value)
        return str(value).encode()

    return walk(held)


def tails(held: dict[bytes, Any]) -> list[bytes]:
    """The fields of the saver's values stored as tails of an earlier version."""
    return [
        f
        for key, value in held.items()
        if key.endswith(b":v") and isinstance(value, dict)
        for f, v in value.items()
        if v.startswith(TAIL)
    ]


def tail_chunks(held: dict[bytes, Any]) -> list[bytes]:
    """The new element bytes of every tail (``\\x01 count \\0 base \\0 elements``)."""
    return [
        v.split(b"\x00", 2)[2]
        for key, value in held.items()
        if key.endswith(b":v") and isinstance(value, dict)
        for v in value.values()
        if v.startswith(TAIL)
    ]


async def everything_on(url: str, key: str | None) -> list[str]:
    """``test_encryption_at_rest.everything_with_the_marker`` on ``url`` (an interrupted
    session with marked metadata, input and messages, a failed run), store values, and a
    chat of a few turns on a list channel (plaintext: stored as tails); its messages."""
    async with GraphSessionManager(
        asking_graph(), url, encryption_key=key, indexable_metadata=["plan"]
    ) as manager:
        session = await manager.create(
            "s1", owner="alice", metadata={"plan": "pro", "address": f"1 {MARKER} road"}
        )
        assert (await session.invoke({"messages": [f"send {MARKER} home"]})).status == (
            "interrupted"
        )
        await session.messages.append("user", f"transcript {MARKER}", data={"note": MARKER})
        failing = await manager.create("s2", owner="alice")
        with pytest.raises(Exception, match="cannot handle"):
            await failing.invoke({"messages": [f"fail {MARKER}"]})
    await store_marker(url, key)
    async with GraphSessionManager(graph(), url, encryption_key=key) as manager:
        chat = await manager.create("chat", owner="alice")
        assert await manager.backend.add_pending_run(QUEUED)
        for i in range(6):
            await chat.invoke({"messages": [f"turn {i}: my card is {MARKER}"]})
        return list((await chat.get_state())["messages"])


async def chat_messages(url: str, key: str) -> list[str]:
    """The chat's messages, read with ``key`` (and the queued run checked too)."""
    async with GraphSessionManager(graph(), url, encryption_key=key) as manager:
        chat = await manager.get("chat")
        assert chat is not None
        queued = await manager.backend.list_pending_runs("chat")
        assert [(p.run_id, p.payload) for p in queued] == [(QUEUED.run_id, QUEUED.payload)]
        return list((await chat.get_state())["messages"])


async def test_rekey_reseals_every_value_under_the_new_key(
    redis_server: Any, tmp_path: Path
) -> None:
    prefix = redis_server.new_prefix()
    url = f"{redis_server.url()}?prefix={prefix}"
    messages = await everything_on(url, OLD)
    before = flat(await dump(redis_server, prefix))
    assert holds_key(before, "old") and not holds_key(before, "new")
    assert MARKER.encode() not in before
    done = await rekey(url, f"{NEW},{OLD}", "--batch", "3", "--json", config=config_file(tmp_path))
    assert done.exit_code == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["key_id"] == "new"
    for kind in (
        "sessions",
        "runs",
        "events",
        "messages",
        "queued runs",
        "store",
        "checkpoints",
        "checkpoint values",
        "checkpoint writes",
    ):
        assert report["kinds"][kind]["resealed"] > 0, (kind, report)
    assert report["kinds"]["checkpoint value tails"]["resealed"] > 0, report  # sealed tails
    after = flat(await dump(redis_server, prefix))
    assert not holds_key(after, "old") and holds_key(after, "new")
    assert MARKER.encode() not in after
    await read_everything(url, NEW)  # the new key alone
    assert await chat_messages(url, NEW) == messages
    again = await rekey(url, f"{NEW},{OLD}", "--json", config=config_file(tmp_path))
    assert again.exit_code == 0 and json.loads(again.stdout)["resealed"] == 0
    assert flat(await dump(redis_server, prefix)) == after


async def test_rekey_seals_a_deployment_written_without_a_key(
    redis_server: Any, tmp_path: Path
) -> None:
    prefix = redis_server.new_prefix()
    url = f"{redis_server.url()}?prefix={prefix}"
    messages = await everything_on(url, None)
    held = await dump(redis_server, prefix)
    assert MARKER.encode() in flat(held)  # the scan can fail
    assert tails(held), "the chat's list is stored as tails"
    dry = await rekey(url, NEW, "--dry-run", "--json", config=config_file(tmp_path))
    assert dry.exit_code == 0, dry.stderr
    counted = json.loads(dry.stdout)
    assert counted["kinds"]["checkpoint value tails"]["resealed"] == len(tails(held))
    assert await dump(redis_server, prefix) == held  # a dry run changes nothing
    done = await rekey(url, NEW, "--batch", "2", config=config_file(tmp_path))
    assert done.exit_code == 0, done.stderr
    assert "messages: re-sealed" in done.stdout and "checkpoint value tails" in done.stdout
    after = await dump(redis_server, prefix)
    stored = flat(after)
    assert MARKER.encode() not in stored and holds_key(stored, "new")
    assert b'"plan":"pro"' in stored  # indexable values stay readable
    assert sorted(tails(after)) == sorted(tails(held))  # still tails, each one sealed:
    assert all(is_sealed(chunk) for chunk in tail_chunks(after))
    await read_everything(url, NEW)
    assert await chat_messages(url, NEW) == messages
    # and the chat goes on, sealed
    async with GraphSessionManager(graph(), url, encryption_key=NEW) as manager:
        chat = await manager.get("chat")
        assert chat is not None
        await chat.invoke({"messages": ["one more"]})
        assert (await chat.get_state())["messages"] == [*messages, "one more", "echo one more"]


async def test_a_key_missing_from_the_ring_changes_nothing(
    redis_server: Any, tmp_path: Path
) -> None:
    prefix = redis_server.new_prefix()
    url = f"{redis_server.url()}?prefix={prefix}"
    await everything_on(url, None)  # plaintext values first...
    async with GraphSessionManager(asking_graph(), url, encryption_key=OLD) as manager:
        session = await manager.create("s3", owner="bob")  # ...then values sealed with "old"
        await session.invoke({"messages": ["hello"]})
    before = await dump(redis_server, prefix)
    assert holds_key(flat(before), "old")
    refused = await rekey(url, NEW, config=config_file(tmp_path))  # "old" is not in the ring
    assert refused.exit_code == 1
    assert "'old'" in refused.stderr and "not among the configured keys" in refused.stderr
    assert await dump(redis_server, prefix) == before


@pytest.mark.slow
async def test_rekey_while_sessions_are_invoked(redis_server: Any) -> None:
    """rekey (its own event loop and client, on a thread), batches of 7, while 24 sessions
    take turns on the same Redis through a manager with the keys ``new,old``: every
    acknowledged turn is in the history, no writer fails, and the new key alone reads
    everything afterwards; nothing sealed with ``old`` is left."""
    from support.graphs import chat_graph

    prefix = redis_server.new_prefix()
    url = f"{redis_server.url()}?prefix={prefix}"
    sessions = [f"load-{i}" for i in range(24)]
    async with GraphSessionManager(chat_graph(), url, encryption_key=OLD) as old:
        for sid in sessions:
            session = await old.create(sid, metadata={"who": f"{sid} {MARKER}"})
            await session.invoke({"user_input": "t0"})
            await session.messages.append("user", f"{sid} {MARKER}")
    assert holds_key(flat(await dump(redis_server, prefix)), "old")
    async with GraphSessionManager(chat_graph(), url, encryption_key=f"{NEW},{OLD}") as both:
        stop = asyncio.Event()
        acked: dict[str, list[str]] = {sid: ["t0"] for sid in sessions}

        async def turns(sid: str) -> None:
            session = await both.get(sid)
            assert session is not None
            n = 0
            while not stop.is_set():
                n += 1
                await session.invoke({"user_input": f"t{n}"})
                acked[sid].append(f"t{n}")
                await session.messages.append("assistant", f"t{n} {MARKER}")

        writers = [asyncio.create_task(turns(sid)) for sid in sessions]
        await asyncio.sleep(0.3)
        served = sum(map(len, acked.values()))
        done = await asyncio.wait_for(rekey(url, f"{NEW},{OLD}", "--batch", "7", "--json"), 300)
        during = sum(map(len, acked.values()))
        await asyncio.sleep(0.3)
        stop.set()
        await asyncio.gather(*writers)  # a writer that failed raises here
        assert done.exit_code == 0, done.stderr
        assert during > served  # turns were served while the rekey ran
        print("rekey under load:", json.loads(done.stdout)["kinds"], "turns:", during - served)
    stored = flat(await dump(redis_server, prefix))
    assert not holds_key(stored, "old") and MARKER.encode() not in stored
    async with GraphSessionManager(chat_graph(), url, encryption_key=NEW) as new:
        for sid in sessions:
            session = await new.get(sid)
            assert session is not None
            assert (await session.get_state())["turns"] == acked[sid]  # 0 lost turns
            assert (await new.info(sid)).metadata["who"] == f"{sid} {MARKER}"
            loaded = await session.messages.load(limit=10_000)
            assert [m.content for m in loaded] == [
                f"{sid} {MARKER}",
                *(f"{t} {MARKER}" for t in acked[sid][1:]),
            ]
            assert await session.events(limit=10_000)


@pytest.mark.slow
def test_rekey_command_on_redis(redis_server: Any) -> None:
    """``graph-sessions rekey --backend redis://…`` as a process: exit 0, its summary."""
    prefix = redis_server.new_prefix()
    url = f"{redis_server.url()}?prefix={prefix}"
    messages = asyncio.run(everything_on(url, OLD))
    env = subprocess_env({**os.environ, ENCRYPTION_KEY_VARIABLE: f"{NEW},{OLD}"})
    proc = subprocess.run(
        [EXE, "rekey", "--backend", url, "--batch", "50"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "checkpoints: re-sealed" in proc.stdout and "under key new" in proc.stdout
    stored = flat(asyncio.run(dump(redis_server, prefix)))
    assert not holds_key(stored, "old") and holds_key(stored, "new")
    assert asyncio.run(chat_messages(url, NEW)) == messages


async def test_a_value_changed_between_read_and_write_is_read_again(redis_server: Any) -> None:
    """A server writes a session row and removes a message after rekey read them, before it
    writes them back: the row's new content is what ends sealed (nothing lost, nothing
    overwritten with what was read), the removed message stays removed."""
    import redis as sync_redis

    from graph_sessions.crypto.keys import parse_keys
    from graph_sessions.storage.redis import RedisBackend
    from graph_sessions.storage.redis.rekey import REDIS_TABLES
    from graph_sessions.storage.rekey import Resealer

    prefix = redis_server.new_prefix()
    url = f"{redis_server.url()}?prefix={prefix}"
    async with GraphSessionManager(graph(), url) as manager:
        session = await manager.create("s1", metadata={"a": f"first {MARKER}"})
        await session.messages.append("user", f"gone {MARKER}")
        await session.messages.append("user", f"kept {MARKER}")
    ring = parse_keys(NEW)
    assert ring is not None
    resealer = Resealer(ring)
    other = sync_redis.Redis.from_url(redis_server.url())
    row_key, msg_key = f"{prefix}s:s1:row", f"{prefix}s:s1:msg"
    backend = RedisBackend(redis_server.url(), prefix=prefix)
    await backend.open()
    try:
        source = backend.rekey_source()
        tables = {t.kind: t for t in REDIS_TABLES}
        meddled: list[str] = []

        def meddling(kind: str) -> Any:
            def reseal(row: dict[str, Any]) -> Any:
                if kind not in meddled:  # a server's write between the read and the swap
                    meddled.append(kind)
                    if kind == "sessions":
                        stored = json.loads(other.hget(row_key, "row"))
                        stored["metadata"] = {"a": f"second {MARKER}"}
                        other.hset(row_key, "row", json.dumps(stored))
                    else:
                        other.zremrangebyrank(msg_key, 0, 0)
                return tables[kind].reseal(resealer, row)

            return reseal

        for kind in ("sessions", "messages"):
            until = await source.last_key(tables[kind])
            assert until is not None
            done = await source.batch(tables[kind], None, until, 10, meddling(kind), True)
            assert done.more is False
        assert meddled == ["sessions", "messages"]
        assert (done.rows, done.resealed) == (2, 1)  # the removed one is skipped
        held = await dump(redis_server, prefix)
        assert MARKER.encode() not in flat(held)
        assert len(held[msg_key.encode()]) == 1
    finally:
        other.close()
        await backend.close()
    async with GraphSessionManager(graph(), url, encryption_key=NEW) as manager:
        assert (await manager.info("s1")).metadata == {"a": f"second {MARKER}"}
        loaded = await (await manager.get("s1")).messages.load()
        assert [m.content for m in loaded] == [f"kept {MARKER}"]
