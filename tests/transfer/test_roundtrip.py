"""Export SQLite -> import Postgres -> export: the same documents, the same sessions
through the Python API, interrupted sessions resumable on the target; re-import skips,
conflicts are refused or replaced; a bad line names its number and writes nothing of its
session (``core/transfer/``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from support.delta_graphs import user_turn
from support.transfer_graphs import transfer_graphs

from graph_sessions import GraphSessionManager
from graph_sessions.core.transfer import export_backend, import_lines
from graph_sessions.errors import InvalidExportFile
from graph_sessions.models import AssistantInfo, CronInfo, SessionStatus
from graph_sessions.storage.backend import NewMessage, SessionQuery

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


async def _export(m: GraphSessionManager, source: str = "src") -> list[bytes]:
    lines: list[bytes] = []
    await export_backend(m.backend, lines.append, source=source)
    return lines


async def _populate(m: GraphSessionManager) -> None:
    """Sessions in every shape: interrupted inside a subgraph, completed after a resume,
    a DeltaChannel chat, a suspended one with a TTL and a transcript, a created one; an
    assistant with two versions, a cron, store items."""
    s = await m.create("s-int", owner="ann", metadata={"team": "a"}, graph_id="sub", ttl=3600)
    r = await s.invoke({"user_input": "hello"})
    assert r.is_interrupted
    done = await m.create("s-done", owner="bob", graph_id="sub")
    await done.invoke({"user_input": "one"})
    assert (await done.resume("yes")).status == "complete"
    await done.invoke({"user_input": "two"})  # interrupted again, after a full turn
    delta = await m.create("s-delta", graph_id="delta", metadata={"kind": "delta"})
    for i in range(4):
        await delta.invoke(user_turn(i))
    sus = await m.create("s-sus", owner="ann", graph_id="sub", ttl=60)
    await sus.invoke({"user_input": "x"})
    await sus.suspend("holiday")
    await m.backend.append_messages(
        "s-sus",
        [NewMessage("user", "hi"), NewMessage("assistant", {"text": "yo"}, {"k": 1})],
        at=T0,
    )
    await m.create("s-new", graph_id="sub", metadata={"nested": {"a": [1, 2]}})
    a = AssistantInfo(assistant_id="as1", graph_id="sub", name="v1", created_at=T0, updated_at=T0)
    assert await m.backend.create_assistant(a)
    v2 = a.model_copy(update={"version": 2, "name": "v2", "updated_at": T0 + timedelta(1)})
    assert await m.backend.add_assistant_version(v2)
    cron = CronInfo(
        cron_id="c1",
        assistant_id="as1",
        thread_id="s-done",
        schedule="*/5 * * * *",
        next_run_date=T0,
        created_at=T0,
        updated_at=T0,
    )
    assert await m.backend.create_cron(cron)
    await m.backend.store.aput(("users", "ann"), "prefs", {"theme": "dark"})
    await m.backend.store.aput(("users",), "count", {"n": 2})


async def _view(m: GraphSessionManager, sid: str) -> dict[str, Any]:
    """What the Python API shows of a session."""
    s = await m.get(sid)
    assert s is not None
    info = s.info
    history = await s.state_history(limit=None)
    return {
        "status": info.status,
        "owner": info.owner,
        "ttl": info.ttl,
        "expires_at": info.expires_at,
        "metadata": info.metadata,
        "interrupts": info.interrupts,
        "revision": info.revision,
        "state": await s.get_state(),
        "history": [
            (h.config["configurable"]["checkpoint_id"], h.values, h.next, h.metadata)
            for h in history
        ],
        "pending": [[i.value for i in t.interrupts] for t in history[0].tasks] if history else [],
        "events": [(str(e.type), e.at, e.run_id, e.data) for e in await s.events(limit=1000)],
        "runs": [r.model_dump() for r in await s.runs(limit=1000)],
        "messages": [
            (x.role, x.content, x.data, x.created_at) for x in await m.backend.load_messages(sid)
        ],
    }


SESSIONS = ["s-int", "s-done", "s-delta", "s-sus", "s-new"]


@pytest.fixture
async def source(tmp_path: Path) -> AsyncIterator[GraphSessionManager]:
    async with GraphSessionManager(
        transfer_graphs(), f"sqlite:///{tmp_path / 'src.db'}", graph_id="sub", sweep_interval=None
    ) as m:
        await _populate(m)
        yield m


def _target_url(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if kind == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    if kind == "redis":
        server = request.getfixturevalue("redis_server")
        return f"{server.url()}?prefix={server.new_prefix()}"
    return {"memory": "memory://", "sqlite": f"sqlite:///{tmp_path / 'dst.db'}"}[kind]


@pytest.mark.parametrize("kind", ["postgres", "memory", "sqlite", "redis"])
async def test_export_import_export_is_identical(
    source: GraphSessionManager, kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    lines = await _export(source, "from-sqlite")
    kinds = [orjson.loads(x)["kind"] for x in lines]
    assert kinds == ["header", "assistant", *["session"] * 5, "cron", "store_item", "store_item"]
    url = _target_url(kind, tmp_path, request)
    async with GraphSessionManager(
        transfer_graphs(), url, graph_id="sub", sweep_interval=None
    ) as target:
        report = await import_lines(target.backend, lines)
        assert report.imported == {"assistant": 1, "session": 5, "cron": 1, "store_item": 2}
        assert report.conflicts == [] and report.source == "from-sqlite"
        again = await _export(target, "from-target")
        assert orjson.loads(again[0])["source"] == "from-target"
        assert again[1:] == lines[1:]  # byte-identical documents
        for sid in SESSIONS:
            assert await _view(target, sid) == await _view(source, sid), sid
        # the subgraph's own checkpoints came along (a child namespace)
        namespaces = {c["ns"] for c in orjson.loads(lines[2])["checkpoints"]}
        assert len(namespaces) == 2, namespaces
        # an interrupted session continues on the target as on the source
        moved = await target.get("s-int")
        kept = await source.get("s-int")
        assert moved is not None and kept is not None
        r1, r2 = await moved.resume("yes"), await kept.resume("yes")
        assert r1.status == r2.status == "complete"
        assert r1.state["answer"] == r2.state["answer"] == "yes"
        assert r1.state["log"] == r2.state["log"]
        # (the new reply's message id is a fresh uuid on each side)
        assert [x.content for x in r1.state["messages"]] == [
            x.content for x in r2.state["messages"]
        ]
        assert (await target.get("s-int")).info.status == SessionStatus.COMPLETED  # type: ignore[union-attr]
        # the DeltaChannel chat goes on where it was
        delta = await target.get("s-delta")
        assert delta is not None
        out = await delta.invoke(user_turn(4))
        assert len(out.state["messages"]) == 15
        assert await target.backend.get_assistant("as1") is not None
        assert [c.cron_id for c in await target.backend.list_crons()] == ["c1"]
        item = await target.backend.store.aget(("users", "ann"), "prefs")
        assert item is not None and item.value == {"theme": "dark"}


async def test_reimport_skips_conflicts_refused_or_replaced(
    source: GraphSessionManager, tmp_path: Path
) -> None:
    lines = await _export(source)
    async with GraphSessionManager(
        transfer_graphs(), f"sqlite:///{tmp_path / 'dst.db'}", graph_id="sub", sweep_interval=None
    ) as target:
        await import_lines(target.backend, lines)
        before = await _export(target)
        for _ in range(2):
            report = await import_lines(target.backend, lines)
            assert report.imported == {} and report.conflicts == []
            assert report.skipped == {"assistant": 1, "session": 5, "cron": 1, "store_item": 2}
        assert await _export(target) == before  # no duplicate row, event or checkpoint
        assert await target.backend.count_sessions(SessionQuery()) == 5
        # the target's copy moves on: the file's is now different
        moved = await target.get("s-int")
        assert moved is not None
        await moved.resume("no")
        await target.backend.store.aput(("users",), "count", {"n": 3})
        report = await import_lines(target.backend, lines)
        assert report.skipped["session"] == 4 and len(report.conflicts) == 2
        assert (
            "line 3: session 's-int' already exists with different content" in report.conflicts[0]
        )
        assert (await target.get("s-int")).info.status == SessionStatus.COMPLETED  # type: ignore[union-attr]
        report = await import_lines(target.backend, lines, replace=True)
        assert report.replaced == {"session": 1, "store_item": 1} and report.conflicts == []
        assert await _export(target) == before
        assert await _view(target, "s-int") == await _view(source, "s-int")


def _corrupt(line: bytes) -> bytes:
    doc = orjson.loads(line)
    doc["checkpoints"][-1]["values"] = {"log": ["msgpack", "not base64!!"]}
    return orjson.dumps(doc)


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        (lambda x: x[:-40], "not JSON"),
        (_corrupt, "bad session line"),
        (lambda x: x.replace(b'"status":"interrupted"', b'"status":"sleeping"'), "status"),
        (lambda x: b'{"kind": "thread"}', "not an export line"),
    ],
)
async def test_a_bad_line_names_its_number_and_writes_nothing_of_it(
    source: GraphSessionManager, tmp_path: Path, bad: Any, expected: str
) -> None:
    lines = await _export(source)
    assert orjson.loads(lines[3])["session"]["session_id"] == "s-done"
    lines[3] = bad(lines[3])
    async with GraphSessionManager(
        transfer_graphs(), f"sqlite:///{tmp_path / 'dst.db'}", graph_id="sub", sweep_interval=None
    ) as target:
        with pytest.raises(InvalidExportFile) as err:
            await import_lines(target.backend, lines)
        assert err.value.line == 4 and expected in err.value.message
        assert err.value.message.startswith("line 4: ")
        assert await target.backend.get_session("s-int") is not None  # the line before
        assert await target.backend.get_session("s-done") is None
        assert await target.backend.latest_checkpoint_id("s-done") is None
        assert await target.backend.list_events("s-done") == []


async def test_a_file_that_is_not_an_export_is_refused(tmp_path: Path) -> None:
    async with GraphSessionManager(None, "memory://", sweep_interval=None) as m:
        with pytest.raises(InvalidExportFile, match="line 1: .*header"):
            await import_lines(m.backend, [b'{"kind": "session"}\n'])
        with pytest.raises(InvalidExportFile, match="newer"):
            await import_lines(
                m.backend, [b'{"kind":"header","format":"graph-sessions-export","version":9}']
            )
        with pytest.raises(InvalidExportFile, match="empty"):
            await import_lines(m.backend, [])


@pytest.mark.parametrize("source_query", ["checkpointer=langgraph", "share_values=true"])
async def test_other_savers_as_the_source(tmp_path: Path, source_query: str) -> None:
    """LangGraph's own SQLite saver (files of earlier versions) and ours with shared values
    export the same way; the sessions arrive whole in our SQLite saver."""
    url = f"sqlite:///{tmp_path / 'lg.db'}?{source_query}"
    async with GraphSessionManager(
        transfer_graphs(), url, graph_id="sub", sweep_interval=None
    ) as src:
        await _populate(src)
        lines = await _export(src)
        async with GraphSessionManager(
            transfer_graphs(),
            f"sqlite:///{tmp_path / 'ours.db'}",
            graph_id="sub",
            sweep_interval=None,
        ) as target:
            await import_lines(target.backend, lines)
            assert (await _export(target))[1:] == lines[1:]
            for sid in SESSIONS:
                assert await _view(target, sid) == await _view(src, sid), sid
            delta = await target.get("s-delta")
            assert delta is not None
            assert len((await delta.invoke(user_turn(4))).state["messages"]) == 15
