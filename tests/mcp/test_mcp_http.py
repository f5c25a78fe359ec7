"""``/mcp`` on a real ``graph-sessions serve`` process (API keys on, real SQLite file),
driven by the official MCP client over streamable HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import jwt
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError
from support.server import (
    API_KEYS_ENV,
    JWT_SECRET,
    KEYS,
    PY,
    ServerProcess,
    base_env,
    free_port,
    write_config,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("mcp-http")
    config = write_config(folder, folder / "sessions.db")
    port = free_port()
    args = [
        PY,
        "-m",
        "graph_sessions.cli.main",
        "serve",
        "--config",
        str(config),
        "--port",
        str(port),
    ]
    env = base_env(GRAPH_SESSIONS_API_KEYS=API_KEYS_ENV, GRAPH_SESSIONS_JWT_SECRET=JWT_SECRET)
    proc = ServerProcess(args, env, folder, port).start()
    try:
        yield proc
    finally:
        proc.stop()


@asynccontextmanager
async def mcp_as(
    server: ServerProcess, who: str, *, bearer: bool = False
) -> AsyncIterator[ClientSession]:
    key = KEYS.get(who, who)
    headers = {"Authorization": f"Bearer {key}"} if bearer else {"X-Api-Key": key}
    async with (
        create_mcp_http_client(headers=headers) as http,
        streamable_http_client(f"{server.url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write, read_timeout_seconds=60) as session,
    ):
        await session.initialize()
        yield session


def data(result: Any) -> dict[str, Any]:
    assert result.structured_content is not None, result
    return dict(result.structured_content)


async def test_flow_over_http(server: ServerProcess) -> None:
    async with mcp_as(server, "alice") as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert {"run_work", "run_approval", "resume_session", "get_session"} <= names
        progress: list[str | None] = []

        async def on_progress(done: float, total: float | None, message: str | None) -> None:
            progress.append(message)

        first = data(
            await client.call_tool(
                "run_approval",
                {"session_id": "a-http", "input": {"user_input": "hi"}},
                progress_callback=on_progress,
            )
        )
        assert (first["session_id"], first["status"]) == ("a-http", "interrupted")
        assert first["interrupt"]["question"] == "approve?"
        assert progress[:1] == ["draft finished"]
        done = data(
            await client.call_tool("resume_session", {"session_id": "a-http", "answer": "no"})
        )
        assert (done["status"], done["output"]) == ("complete", "dropped")
        state = await client.read_resource("session://a-http/state")
        assert json.loads(state.contents[0].text)["approved"] is False  # type: ignore[union-attr]

    # the same session through REST: same owner, same state
    with server.client("alice") as rest:
        r = rest.get("/sessions/a-http")
        assert r.status_code == 200
        assert r.json()["owner"] == "alice"
        assert r.json()["status"] == "completed"


async def test_second_owner_sees_nothing(server: ServerProcess) -> None:
    async with mcp_as(server, "alice", bearer=True) as alice:
        made = data(
            await alice.call_tool("run_work", {"session_id": "a-own", "input": {"user_input": "x"}})
        )
        assert made["output"] == "echo:x"
    async with mcp_as(server, "bob") as bob:
        listed = data(await bob.call_tool("list_sessions", {}))
        assert all(s["owner"] == "bob" for s in listed["sessions"])
        assert "a-own" not in {s["session_id"] for s in listed["sessions"]}
        hidden = await bob.call_tool("get_session", {"session_id": "a-own"})
        assert hidden.is_error and data(hidden)["error"] == "session_not_found"
        gone = await bob.call_tool("delete_session", {"session_id": "a-own"})
        assert gone.is_error and data(gone)["error"] == "session_not_found"
        taken = await bob.call_tool(
            "run_work", {"session_id": "a-own", "input": {"user_input": "y"}}
        )
        assert taken.is_error
        with pytest.raises(Exception, match="not found"):
            await bob.read_resource("session://a-own/state")
    async with mcp_as(server, "root") as root:  # the admin sees every session
        got = data(await root.call_tool("get_session", {"session_id": "a-own"}))
        assert (got["owner"], got["status"]) == ("alice", "completed")
    with server.client("alice") as rest:  # alice's session is untouched
        assert rest.get("/sessions/a-own/state").json()["values"]["log"] == ["x"]


def test_wrong_key_is_refused(server: ServerProcess) -> None:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"},
        },
    }
    headers = {"Accept": "application/json, text/event-stream"}
    for extra in ({}, {"X-Api-Key": "wrong"}, {"Authorization": "Bearer wrong"}):
        r = httpx.post(f"{server.url}/mcp", json=body, headers=headers | extra, timeout=10)
        assert r.status_code == 401, r.text
        assert r.json()["error"] == "unauthorized"


async def test_wrong_key_refuses_the_client(server: ServerProcess) -> None:
    """The official client with a wrong key never gets a session: its initialize fails with
    the MCP error the 401 becomes."""
    initialized = False
    with pytest.raises(BaseException) as caught:
        async with mcp_as(server, "not-a-key"):
            initialized = True
    assert not initialized
    assert any(isinstance(e, MCPError) for e in _leaves(caught.value)), caught.value


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


async def test_cancelled_call_cancels_the_run_over_http(server: ServerProcess) -> None:
    async with mcp_as(server, "alice") as client:
        args = {"session_id": "a-slow", "input": {"user_input": "z", "delay": 60}}
        call = asyncio.ensure_future(client.call_tool("run_work", args))
        with server.client("alice") as rest:
            for _ in range(200):  # until the run has begun
                await asyncio.sleep(0.05)
                r = rest.get("/sessions/a-slow")
                if r.status_code == 200 and r.json()["status"] == "running":
                    break
            assert rest.get("/sessions/a-slow").json()["status"] == "running"
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            for _ in range(200):  # the run records its end
                await asyncio.sleep(0.05)
                if rest.get("/sessions/a-slow").json()["status"] != "running":
                    break
            assert rest.get("/sessions/a-slow").json()["status"] == "failed"
            runs = rest.get("/sessions/a-slow/runs").json()
            assert [run["status"] for run in runs] == ["cancelled"]
        again = data(
            await client.call_tool(
                "run_work", {"session_id": "a-slow", "input": {"user_input": "q", "delay": 0}}
            )
        )
        assert again["output"] == "echo:q"


async def test_a_jwt_names_the_owner(server: ServerProcess) -> None:
    token = jwt.encode({"sub": "dave", "exp": time.time() + 60}, JWT_SECRET, algorithm="HS256")
    async with mcp_as(server, token, bearer=True) as dave:
        made = data(await dave.call_tool("run_work", {"input": {"user_input": "jwt"}}))
        listed = data(await dave.call_tool("list_sessions", {}))
        assert [s["session_id"] for s in listed["sessions"]] == [made["session_id"]]
        assert listed["sessions"][0]["owner"] == "dave"
    expired = jwt.encode({"sub": "dave", "exp": time.time() - 60}, JWT_SECRET, algorithm="HS256")
    r = httpx.post(
        f"{server.url}/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
        headers={
            "Authorization": f"Bearer {expired}",
            "Accept": "application/json, text/event-stream",
        },
        timeout=10,
    )
    assert r.status_code == 401


BODY_AUTH_FILE = """
from langgraph_sdk import Auth

