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
from graph_sessions.errors import EncryptionError
from graph_sessions.storage.backend import Backend
from graph_sessions.storage.memory import MemoryBackend

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
    async with GraphSessionManager(graph(), f"sqlite:///{db}") as manager:
        session = await manager.get("s1")
        with pytest.raises(EncryptionError, match="'k1'") as caught:
            await session.get_state()
        assert caught.value.key_id == "k1"


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
