"""``graph-sessions rekey``: old rows re-sealed under the newest key (SQLite, Postgres),
plaintext rows sealed (encryption turned on for an existing database), a key missing from
the ring refused before anything changes; each checked on the stored bytes."""

from __future__ import annotations

import asyncio
import base64
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from test_encryption_at_rest import (
    KEY,
    MARKER,
    asking_graph,
    everything_with_the_marker,
    file_bytes,
)
from typer.testing import CliRunner

from graph_sessions import GraphSessionManager
from graph_sessions.cli.main import app
from graph_sessions.crypto import ENCRYPTION_KEY_VARIABLE, generate_key
from graph_sessions.crypto.cipher import MAGIC, VERSION

runner = CliRunner()
# three-letter ids: the sealed header (9 bytes) is whole base64 characters in "gse1:..."
OLD = generate_key("old")
NEW = generate_key("new")


def traces(key_id: str) -> tuple[bytes, bytes]:
    """What a value sealed with ``key_id`` starts with: as bytes, and as a sealed JSON string."""
    header = MAGIC + bytes((VERSION, len(key_id))) + key_id.encode()
    assert len(header) % 3 == 0
    return header, b"gse1:" + base64.b64encode(header)


def holds_key(data: bytes, key_id: str) -> bool:
    """Whether ``data`` holds a value sealed with ``key_id`` (raw or base64)."""
    return any(t in data for t in traces(key_id))


def config_file(folder: Path) -> Path:
    path = folder / "langgraph.json"
    path.write_text(json.dumps({"graph_sessions": {"indexable_metadata": ["plan"]}}))
    return path


async def rekey(url: str, keys: str, *args: str, config: Path | None = None) -> Any:
    """``graph-sessions rekey`` with ``keys`` in the environment (on a thread: the command
    runs its own event loop)."""
    argv = ["rekey", "--backend", url, *args]
    if config is not None:
        argv += ["--config", str(config)]
    return await asyncio.to_thread(runner.invoke, app, argv, env={ENCRYPTION_KEY_VARIABLE: keys})


async def store_marker(url: str, key: str | None) -> None:
    async with GraphSessionManager(asking_graph(), url, encryption_key=key) as manager:
        await manager.backend.store.aput(("users", "alice"), "profile", {"a": f"2 {MARKER}"})


async def read_everything(url: str, key: str) -> None:
    """Everything ``everything_with_the_marker`` wrote reads back with ``key`` alone."""
    async with GraphSessionManager(
        asking_graph(), url, encryption_key=key, indexable_metadata=["plan"]
    ) as manager:
        info = await manager.info("s1")
        assert info.metadata == {"plan": "pro", "address": f"1 {MARKER} road"}
        assert MARKER in str(info.interrupts)
        session = await manager.get("s1")
        state = await session.get_state()
        assert state["messages"] == [f"send {MARKER} home"]
        loaded = await session.messages.load()
        assert loaded[-1].data == {"note": MARKER} and MARKER in str(loaded[-1].content)
        events = await session.events()
        assert events and all("sealed" not in str(e.data) for e in events)
        assert MARKER in ((await manager.info("s2")).last_error or "")
        runs = await (await manager.get("s2")).runs()
        assert MARKER in (runs[0].error or "")
        assert [s.session_id for s in await manager.list(metadata={"plan": "pro"})] == ["s1"]
        item = await manager.backend.store.aget(("users", "alice"), "profile")
        assert item is not None and item.value == {"a": f"2 {MARKER}"}


