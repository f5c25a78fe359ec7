"""``encryption_key`` on a manager: what a graph is told lies sealed in the database file
(SQLite) and tables (Postgres); the environment variable; a manager without the key gets a
typed error naming the key it needs; a backend that cannot encrypt says so."""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Annotated, Any

import pytest
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from graph_sessions import GraphSessionManager
from graph_sessions.crypto import ENCRYPTION_KEY_VARIABLE, generate_key
from graph_sessions.errors import ConfigError, EncryptionError
from graph_sessions.storage.backend import Backend
from graph_sessions.storage.memory import MemoryBackend
from graph_sessions.storage.urls import backend_from_url

KEY = generate_key("k1")
MARKER = "OKAPI-5521-MARKER"


class State(TypedDict, total=False):
    messages: Annotated[list[str], operator.add]
    reply: str


def graph() -> StateGraph:
    def bot(state: dict[str, Any]) -> dict[str, Any]:
        return {"messages": [f"echo {state['messages'][-1]}"], "reply": "ok"}

    b = StateGraph(State)
    b.add_node("bot", bot)
    b.add_edge(START, "bot")
    b.add_edge("bot", END)
    return b


def file_bytes(path: Path) -> bytes:
    return b"".join(
        Path(str(path) + s).read_bytes() for s in ("", "-wal") if Path(str(path) + s).exists()
    )


async def chat(backend: str | Backend, key: str | None, turns: int = 5) -> list[str]:
    async with GraphSessionManager(graph(), backend, encryption_key=key) as manager:
        session = await manager.get_or_create("s1", owner="alice")
        for i in range(turns):
            await session.invoke({"messages": [f"turn {i}: my card is {MARKER}"]})
        return list((await session.get_state())["messages"])


@pytest.mark.parametrize("encrypted", [True, False])
async def test_sqlite_file_holds_the_conversation_only_sealed(
    tmp_path: Path, encrypted: bool
) -> None:
    db = tmp_path / "sessions.db"
    messages = await chat(f"sqlite:///{db}", KEY if encrypted else None)
    assert len(messages) == 10 and MARKER in messages[-1]
    assert (MARKER.encode() in file_bytes(db)) is not encrypted


async def test_the_environment_variable_is_the_default_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "sessions.db"
    monkeypatch.setenv(ENCRYPTION_KEY_VARIABLE, KEY)
    await chat(f"sqlite:///{db}", None)
    assert MARKER.encode() not in file_bytes(db)
    monkeypatch.delenv(ENCRYPTION_KEY_VARIABLE)
    # the database records that it is encrypted: a manager without the key is refused at
    # open, naming the key, before it could write anything in the clear
    with pytest.raises(ConfigError, match="'k1'.*pass its encryption keys"):
        async with GraphSessionManager(graph(), f"sqlite:///{db}"):
            pass
    # below the manager, a sealed read without the key is an EncryptionError naming it
    backend = backend_from_url(f"sqlite:///{db}")
    await backend.open()
    try:
        with pytest.raises(EncryptionError, match="'k1'") as caught:
            await backend.checkpointer.aget_tuple({"configurable": {"thread_id": "s1"}})
        assert caught.value.key_id == "k1"
    finally:
        await backend.close()


async def test_postgres_tables_hold_the_conversation_only_sealed(postgres_url: str) -> None:
    import psycopg

    messages = await chat(postgres_url, KEY)
    assert MARKER in messages[-1]
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute(
            "SELECT data FROM gs_checkpoint_blobs UNION ALL SELECT checkpoint FROM gs_checkpoints "
            "UNION ALL SELECT value FROM gs_checkpoint_writes"
        ).fetchall()
    stored = b"".join(bytes(r[0]) for r in rows if r[0] is not None)
    assert stored and MARKER.encode() not in stored
    assert await chat(postgres_url, KEY, turns=1) == [
        *messages,
        f"turn 0: my card is {MARKER}",
        f"echo turn 0: my card is {MARKER}",
    ]


async def test_a_backend_that_cannot_encrypt_refuses_the_key() -> None:
    class Plain(MemoryBackend):
        supports_encryption = False

    from graph_sessions.errors import BackendError

    with pytest.raises(BackendError, match="does not support encryption"):
        GraphSessionManager(graph(), Plain(), encryption_key=KEY)
    GraphSessionManager(graph(), Plain())  # no key: fine


class Asking(TypedDict, total=False):
    messages: Annotated[list[str], operator.add]
    answer: str


def asking_graph() -> StateGraph:
    """Asks a question naming the user's words; fails when told to."""
    from langgraph.types import interrupt

    def ask(state: dict[str, Any]) -> dict[str, Any]:
        last = state["messages"][-1]
        if last.startswith("fail"):
            raise RuntimeError(f"cannot handle {last}")
        answer = interrupt({"question": f"do you confirm {last}?", "resume_key": "answer"})
        return {"answer": answer}

    b = StateGraph(Asking)
    b.add_node("ask", ask)
    b.add_edge(START, "ask")
    b.add_edge("ask", END)
    return b


