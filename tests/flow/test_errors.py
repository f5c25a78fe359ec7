"""Errors: unknown sessions, bad graph references and backend URLs, invalid inputs, a closed
manager, a graph that brings its own checkpointer.

Real parts only: SQLite files under tmp_path and the memory backend (``any_backend`` runs a
test on both). Moved from the numbered section 10 of the former tests/test_flow.py."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from support.flow import (
    FLOW_GRAPHS,
    count_rows,
    manager,
    shareable,
    sqlite_path,
)
from support.graphs import chat_graph

from graph_sessions import (
    BackendError,
    GraphLoadError,
    GraphSessionManager,
    InvalidInput,
    ManagerClosed,
    RunStatus,
    SessionNotFound,
    SessionStatus,
)

S = SessionStatus


async def test_unknown_session_errors_carry_the_id(chat_manager: GraphSessionManager) -> None:
    with pytest.raises(SessionNotFound) as ei:
        await chat_manager.info("ghost")
    assert ei.value.session_id == "ghost"
    assert ei.value.to_dict()["error"] == "session_not_found"
    with pytest.raises(InvalidInput):
        await chat_manager.info("")
    # a session object whose row was deleted under it
    s = await chat_manager.create("short-lived")
    await chat_manager.delete("short-lived")
    with pytest.raises(SessionNotFound) as gone:
        await s.events()
    assert gone.value.session_id == "short-lived"


@pytest.mark.parametrize(
    "ref",
    [
        "nope.py:graph",
        "json:nothing",
        "no_colon",
        42,
        f"{FLOW_GRAPHS}:not_a_graph",
        f"{FLOW_GRAPHS}:raising_factory",
        f"{FLOW_GRAPHS}:missing_attr",
        "graphs/support.yaml",
        "no_such_module_xyz:graph",
    ],
)
def test_bad_graph_references_raise_graph_load_error(ref: Any, tmp_path: Path) -> None:
    with pytest.raises(GraphLoadError) as ei:
        GraphSessionManager(graph=ref, backend=f"sqlite:///{tmp_path / 'x.db'}")
    assert ei.value.session_id is None
    assert not (tmp_path / "x.db").exists()  # nothing opened


def test_factory_that_raises_and_factory_with_arguments(tmp_path: Path) -> None:
    def broken() -> Any:
        raise ValueError("cannot build")

    with pytest.raises(GraphLoadError, match="cannot build"):
        GraphSessionManager(graph=broken, backend="memory://")
    with pytest.raises(GraphLoadError):
        GraphSessionManager(graph=lambda required: chat_graph(), backend="memory://")
    # No graph at all: allowed for inspection (see test_multigraph); running needs one.


async def test_good_graph_references(tmp_path: Path) -> None:
    # a factory, "file.py:builder" and "file.py:factory" all load and run
    for ref in (chat_graph, f"{FLOW_GRAPHS}:router_builder", f"{FLOW_GRAPHS}:router_graph"):
        async with manager(ref, "memory://") as m:
            s = await m.create("ok")
            result = await s.invoke({"user_input": "fine"})
            assert result.status == "complete"


@pytest.mark.parametrize(
    "url",
    [
        "postgres://",
        "postgres://x?pool_max_size=many",
        "postgresql://x/db?checkpointer=nope",
        "ftp://x",
        "redis://",
        "rediss://x/0?expiry_grace=soon",
        "sqlite://",
        "sqlite:///x.db?mode=ro",
        "sqlite:///x.db?share_values=maybe",
        "sqlite:///x.db?checkpointer=langgraph&share_values=true",
    ],
)
def test_bad_backend_url_raises_backend_error_at_construction(url: str) -> None:
    with pytest.raises(BackendError):
        GraphSessionManager(graph=chat_graph(), backend=url)


async def test_sqlite_in_missing_folder_raises_backend_error_at_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    m = manager(chat_graph(), "sqlite:///missing_dir/x.db")
    with pytest.raises(BackendError):
        await m.open()
    assert not m.is_open
    assert not (tmp_path / "missing_dir").exists()
    absolute = manager(chat_graph(), f"sqlite:///{tmp_path / 'nope' / 'x.db'}")
    with pytest.raises(BackendError):
        async with absolute:
            pass


async def test_invalid_inputs_carry_the_session_id(any_backend: str) -> None:
    with pytest.raises(InvalidInput):
        GraphSessionManager(graph=chat_graph(), backend=any_backend, multitask="bogus")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        GraphSessionManager(graph=chat_graph(), backend=any_backend, durability="never")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        GraphSessionManager(graph=chat_graph(), backend=any_backend, ttl=-5)
    with pytest.raises(InvalidInput):
        GraphSessionManager(
            graph=chat_graph(), backend=any_backend, checkpointer_config={"type": "mongo"}
        )
    async with manager(chat_graph(), any_backend) as m:
        s = await m.create("inv")
        for bad in ([1, 2], "just text", 7):
            with pytest.raises(InvalidInput) as ei:
                await s.invoke(bad)  # type: ignore[arg-type]
            assert ei.value.session_id == "inv"
        with pytest.raises(InvalidInput) as ei:
            await s.invoke({"user_input": "x"}, multitask="bogus")  # type: ignore[arg-type]
        assert ei.value.session_id == "inv"
        with pytest.raises(InvalidInput) as ei:
            await s.invoke({"user_input": "x"}, durability="never")  # type: ignore[arg-type]
        assert ei.value.session_id == "inv"
        with pytest.raises(InvalidInput):
            await m.create("bad-meta", metadata=["x"])  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            await m.create("x" * 300)
        # nothing ran, nothing changed
        info = await m.info("inv")
        assert info.status == S.CREATED and info.run_count == 0
        assert await s.runs() == []


async def test_invoke_without_input_on_new_session_is_invalid_input(
    chat_manager: GraphSessionManager,
) -> None:
    s = await chat_manager.create("empty")
    with pytest.raises(InvalidInput) as ei:
        await s.invoke()
    assert ei.value.session_id == "empty"
    info = await chat_manager.info("empty")
    assert info.status == S.CREATED and info.last_error is None


async def test_closed_manager_raises_manager_closed(any_backend: str) -> None:
    m = manager(chat_graph(), any_backend)
    with pytest.raises(ManagerClosed):
        _ = m.graph  # a property cannot open storage: open first
    async with m:
        s = await m.create("later")
        await s.invoke({"user_input": "a"})
    for call in (
        m.get_or_create("later"),
        m.get("later"),
        m.info("later"),
        m.delete("later"),
        m.stats(),
        m.count(),
    ):
        with pytest.raises(ManagerClosed):
            await call
    with pytest.raises(ManagerClosed):
        await s.get_state()


async def test_invoke_on_closed_manager_raises_manager_closed(any_backend: str) -> None:
    storage = shareable(any_backend)
    m = manager(chat_graph(), storage)
    async with m:
        s = await m.create("closed-invoke")
        await s.invoke({"user_input": "a"})
    with pytest.raises(ManagerClosed):
        await s.invoke({"user_input": "b"})
    async with manager(chat_graph(), storage) as again:
        info = await again.info("closed-invoke")
        assert info.status == S.COMPLETED and info.run_count == 1
        reopened = await again.get("closed-invoke")
        assert reopened is not None
        assert [r.status for r in await reopened.runs()] == [RunStatus.SUCCESS]


async def test_graph_with_its_own_checkpointer_is_rebound(db_url: str) -> None:
    own_saver = InMemorySaver()
    async with manager(chat_graph().compile(checkpointer=own_saver), db_url) as m:
        s = await m.create("rebound")
        await s.invoke({"user_input": "a"})
    assert list(own_saver.list(None)) == []  # its own saver was never written to
    rows = count_rows(sqlite_path(db_url), "rebound")
    assert rows["checkpoints"] > 0
    # a new process, a new compile with yet another private saver: the state is in the file
    async with manager(chat_graph().compile(checkpointer=InMemorySaver()), db_url) as m2:
        s2 = await m2.get_or_create("rebound")
        result = await s2.invoke({"user_input": "b"})
        assert result.state["turns"] == ["a", "b"]


async def test_a_manager_never_opened_opens_at_its_first_call(tmp_path: Path) -> None:
    """The founding document's spelling: made at start-up, used at once, no open()."""
    m = manager(chat_graph(), f"sqlite:///{tmp_path / 'seed.db'}")
    assert not m.is_open
    first, second = await asyncio.gather(m.get_or_create("a"), m.list())
    assert (
        m.is_open
        and first.session_id == "a"
        and [i.session_id for i in second]
        in (
            [],
            ["a"],
        )
    )
    await first.invoke({"user_input": "hi"})
    await m.cleanup()
    assert not m.is_open
    with pytest.raises(ManagerClosed):  # closed by its owner: it stays closed
        await m.get_or_create("a")


async def test_a_session_id_with_a_nul_character_is_refused(any_backend: str) -> None:
    """Storage keys use NUL as a separator (Redis): such an id is bad input everywhere."""
    async with manager(chat_graph(), any_backend) as m:
        with pytest.raises(InvalidInput, match="NUL"):
            await m.create("a\x00b")
        assert await m.count() == 0