def table_bytes(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(db)
    try:
        names = [
            r[0]
            for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            if r[0] != "gs_settings"  # the key ids a keyed process saw: not data
        ]
        return {n: sorted(map(repr, conn.execute(f"SELECT * FROM {n}"))) for n in names}  # type: ignore[misc]
    finally:
        conn.close()


async def test_rekey_reseals_every_old_row_under_the_new_key(tmp_path: Path) -> None:
    db = tmp_path / "sessions.db"
    url = f"sqlite:///{db}"
    await everything_with_the_marker(db, OLD)
    await store_marker(url, OLD)
    assert holds_key(file_bytes(db), "old")
    done = await rekey(url, f"{NEW},{OLD}", "--json", config=config_file(tmp_path))
    assert done.exit_code == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["key_id"] == "new" and report["resealed"] > 0
    for kind in ("sessions", "runs", "events", "messages", "store"):
        assert report["kinds"][kind]["resealed"] > 0, kind
    assert (
        report["kinds"]["checkpoint values"]["resealed"]
        + report["kinds"]["checkpoint writes"]["resealed"]
        > 0
    )
    stored = file_bytes(db)
    assert not holds_key(stored, "old") and holds_key(stored, "new")
    assert MARKER.encode() not in stored
    await read_everything(url, NEW)  # the new key alone
    again = await rekey(url, f"{NEW},{OLD}", "--json", config=config_file(tmp_path))
    assert again.exit_code == 0 and json.loads(again.stdout)["resealed"] == 0


async def test_rekey_seals_a_database_written_without_a_key(tmp_path: Path) -> None:
    db = tmp_path / "sessions.db"
    url = f"sqlite:///{db}"
    await everything_with_the_marker(db, None)
    await store_marker(url, None)
    assert MARKER.encode() in file_bytes(db)  # the scan can fail
    dry = await rekey(url, KEY, "--dry-run", "--json", config=config_file(tmp_path))
    assert dry.exit_code == 0, dry.stderr
    assert json.loads(dry.stdout)["resealed"] > 0 and MARKER.encode() in file_bytes(db)
    done = await rekey(url, KEY, "--batch", "3", config=config_file(tmp_path))
    assert done.exit_code == 0, done.stderr
    assert "re-sealed" in done.stdout and "messages: re-sealed" in done.stdout
    assert MARKER.encode() not in file_bytes(db)
    assert b'"plan":"pro"' in file_bytes(db)  # indexable values stay readable
    await read_everything(url, KEY)


async def test_a_key_missing_from_the_ring_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "sessions.db"
    url = f"sqlite:///{db}"
    await everything_with_the_marker(db, None)  # plaintext rows first...
    async with GraphSessionManager(asking_graph(), url, encryption_key=OLD) as manager:
        session = await manager.create("s3", owner="bob")  # ...then rows sealed with "old"
        await session.invoke({"messages": ["hello"]})
    before = table_bytes(db)
    refused = await rekey(url, NEW, config=config_file(tmp_path))  # "old" is not in the ring
    assert refused.exit_code == 1
    assert "'old'" in refused.stderr and "not among the configured keys" in refused.stderr
    assert table_bytes(db) == before
    assert MARKER.encode() in file_bytes(db)
    no_key = await rekey(url, "")
    assert no_key.exit_code == 2 and "GRAPH_SESSIONS_ENCRYPTION_KEY" in no_key.stderr
    assert table_bytes(db) == before


async def test_rekey_on_postgres(postgres_url: str, tmp_path: Path) -> None:
    import psycopg

    def dump() -> str:
        with psycopg.connect(postgres_url) as conn:
            tables = [
                "sessions",
                "runs",
                "session_events",
                "messages",
                "store",
                "gs_checkpoints",
                "gs_checkpoint_blobs",
                "gs_checkpoint_writes",
            ]
            return "\n".join(
                str(r[0]) for t in tables for r in conn.execute(f"SELECT t::text FROM {t} t")
            )

    def pg_holds(text: str, key_id: str) -> bool:
        raw, b64 = traces(key_id)
        return raw.hex() in text or b64.decode() in text

    from graph_sessions.storage.postgres import PostgresBackend

    async with GraphSessionManager(
        asking_graph(), postgres_url, encryption_key=OLD, indexable_metadata=["plan"]
    ) as manager:
        await manager.backend.store.aput(("users", "alice"), "profile", {"a": f"2 {MARKER}"})
        session = await manager.create(
            "s1", owner="alice", metadata={"plan": "pro", "address": f"1 {MARKER} road"}
        )
        await session.invoke({"messages": [f"send {MARKER} home"]})
        await session.messages.append("user", f"transcript {MARKER}", data={"note": MARKER})
    assert pg_holds(dump(), "old")
    refused = await rekey(postgres_url, NEW)
    assert refused.exit_code == 1 and "'old'" in refused.stderr
    before = dump()
    assert not pg_holds(before, "new")
    done = await rekey(
        postgres_url, f"{NEW},{OLD}", "--batch", "2", "--json", config=config_file(tmp_path)
    )
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout)["kinds"]["checkpoint values"]["resealed"] > 0
    after = dump()
    assert not pg_holds(after, "old") and pg_holds(after, "new") and MARKER not in after
    async with GraphSessionManager(
        asking_graph(), PostgresBackend(postgres_url), encryption_key=NEW
    ) as manager:
        session = await manager.get("s1")
        assert (await session.get_state())["messages"] == [f"send {MARKER} home"]
        assert (await manager.info("s1")).metadata["address"] == f"1 {MARKER} road"
        assert (await session.messages.load())[-1].data == {"note": MARKER}
        item = await manager.backend.store.aget(("users", "alice"), "profile")
        assert item is not None and item.value == {"a": f"2 {MARKER}"}


@pytest.mark.parametrize("url", ["memory://"])
async def test_rekey_where_nothing_is_stored_at_rest(url: str) -> None:
    refused = await rekey(url, KEY)
    assert refused.exit_code == 2 and "not available" in refused.stderr


@pytest.mark.slow
async def test_rekey_on_postgres_while_sessions_are_invoked(postgres_url: str) -> None:
    """rekey (its own event loop and pool, on a thread), batches of 50, while 12
    sessions take turns on the same database: no turn is lost, no writer fails, and the
    new key alone reads every session afterwards."""
    from support.graphs import chat_graph

    sessions = [f"load-{i}" for i in range(12)]
    async with GraphSessionManager(chat_graph(), postgres_url, encryption_key=OLD) as old:
        for sid in sessions:
            await (await old.create(sid, metadata={"who": f"{sid} {MARKER}"})).invoke(
                {"user_input": "t0"}
            )
    async with GraphSessionManager(
        chat_graph(), postgres_url, encryption_key=f"{NEW},{OLD}"
    ) as both:
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

        writers = [asyncio.create_task(turns(sid)) for sid in sessions]
        await asyncio.sleep(0.3)
        done = await asyncio.wait_for(rekey(postgres_url, f"{NEW},{OLD}", "--batch", "50"), 120)
        await asyncio.sleep(0.3)
        stop.set()
        await asyncio.gather(*writers)  # a writer that failed raises here
        assert done.exit_code == 0, done.stderr
    async with GraphSessionManager(chat_graph(), postgres_url, encryption_key=NEW) as new:
        for sid in sessions:
            session = await new.get(sid)
            assert session is not None
            assert (await session.get_state())["turns"] == acked[sid]
            assert (await new.info(sid)).metadata["who"] == f"{sid} {MARKER}"
    # what the writers sealed with OLD before the ring changed is gone too
    again = await rekey(postgres_url, NEW, "--json")
    assert again.exit_code == 0, again.stderr