async def everything_with_the_marker(db: Path, key: str | None) -> None:
    async with GraphSessionManager(
        asking_graph(), f"sqlite:///{db}", encryption_key=key, indexable_metadata=["plan"]
    ) as manager:
        session = await manager.create(
            "s1", owner="alice", metadata={"plan": "pro", "address": f"1 {MARKER} road"}
        )
        result = await session.invoke({"messages": [f"send {MARKER} home"]})
        assert result.status == "interrupted"
        await session.messages.append("user", f"transcript {MARKER}", data={"note": MARKER})
        failing = await manager.create("s2", owner="alice")
        with pytest.raises(Exception, match="cannot handle"):
            await failing.invoke({"messages": [f"fail {MARKER}"]})
        # everything reads back in the clear through the manager
        info = await manager.info("s1")
        assert info.metadata["address"] == f"1 {MARKER} road"
        assert MARKER in str(info.interrupts)
        assert (await session.messages.load())[-1].data == {"note": MARKER}
        assert MARKER in ((await manager.info("s2")).last_error or "")
        runs = await failing.runs()
        assert MARKER in (runs[0].error or "")
        listed = await manager.list(metadata={"plan": "pro"})
        assert [s.session_id for s in listed] == ["s1"]


@pytest.mark.parametrize("encrypted", [True, False])
async def test_registry_transcript_and_errors_are_sealed_too(
    tmp_path: Path, encrypted: bool
) -> None:
    db = tmp_path / "sessions.db"
    await everything_with_the_marker(db, KEY if encrypted else None)
    assert (MARKER.encode() in file_bytes(db)) is not encrypted
    if encrypted:  # indexable values stay readable, by design
        assert b'"plan":"pro"' in file_bytes(db)


async def test_filtering_by_a_sealed_metadata_key_is_refused(tmp_path: Path) -> None:
    from graph_sessions.errors import InvalidInput

    async with GraphSessionManager(
        graph(), f"sqlite:///{tmp_path / 's.db'}", encryption_key=KEY
    ) as manager:
        await manager.create("s1", metadata={"address": "x"})
        with pytest.raises(InvalidInput, match="indexable_metadata"):
            await manager.list(metadata={"address": "x"})


@pytest.mark.parametrize("encrypted", [True, False])
async def test_store_values_are_sealed(tmp_path: Path, encrypted: bool) -> None:
    from graph_sessions.errors import InvalidInput

    db = tmp_path / "sessions.db"
    async with GraphSessionManager(
        graph(), f"sqlite:///{db}", encryption_key=KEY if encrypted else None
    ) as manager:
        store = manager.backend.store
        await store.aput(("users", "alice"), "profile", {"address": f"2 {MARKER} lane"})
        await store.aput(("users", "bob"), "profile", {"address": "elsewhere"}, ttl=60)
        item = await store.aget(("users", "alice"), "profile")
        assert item is not None and item.value == {"address": f"2 {MARKER} lane"}
        found = await store.asearch(("users",), limit=10)
        assert sorted(i.namespace[1] for i in found) == ["alice", "bob"]
        assert {i.key for i in found} == {"profile"}
        assert any(i.value["address"] == "elsewhere" for i in found)
        assert await store.alist_namespaces(prefix=("users",)) == [
            ("users", "alice"),
            ("users", "bob"),
        ]
        if encrypted:
            with pytest.raises(InvalidInput, match="search by namespace only"):
                await store.asearch(("users",), filter={"address": "elsewhere"})
    assert (MARKER.encode() in file_bytes(db)) is not encrypted


async def test_redis_holds_the_conversation_only_sealed(redis_server: Any) -> None:
    """Every key of the deployment's prefix, every value in it: no marker."""
    from redis.asyncio import Redis

    prefix = redis_server.new_prefix()
    url = f"{redis_server.url()}?prefix={prefix}"
    messages = await chat(url, KEY)
    assert MARKER in messages[-1]
    async with GraphSessionManager(graph(), url, encryption_key=KEY) as manager:
        session = await manager.get("s1")
        await session.update_metadata({"address": MARKER})
        await session.messages.append("user", f"note {MARKER}")
        assert (await manager.info("s1")).metadata["address"] == MARKER
    client = Redis.from_url(redis_server.url())
    stored = b""
    async for key in client.scan_iter(match=f"{prefix}*"):
        kind = (await client.type(key)).decode()
        if kind == "string":
            stored += await client.get(key) or b""
        elif kind == "hash":
            stored += b"".join(k + v for k, v in (await client.hgetall(key)).items())
        elif kind == "zset":
            stored += b"".join(await client.zrange(key, 0, -1))
        elif kind == "list":
            stored += b"".join(await client.lrange(key, 0, -1))
        elif kind == "stream":
            stored += repr(await client.xrange(key)).encode()
    await client.aclose()
    assert len(stored) > 1000 and MARKER.encode() not in stored
