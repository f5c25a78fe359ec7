"""Edges of encryption at rest found in review: values that look sealed, checkpoint
metadata copied from the caller's config, LangGraph's savers, the run-stream table, the
store's TTL sweeper, and a backend the caller wrapped already."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from test_encryption_at_rest import KEY, MARKER, file_bytes, graph

from graph_sessions import GraphSessionManager
from graph_sessions.crypto import parse_keys, seal_json
from graph_sessions.errors import BackendError, EncryptionError
from graph_sessions.storage import backend_from_url
from graph_sessions.storage.encrypted import EncryptedBackend, with_encryption
from graph_sessions.storage.run_streams import StreamChunk


async def test_values_that_look_sealed_are_stored_and_read_as_written(tmp_path: Path) -> None:
    """An indexable value is never opened; a sealed key's value is sealed whatever it is."""
    db = f"sqlite:///{tmp_path / 's.db'}"
    tricky = "gse1:AAAA"
    lookalike = "gse1:" + seal_json(parse_keys(KEY), "enterprise", b"x")[5:]  # type: ignore[arg-type]
    async with GraphSessionManager(
        graph(), db, encryption_key=KEY, indexable_metadata=["plan"]
    ) as manager:
        await manager.create("a", metadata={"plan": tricky, "note": tricky})
        await manager.create("b", metadata={"plan": lookalike, "note": lookalike})
        listed = {s.session_id: s.metadata for s in await manager.list()}
        assert listed == {
            "a": {"plan": tricky, "note": tricky},
            "b": {"plan": lookalike, "note": lookalike},
        }
        assert [s.session_id for s in await manager.list(metadata={"plan": tricky})] == ["a"]


async def test_config_values_copied_into_checkpoint_metadata_are_sealed(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    conn = sqlite3.connect(db, check_same_thread=False)
    from graph_sessions.checkpoint import SqliteSaver

    saver = SqliteSaver(conn, encryption_key=KEY)
    compiled = graph().compile(checkpointer=saver)
    config = {
        "configurable": {"thread_id": "t", "api_token": f"TOKEN-{MARKER}"},
        "metadata": {"email": f"{MARKER}@example.org"},
    }
    compiled.invoke({"messages": ["hi"]}, config)
    conn.commit()
    assert MARKER.encode() not in file_bytes(db)
    tup = saver.get_tuple({"configurable": {"thread_id": "t"}})
    assert tup is not None
    assert tup.metadata["email"] == f"{MARKER}@example.org"  # type: ignore[typeddict-item]
    assert tup.metadata["source"] == "loop" and tup.metadata["step"] >= 0
    history = list(saver.list({"configurable": {"thread_id": "t"}}, filter={"source": "loop"}))
    assert history  # LangGraph's own keys stay filterable
    conn.close()


async def test_langgraph_savers_refuse_a_key(tmp_path: Path) -> None:
    backend = backend_from_url(f"sqlite:///{tmp_path / 's.db'}?checkpointer=langgraph")
    wrapped = with_encryption(backend, parse_keys(KEY))
    with pytest.raises(BackendError, match="needs graph-sessions' checkpoint saver"):
        await wrapped.open()
    await backend.close()


async def test_run_stream_rows_are_sealed(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    backend = with_encryption(backend_from_url(f"sqlite:///{db}"), parse_keys(KEY))
    await backend.open()
    try:
        relay = backend.run_stream_relay()
        assert relay is not None and backend.run_stream_relay() is relay
        data = f'{{"messages":["{MARKER}"]}}'
        await relay.append("r1", 1, [StreamChunk(0, "values", data), StreamChunk(0, "x", "{}")])
        rows = await relay.read("r1", 0)
        assert [(r.seq, r.event, r.data) for r in rows] == [(1, "values", data), (2, "x", "{}")]
        plain = backend.inner.run_stream_relay()  # type: ignore[attr-defined]
        raw = await plain.read("r1", 0)
        assert all(MARKER not in r.data for r in raw)
        # a sealed row moved to another seq does not open
        await plain.append("r2", 5, [StreamChunk(0, "values", raw[0].data)])
        with pytest.raises(EncryptionError):
            await relay.read("r2", 0)
    finally:
        await backend.close()


async def test_the_store_keeps_its_ttl_sweeper_and_config(tmp_path: Path) -> None:
    backend = with_encryption(backend_from_url(f"sqlite:///{tmp_path / 's.db'}"), parse_keys(KEY))
    await backend.open()
    try:
        store = backend.store
        inner = backend.inner.store  # type: ignore[attr-defined]
        assert store is not inner and backend.store is store
        assert hasattr(store, "sweep_ttl") and store.supports_ttl == inner.supports_ttl
        store.ttl_config = {"default_ttl": 5.0, "refresh_on_read": True}
        assert inner.ttl_config == {"default_ttl": 5.0, "refresh_on_read": True}
        assert await store.sweep_ttl() == 0
    finally:
        await backend.close()


async def test_a_backend_wrapped_by_the_caller_stays_encrypted(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    wrapped = EncryptedBackend(backend_from_url(f"sqlite:///{db}"), parse_keys(KEY))  # type: ignore[arg-type]
    async with GraphSessionManager(graph(), wrapped) as manager:  # no encryption_key
        assert manager.backend is wrapped
        session = await manager.create("s", metadata={"note": MARKER})
        await session.invoke({"messages": [MARKER]})
    assert MARKER.encode() not in file_bytes(db)
