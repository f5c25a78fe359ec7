"""What the checkpoint saver seals under a key, and what it leaves readable because it
holds nothing of the conversation: empty values (``null``: the type column says so) and
checkpoint bodies that hold only ids, a time, versions and channel names. Each checked on
the rows; a body that does hold a graph's values is sealed, by the writer and by rekey."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import aiosqlite
from langgraph.checkpoint.base import empty_checkpoint
from test_encryption_at_rest import MARKER, file_bytes, graph
from test_rekey import NEW, OLD, holds_key

from graph_sessions import GraphSessionManager
from graph_sessions.checkpoint import AsyncSqliteSaver
from graph_sessions.checkpoint.engine import stored_body_holds_values
from graph_sessions.crypto import KeyRing, is_sealed, parse_keys
from graph_sessions.crypto.serde import SUFFIX, EncryptedSerde
from graph_sessions.storage.rekey import rekey


def ring_of(spec: str) -> KeyRing:
    ring = parse_keys(spec)
    assert ring is not None
    return ring


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


async def chat(db: Path, key: str | None, turns: int = 3) -> None:
    async with GraphSessionManager(graph(), f"sqlite:///{db}", encryption_key=key) as manager:
        session = await manager.create("s1")
        for i in range(turns):
            await session.invoke({"messages": [f"{MARKER} turn {i}"]})


async def test_empty_values_and_bare_bodies_stay_readable_the_rest_is_sealed(
    tmp_path: Path,
) -> None:
    db = tmp_path / "s.db"
    await chat(db, OLD)
    stored = file_bytes(db)
    assert MARKER.encode() not in stored and holds_key(stored, "old")
    values = rows(db, "SELECT type, data FROM gs_checkpoint_blobs")
    writes = rows(db, "SELECT type, value FROM gs_checkpoint_writes")
    for type_, data in values + writes:
        if type_ in ("null", "empty"):
            assert data == b"", type_  # no 39-byte envelope around nothing
        else:
            assert is_sealed(data), type_
    assert any(t == "null" for t, _ in values + writes)  # the case is exercised
    bodies = rows(db, "SELECT checkpoint FROM gs_checkpoints")
    assert bodies and not any(is_sealed(b) for (b,) in bodies)
    async with GraphSessionManager(graph(), f"sqlite:///{db}", encryption_key=OLD) as manager:
        state = await (await manager.get("s1")).get_state()
        assert [m for m in state["messages"] if MARKER in str(m)]


async def test_a_body_holding_values_is_sealed_by_the_writer_and_by_rekey(
    tmp_path: Path,
) -> None:
    """A body with inline channel values (a channel without a version) holds the graph's
    data: sealed when written with a key; written without one, sealed by rekey, while the
    bare bodies and empty values of the same file stay as they are."""
    for key, db in ((OLD, tmp_path / "keyed.db"), (None, tmp_path / "plain.db")):
        async with aiosqlite.connect(str(db)) as conn:
            saver = AsyncSqliteSaver(conn, encryption_key=key)
            await saver.setup()
            checkpoint = empty_checkpoint()
            checkpoint["channel_values"] = {"inline": f"secret {MARKER}"}
            config = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}
            await saver.aput(config, checkpoint, {"source": "input", "step": -1}, {})  # type: ignore[arg-type]
            bare = empty_checkpoint()
            await saver.aput(config, bare, {"source": "loop", "step": 0}, {})  # type: ignore[arg-type]
        by_id = dict(rows(db, "SELECT checkpoint_id, checkpoint FROM gs_checkpoints"))
        assert is_sealed(by_id[checkpoint["id"]]) == (key is not None)
        assert not is_sealed(by_id[bare["id"]])
        if key is None:  # (compressed: the marker itself is not in the bytes either way)
            types = dict(rows(db, "SELECT checkpoint_id, type FROM gs_checkpoints"))
            cid = checkpoint["id"]
            assert stored_body_holds_values(types[cid], by_id[cid])
            assert not stored_body_holds_values(types[bare["id"]], by_id[bare["id"]])

    db = tmp_path / "plain.db"
    async with GraphSessionManager(graph(), f"sqlite:///{db}", encryption_key=NEW) as manager:
        source = manager.backend.rekey_source()
        assert source is not None
        report = await rekey(source, ring_of(NEW))
        assert report.kinds["checkpoints"].resealed == 1
        assert report.kinds["checkpoints"].current == 1
        again = await rekey(source, ring_of(NEW))
        assert again.resealed == 0
    by_id = dict(rows(db, "SELECT checkpoint_id, checkpoint FROM gs_checkpoints"))
    assert is_sealed(by_id[checkpoint["id"]]) and not is_sealed(by_id[bare["id"]])
    async with aiosqlite.connect(str(db)) as conn:
        saver = AsyncSqliteSaver(conn, encryption_key=NEW)
        got = await saver.aget_tuple(
            {
                "configurable": {
                    "thread_id": "t",
                    "checkpoint_ns": "",
                    "checkpoint_id": checkpoint["id"],
                }
            }
        )
        assert got is not None and got.checkpoint["channel_values"]["inline"] == f"secret {MARKER}"


async def test_rekey_unwraps_empty_values_an_earlier_version_sealed(tmp_path: Path) -> None:
    """Before this rule every value was sealed, ``null`` ones included: rekey stores those
    as the writers now do, empty, and every other value under the new key."""
    db = tmp_path / "s.db"
    await chat(db, OLD)
    conn = sqlite3.connect(db)
    ring = ring_of(OLD)
    from graph_sessions.checkpoint.engine import aad_value
    from graph_sessions.crypto import seal

    nulls = conn.execute(
        "SELECT checkpoint_ns, channel, version FROM gs_checkpoint_blobs WHERE type = 'null'"
    ).fetchall()
    assert nulls
    for ns, channel, version in nulls:  # as an earlier version stored them
        conn.execute(
            "UPDATE gs_checkpoint_blobs SET data = ? WHERE channel = ? AND version = ?",
            (seal(ring, b"", aad_value(ns, channel, version)), channel, version),
        )
    conn.commit()
    conn.close()
    async with GraphSessionManager(graph(), f"sqlite:///{db}", encryption_key=f"{NEW},{OLD}") as m:
        source = m.backend.rekey_source()
        assert source is not None
        await rekey(source, ring_of(f"{NEW},{OLD}"))
    stored = file_bytes(db)
    assert not holds_key(stored, "old") and holds_key(stored, "new")
    assert {d for (d,) in rows(db, "SELECT data FROM gs_checkpoint_blobs WHERE type='null'")} == {
        b""
    }
    async with GraphSessionManager(graph(), f"sqlite:///{db}", encryption_key=NEW) as manager:
        state = await (await manager.get("s1")).get_state()
        assert len([m for m in state["messages"] if MARKER in str(m)]) == 6


def test_the_serde_of_other_savers_leaves_empty_values_unsealed() -> None:
    serde = EncryptedSerde(ring_of(OLD))
    assert serde.dumps_typed(None) == ("null", b"")
    type_, data = serde.dumps_typed({"a": MARKER})
    assert type_.endswith(SUFFIX) and is_sealed(data) and MARKER.encode() not in data
    assert serde.loads_typed(("null", b"")) is None
    assert serde.loads_typed((type_, data)) == {"a": MARKER}


def test_a_body_that_cannot_be_read_counts_as_holding_values() -> None:
    """rekey decides whether a plaintext body needs sealing by its top-level keys alone; a
    body of another serializer (a saver given a custom ``serde``) or malformed bytes gets
    sealed rather than stopping rekey with an untyped error."""
    import ormsgpack

    bare = ormsgpack.packb({"v": 4, "ts": "t", "channel_values": {}, "channel_versions": {}})
    assert not stored_body_holds_values("msgpack", bare)
    inline = ormsgpack.packb({"v": 4, "channel_values": {"x": 1}})
    assert stored_body_holds_values("msgpack", inline)
    unknown_key = ormsgpack.packb({"v": 4, "channel_values": {}, "new_field": "?"})
    assert stored_body_holds_values("msgpack", unknown_key)
    assert stored_body_holds_values("pickle", b"\x80\x04N.")
    assert stored_body_holds_values("msgpack", b"\xc1\xc1 not msgpack")
    assert stored_body_holds_values("zd1:msgpack", b"not deflate")