auth = Auth()


@auth.authenticate
async def authenticate(authorization: str | None, body: dict) -> str:
    # reads the request body while authenticating (LangGraph passes it on request)
    if authorization != "Bearer token-carol":
        raise Auth.exceptions.HTTPException(status_code=401, detail="no")
    return "carol"
"""


async def test_an_auth_file_that_reads_the_body_does_not_hang_mcp(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The auth handler reads the body; the MCP SDK must still get it (a replayed copy)."""
    folder = tmp_path_factory.mktemp("mcp-body-auth")
    (folder / "auth.py").write_text(BODY_AUTH_FILE)
    config = json.loads(write_config(folder, folder / "sessions.db").read_text())
    config["auth"] = {"path": "./auth.py:auth"}
    (folder / "langgraph.json").write_text(json.dumps(config))
    port = free_port()
    args = [
        PY,
        "-m",
        "graph_sessions.cli.main",
        "serve",
        "--config",
        str(folder / "langgraph.json"),
    ]
    proc = ServerProcess([*args, "--port", str(port)], base_env(), folder, port).start()
    try:
        headers = {"Authorization": "Bearer token-carol"}
        async with (
            create_mcp_http_client(headers=headers) as http,
            streamable_http_client(f"{proc.url}/mcp", http_client=http) as (read, write),
            ClientSession(read, write, read_timeout_seconds=30) as session,
        ):
            await asyncio.wait_for(session.initialize(), 30)
            tools = await asyncio.wait_for(session.list_tools(), 30)
            assert any(t.name.startswith("run_") for t in tools.tools)
    finally:
        proc.stop()


def run_counts(text: str, kind: str) -> dict[str, float]:
    """``graph_sessions_runs_total`` of one kind, by outcome, from a /metrics page."""
    counts: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("graph_sessions_runs_total{") and f'kind="{kind}"' in line:
            outcome = line.split('outcome="', 1)[1].split('"', 1)[0]
            counts[outcome] = float(line.rsplit(" ", 1)[1])
    return counts


async def test_runs_honour_run_timeout_and_are_counted(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A run tool past the server's run_timeout is cancelled and answers a ``run_timeout``
    tool error (REST answers 504); MCP runs show in /metrics as REST's do."""
    folder = tmp_path_factory.mktemp("mcp-run-timeout")
    config = write_config(folder, folder / "sessions.db")
    port = free_port()
    args = [PY, "-m", "graph_sessions.cli.main", "serve", "--config", str(config)]
    env = base_env(GRAPH_SESSIONS_API_KEYS=API_KEYS_ENV, GRAPH_SESSIONS_RUN_TIMEOUT="1.5")
    proc = ServerProcess([*args, "--port", str(port)], env, folder, port).start()
    try:
        async with mcp_as(proc, "alice") as client:
            slow = await client.call_tool(
                "run_work", {"session_id": "t-slow", "input": {"user_input": "z", "delay": 30}}
            )
            assert slow.is_error, slow
            assert data(slow)["error"] == "run_timeout"
            assert data(slow)["session_id"] == "t-slow"
            fast = data(
                await client.call_tool(
                    "run_work", {"session_id": "t-fast", "input": {"user_input": "ask"}}
                )
            )
            assert fast["status"] == "interrupted"
            resumed = data(
                await client.call_tool("resume_session", {"session_id": "t-fast", "answer": "y"})
            )
            assert resumed["status"] == "complete"
        with proc.client("alice") as rest:
            # the timed-out run was cancelled and its end recorded
            assert rest.get("/sessions/t-slow").json()["status"] == "failed"
            runs = rest.get("/sessions/t-slow/runs").json()
            assert [run["status"] for run in runs] == ["cancelled"]
            metrics = rest.get("/metrics").text
        assert run_counts(metrics, "mcp_run") == {"run_timeout": 1.0, "interrupted": 1.0}
        assert run_counts(metrics, "mcp_resume") == {"complete": 1.0}
        assert "graph_sessions_active_runs 0.0" in metrics
    finally:
        proc.stop()
