"""``graph-sessions mcp`` over stdio, driven by the official MCP client (``ClientSession`` +
``stdio_client``): a real process on a real SQLite file."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from support.server import GRAPHS, base_env, write_config

pytestmark = pytest.mark.slow


@asynccontextmanager
async def mcp_session(tmp_path: Path) -> AsyncIterator[ClientSession]:
    """A client session on ``graph-sessions mcp --config`` (graphs ``work``, ``approval``)."""
    config = write_config(tmp_path, tmp_path / "sessions.db")
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "graph_sessions.cli.main", "mcp", "--config", str(config)],
        env=base_env(),
        cwd=tmp_path,
    )
    with (tmp_path / "stderr.log").open("w") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write, read_timeout_seconds=60) as session,
        ):
            await session.initialize()
            yield session


def status_in_db(db: Path, session_id: str) -> str:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT status FROM sessions WHERE session_id = ?", (session_id,))
        return str(row.fetchone()[0])


def data(result: Any) -> dict[str, Any]:
    assert result.structured_content is not None, result
    return dict(result.structured_content)


async def test_tools_interrupt_resume_and_resources(tmp_path: Path) -> None:
    async with mcp_session(tmp_path) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert {"run_work", "run_approval", "list_sessions", "get_session"} <= set(tools)
        assert {"resume_session", "suspend_session", "delete_session"} <= set(tools)
        schema = tools["run_approval"].input_schema
        assert schema["properties"]["input"]["properties"]["user_input"]["type"] == "string"
        assert "user_input (string)" in (tools["run_approval"].description or "")

        progress: list[tuple[float, str | None]] = []

        async def on_progress(done: float, total: float | None, message: str | None) -> None:
            progress.append((done, message))

        first = await client.call_tool(
            "run_approval", {"input": {"user_input": "hello"}}, progress_callback=on_progress
        )
        assert not first.is_error, first.content
        run = data(first)
        sid = run["session_id"]
        assert run["status"] == "interrupted"
        assert run["interrupt"]["question"] == "approve?"
        assert run["state"]["log"] == ["draft:hello"]
        assert [m for _, m in progress][:1] == ["draft finished"]
        assert status_in_db(tmp_path / "sessions.db", sid) == "interrupted"

        got = data(await client.call_tool("get_session", {"session_id": sid}))
        assert got["status"] == "interrupted"
        assert got["pending_interrupts"][0]["question"] == "approve?"

        done = data(await client.call_tool("resume_session", {"session_id": sid, "answer": "yes"}))
        assert done["status"] == "complete"
        assert done["output"] == "sent"
        assert status_in_db(tmp_path / "sessions.db", sid) == "completed"

        templates = (await client.list_resource_templates()).resource_templates
        assert {t.uri_template for t in templates} == {
            "session://{session_id}/state",
            "session://{session_id}/events",
        }
        state = await client.read_resource(f"session://{sid}/state")
        values = json.loads(state.contents[0].text)  # type: ignore[union-attr]
        assert values["approved"] is True
        assert values["log"] == ["draft:hello", "answer:yes", "respond"]
        events = await client.read_resource(f"session://{sid}/events")
        kinds = [e["type"] for e in json.loads(events.contents[0].text)]  # type: ignore[union-attr]
        assert kinds, "the events resource is empty"

        listed = data(await client.call_tool("list_sessions", {}))
        assert [s["session_id"] for s in listed["sessions"]] == [sid]

        # the same session again, through the graph tool with its id
        again = data(
            await client.call_tool("run_work", {"session_id": "w1", "input": {"user_input": "x"}})
        )
        assert (again["session_id"], again["output"]) == ("w1", "echo:x")

        gone = data(await client.call_tool("delete_session", {"session_id": sid}))
        assert gone["deleted"] is True
        assert (
            data(await client.call_tool("list_sessions", {}))["sessions"][0]["session_id"] == "w1"
        )


async def test_errors_are_tool_errors(tmp_path: Path) -> None:
    async with mcp_session(tmp_path) as client:
        missing = await client.call_tool("get_session", {"session_id": "nope"})
        assert missing.is_error
        assert data(missing)["error"] == "session_not_found"

        bad = await client.call_tool("run_work", {"input": {"user_input": 5}})
        assert bad.is_error
        assert "user_input" in data(bad)["message"]

        failed = await client.call_tool(
            "run_work", {"session_id": "f", "input": {"user_input": "fail"}}
        )
        assert failed.is_error
        assert data(failed)["error"] == "run_failed"

        not_paused = await client.call_tool("resume_session", {"session_id": "f", "answer": 1})
        assert not_paused.is_error
        assert data(not_paused)["error"] == "invalid_transition"

        with pytest.raises(Exception, match="not found"):
            await client.read_resource("session://nope/state")

        # the server is still serving after all that
        ok = data(await client.call_tool("run_work", {"input": {"user_input": "still"}}))
        assert ok["output"] == "echo:still"


async def test_cancelled_call_cancels_the_run(tmp_path: Path) -> None:
    async with mcp_session(tmp_path) as client:
        call = asyncio.ensure_future(
            client.call_tool(
                "run_work", {"session_id": "slow", "input": {"user_input": "z", "delay": 60}}
            )
        )
        db = tmp_path / "sessions.db"
        for _ in range(200):  # until the run has begun
            await asyncio.sleep(0.05)
            if db.exists() and _status_or_none(db, "slow") == "running":
                break
        assert _status_or_none(db, "slow") == "running"
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        for _ in range(200):  # the run records its end
            await asyncio.sleep(0.05)
            if _status_or_none(db, "slow") != "running":
                break
        # the core's cancelled run: its run row ends cancelled, the session (its node
        # unfinished) failed, "invoke(None) continues it"
        assert _status_or_none(db, "slow") == "failed"
        with sqlite3.connect(db) as conn:
            runs = conn.execute("SELECT status FROM runs WHERE session_id = 'slow'").fetchall()
        assert runs == [("cancelled",)]
        got = data(await client.call_tool("get_session", {"session_id": "slow"}))
        assert got["status"] == "failed"
        assert "cancelled" in got["last_error"]
        # the session takes another run
        again = data(
            await client.call_tool(
                "run_work", {"session_id": "slow", "input": {"user_input": "q", "delay": 0}}
            )
        )
        assert again["output"] == "echo:q"


def _status_or_none(db: Path, session_id: str) -> str | None:
    try:
        return status_in_db(db, session_id)
    except (sqlite3.Error, TypeError):
        return None


async def test_a_graph_reference_and_backend_on_the_command_line(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    params = StdioServerParameters(
        command=sys.executable,
        args=[
            "-m",
            "graph_sessions.cli.main",
            "mcp",
            f"{GRAPHS}:approval",
            "--backend",
            f"sqlite:///{db}",
        ],
        env=base_env(),
        cwd=tmp_path,
    )
    with (tmp_path / "stderr.log").open("w") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write, read_timeout_seconds=60) as client,
        ):
            await client.initialize()
            runs = [t.name for t in (await client.list_tools()).tools if t.name.startswith("run_")]
            assert len(runs) == 1
            first = data(await client.call_tool(runs[0], {"input": {"user_input": "cli"}}))
            assert first["status"] == "interrupted"
    assert status_in_db(db, first["session_id"]) == "interrupted"
    assert "database:" in (tmp_path / "stderr.log").read_text()  # notes on stderr, not stdout


def test_without_a_graph_it_says_so(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "graph_sessions.cli.main", "mcp"],
        cwd=tmp_path,
        env=base_env(),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert "mcp needs a graph" in done.stderr
    assert not (tmp_path / "sessions.db").exists()
