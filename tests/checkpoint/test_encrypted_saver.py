"""Our SQLite saver with ``encryption_key``: the conformance suite, nothing readable in the
file's bytes, list tails sealed one by one, old plaintext rows still readable, and every
way a sealed row can be wrong is a typed ``EncryptionError``."""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Annotated, Any

import pytest
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt
from test_conformance import _assert_all_passed
from typing_extensions import TypedDict

from graph_sessions.checkpoint import AsyncSqliteSaver, SqliteSaver
from graph_sessions.checkpoint.schema import BLOBS, KIND_DELTA, WRITES
from graph_sessions.crypto import generate_key, is_sealed
from graph_sessions.errors import EncryptionError

KEY = generate_key("k1")
NEWER = generate_key("k2")
MARKER = "ZEBRA-7731-MARKER"


class Chat(TypedDict, total=False):
    messages: Annotated[list[str], operator.add]
    answer: str


def chat_graph() -> StateGraph:
    """Each turn appends two messages; the first turn asks a question (an interrupt)."""

    def bot(state: dict[str, Any]) -> dict[str, Any]:
        if len(state["messages"]) == 1:
            answer = interrupt(f"what is your secret? {MARKER}-question")
            return {"messages": [f"bot heard {answer}"], "answer": answer}
        return {"messages": [f"bot reply {len(state['messages'])} {MARKER}"]}

    b = StateGraph(Chat)
    b.add_node("bot", bot)
    b.add_edge(START, "bot")
    b.add_edge("bot", END)
    return b


def file_bytes(path: Path) -> bytes:
    data = b""
    for suffix in ("", "-wal"):
        part = Path(str(path) + suffix)
        if part.exists():
            data += part.read_bytes()
    return data


def run_chat(path: Path, key: str | None, turns: int = 12) -> dict[str, Any]:
    conn = sqlite3.connect(path, check_same_thread=False)
    try:
        graph = chat_graph().compile(checkpointer=SqliteSaver(conn, encryption_key=key))
        config = {"configurable": {"thread_id": "t1"}}
        graph.invoke({"messages": [f"hello {MARKER}"]}, config)
        graph.invoke(Command(resume=f"my secret is {MARKER}"), config)
        for i in range(turns):
            graph.invoke({"messages": [f"turn {i} {MARKER}"]}, config)
        return dict(graph.get_state(config).values)
    finally:
        conn.close()


async def test_conformance_with_encryption(tmp_path: Path) -> None:
    counter = iter(range(1000))

    @checkpointer_test(name="graph_sessions.AsyncSqliteSaver[encrypted]")
    async def factory() -> AsyncGenerator[AsyncSqliteSaver, None]:
        async with AsyncSqliteSaver.from_conn_string(
            str(tmp_path / f"enc-{next(counter)}.db"), encryption_key=KEY
        ) as saver:
            await saver.setup()
            yield saver

    _assert_all_passed(await validate(factory))


@pytest.mark.parametrize("encrypted", [True, False])
def test_the_marker_is_in_the_file_only_without_a_key(tmp_path: Path, encrypted: bool) -> None:
    """The proof can fail: the same run without a key leaves the marker in the bytes."""
    path = tmp_path / "chat.db"
    values = run_chat(path, KEY if encrypted else None)
    assert values["answer"] == f"my secret is {MARKER}" and len(values["messages"]) == 26
    stored = file_bytes(path)
    assert (MARKER.encode() in stored) is not encrypted
    if encrypted:  # and readable again with the key
        assert run_chat(path, KEY, turns=0)["messages"][:2] == values["messages"][:2]


def test_list_tails_are_sealed_one_by_one(tmp_path: Path) -> None:
    """The incremental saver keeps its storage: a turn stores a sealed tail, not the list."""
    path = tmp_path / "chat.db"
    run_chat(path, KEY, turns=30)
    conn = sqlite3.connect(path)
    rows = conn.execute(f"SELECT kind, data FROM {BLOBS} WHERE channel = 'messages'").fetchall()
    writes = conn.execute(f"SELECT value FROM {WRITES}").fetchall()
    conn.close()
    deltas = [data for kind, data in rows if kind == KIND_DELTA]
    assert len(deltas) > 20 and all(is_sealed(d) for d in deltas)
    assert all(is_sealed(v) for (v,) in writes if v)
    # a tail holds a message or two, not the whole conversation
    assert max(len(d) for d in deltas[:10]) < 200


def test_turning_encryption_on_keeps_old_rows_readable(tmp_path: Path) -> None:
    path = tmp_path / "chat.db"
    plain = run_chat(path, None, turns=3)
    conn = sqlite3.connect(path, check_same_thread=False)
    graph = chat_graph().compile(checkpointer=SqliteSaver(conn, encryption_key=KEY))
    config = {"configurable": {"thread_id": "t1"}}
    assert graph.get_state(config).values == plain
    graph.invoke({"messages": ["after"]}, config)
    state = graph.get_state(config).values
    assert state["messages"][: len(plain["messages"])] == plain["messages"]
    assert len(list(graph.get_state_history(config))) > 5
    conn.close()


def test_rotation_reads_old_keys_and_writes_the_newest(tmp_path: Path) -> None:
    path = tmp_path / "chat.db"
    before = run_chat(path, KEY, turns=2)
    ring = f"{NEWER},{KEY}"
    after = run_chat(path, ring, turns=0)  # opens old rows with k1, writes with k2
    assert after["messages"][: len(before["messages"])] == before["messages"]
    conn = sqlite3.connect(path)
    newest = conn.execute(
        f"SELECT data FROM {BLOBS} WHERE channel = 'messages' ORDER BY version DESC LIMIT 1"
    ).fetchone()[0]
    conn.close()
    assert b"k2" in newest[:12]


def test_wrong_or_missing_key_is_a_typed_error_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "chat.db"
    run_chat(path, KEY, turns=1)
    for key, needle in ((None, "no encryption key is configured"), (NEWER, "not among")):
        conn = sqlite3.connect(path, check_same_thread=False)
        saver = SqliteSaver(conn, encryption_key=key)
        with pytest.raises(EncryptionError, match=needle) as caught:
            saver.get_tuple({"configurable": {"thread_id": "t1"}})
        assert caught.value.key_id == "k1"
        conn.close()


def test_a_sealed_value_moved_to_another_row_does_not_open(tmp_path: Path) -> None:
    path = tmp_path / "chat.db"
    run_chat(path, KEY, turns=1)
    conn = sqlite3.connect(path, check_same_thread=False)
    (answer,) = conn.execute(
        f"SELECT data FROM {BLOBS} WHERE data IS NOT NULL AND channel = 'answer'"
    ).fetchone()
    (target,) = conn.execute(
        f"SELECT version FROM {BLOBS} WHERE channel = 'messages' ORDER BY version DESC LIMIT 1"
    ).fetchone()
    where = "WHERE channel = 'messages' AND version = ?"
    conn.execute(f"UPDATE {BLOBS} SET data = ? {where}", (answer, target))
    conn.commit()
    saver = SqliteSaver(conn, encryption_key=KEY)
    with pytest.raises(EncryptionError, match="moved from another row"):
        saver.get_tuple({"configurable": {"thread_id": "t1"}})
    conn.execute(f"UPDATE {BLOBS} SET data = substr(data, 1, 30) {where}", (target,))
    conn.commit()
    with pytest.raises(EncryptionError):
        SqliteSaver(conn, encryption_key=KEY).get_tuple({"configurable": {"thread_id": "t1"}})
    conn.close()
