"""Limits on what one client can make the server do: filters, page sizes, history size,
header timeouts, push-based event tails (issue 10, items 6, 7 and 13)."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from support.server import (
    GRAPHS,
    PY,
    ServerProcess,
    base_env,
    follow_events,
    free_port,
    read_stream,
    start_module_server,
)

from graph_sessions import SyncGraphSessionManager


def sid(prefix: str = "lim") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _client_of(server: ServerProcess, request_id: str) -> str:
    """The client address (ip:port) the server's access log recorded for a request (the
    line is written just after the response: wait for it a little)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in server.logs().splitlines():
            if request_id in line:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if record.get("request_id") == request_id:
                    return str(record["client"])
        time.sleep(0.05)
    raise AssertionError(f"no access log line for {request_id}")


def _deep(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


@pytest.mark.parametrize(
    ("method", "metadata", "status"),
    [
        ("get", '{"n": 9223372036854775808}', 400),  # 2**63
        ("get", '{"n": 18446744073709551615}', 400),  # 2**64 - 1
        ("get", json.dumps({f"k{i}": i for i in range(300)}), 400),
        ("get", _deep(600), 422),  # past the body's nesting limit
        ("get", _deep(40), 400),  # past the filter's
        ("post", {"n": 2**63}, 400),
        ("post", {"n": 2**64 - 1}, 400),
        ("post", {f"k{i}": i for i in range(1000)}, 400),
        ("post", json.loads(_deep(40)), 400),
    ],
)
def test_bad_metadata_filters_are_4xx_on_a_kept_alive_connection(
    server: ServerProcess, alice: httpx.Client, method: str, metadata: object, status: int
) -> None:
    if method == "get":
        bad = alice.get("/sessions", params={"metadata": metadata})
    else:
        bad = alice.post("/sessions/search", json={"metadata": metadata})
    assert bad.status_code == status, bad.text
    assert bad.json()["error"] in ("invalid_input", "validation_error")
    assert bad.headers.get("connection", "").lower() != "close"
    good = alice.get("/sessions", params={"metadata": '{"n": 1}'})
    assert good.status_code == 200, good.text
    # The same TCP connection served both: the server saw the same client port.
    first = _client_of(server, bad.headers["x-request-id"])
    second = _client_of(server, good.headers["x-request-id"])
    assert first == second


def test_checkpoints_leave_state_out_unless_asked_and_pages_are_capped(
    alice: httpx.Client,
) -> None:
    s = sid("hist")
    big = "y" * 20_000
    for i in range(4):
        r = alice.post(f"/sessions/{s}/invoke", json={"input": {"user_input": f"{i}{big}"}})
        assert r.status_code == 200, r.text
    r = alice.get(f"/sessions/{s}/checkpoints", params={"limit": 100})
    assert r.status_code == 200
    items = r.json()
    assert len(items) >= 8
    assert all("values" not in c for c in items)
    assert {"checkpoint_id", "parent_checkpoint_id", "step", "next", "created_at", "source"} <= set(
        items[0]
    )
    assert len(r.content) < 1000 * len(items)  # metadata only: no 20 KB state per item
    full = alice.get(f"/sessions/{s}/checkpoints", params={"limit": 2, "include_values": "true"})
    assert full.status_code == 200
    assert full.json()[0]["values"]["user_input"] == f"3{big}"
    for limit in (101, 1000):
        r = alice.get(f"/sessions/{s}/checkpoints", params={"limit": limit})
        assert r.status_code == 422 and r.json()["error"] == "validation_error"


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _blob_server(folder: Path) -> ServerProcess:
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    args = [
        PY,
        "-m",
        "graph_sessions.server",
        f"{GRAPHS}:blob",
        "--backend",
        f"sqlite:///{folder / 'blob.db'}",
        "--port",
        str(port),
    ]
    return ServerProcess(args, base_env(GRAPH_SESSIONS_ACCESS_LOG="false"), folder, port).start()


def _open_unread_stream(port: int, session_id: str, body: bytes) -> socket.socket:
    """POST /stream on a raw socket with a small receive buffer, and never read."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    head = (
        f"POST /sessions/{session_id}/stream HTTP/1.1\r\nhost: t\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode() + body)
    return sock


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_slow_stream_readers_do_not_make_the_server_buffer_their_runs(tmp_path: Path) -> None:
    server = _blob_server(tmp_path / "blob")
    assert server.proc is not None
    pid = server.proc.pid
    options = {"mode": "values", "durability": "exit", "config": {"recursion_limit": 1000}}
    try:
        with server.client() as c:  # warm up: one full stream, read to the end
            events = read_stream(
                c,
                "/sessions/warm/stream",
                {"input": {"count": 20, "size": 100_000}, **options},
            )
            assert events[-1]["event"] == "result"
        before = _rss_mb(pid)
        n, count, size = 12, 200, 100_000  # unbuffered: 12 x 200 x 100 KB = 240 MB of chunks
        body = json.dumps({"input": {"count": count, "size": size}, **options}).encode()
        sockets = [_open_unread_stream(server.port, f"slow-{i}", body) for i in range(n)]
        try:
            peak = before
            deadline = time.monotonic() + 6
            while time.monotonic() < deadline:
                peak = max(peak, _rss_mb(pid))
                time.sleep(0.2)
        finally:
            for sock in sockets:
                sock.close()
        print(f"server RSS {before:.0f} MB -> peak {peak:.0f} MB with {n} unread streams")
        assert peak - before < 80, (before, peak)
        # The readers left: every run goes on to its end (nothing waits for them).
        with server.client() as c:
            deadline = time.monotonic() + 30
            statuses: list[str] = []
            while time.monotonic() < deadline:
                statuses = [c.get(f"/sessions/slow-{i}").json()["status"] for i in range(n)]
                if all(s == "completed" for s in statuses):
                    break
                time.sleep(0.2)
            assert statuses == ["completed"] * n
    finally:
        server.stop()


def _http_get(sock: socket.socket, path: str) -> bytes:
    """Send a GET on a raw socket and read one whole (small, Content-Length) response."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nhost: t\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "connection closed"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(
        next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(b":")[
            1
        ]
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head


def _closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed the connection, or None if it stayed open."""
    sock.settimeout(seconds)
    start = time.monotonic()
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return time.monotonic() - start


@pytest.mark.slow
def test_connections_that_never_finish_their_headers_are_closed(tmp_path: Path) -> None:
    server = start_module_server(tmp_path / "ht", env={"GRAPH_SESSIONS_HEADER_TIMEOUT": "1"})
    try:
        partial = socket.create_connection(("127.0.0.1", server.port))
        partial.sendall(b"GET /healthz HTTP/1.1\r\nhost: t\r\nx-slow: ")  # never finished
        silent = socket.create_connection(("127.0.0.1", server.port))  # sends nothing
        # A kept-alive connection that finished its request is left alone past the
        # header timeout (the keep-alive timeout, 30 s, governs it), and its next slow-but-
        # complete request is served.
        kept = socket.create_connection(("127.0.0.1", server.port))
        kept.settimeout(10)
        assert _http_get(kept, "/healthz").startswith(b"HTTP/1.1 200")
        for sock in (partial, silent):
            took = _closed_within(sock, 10)
            assert took is not None and took < 8, took
            sock.close()
        time.sleep(1.5)
        kept.sendall(b"GET /healthz HTTP/1.1\r\n")
        time.sleep(0.3)
        kept.sendall(b"host: t\r\n\r\n")
        data = kept.recv(65536)
        assert data.startswith(b"HTTP/1.1 200"), data
        kept.close()
    finally:
        server.stop()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _open_follower(port: int, session_id: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(
        f"GET /sessions/{session_id}/events?follow=true HTTP/1.1\r\nhost: t\r\n\r\n".encode()
    )
    return sock


@pytest.mark.slow
def test_follow_is_pushed_by_this_process_and_sees_other_processes(tmp_path: Path) -> None:
    # A poll interval far longer than the test: events written by this server arrive at
    # once because they are pushed; those written by another process arrive within it.
    folder = tmp_path / "push"
    server = start_module_server(folder, env={"GRAPH_SESSIONS_EVENTS_POLL_INTERVAL": "1"})
    try:
        with server.client() as c:
            assert c.post("/sessions", json={"session_id": "p"}).status_code == 201
        got: list[dict] = []
        ready = threading.Event()
        follower = follow_events(server, None, "p", got, ready)  # type: ignore[arg-type]
        assert ready.wait(10)  # the session_created event
        with server.client() as c:
            start = time.monotonic()
            r = c.post("/sessions/p/invoke", json={"input": {"user_input": "hi"}})
            assert r.status_code == 200
            while time.monotonic() - start < 10 and got[-1]["event"] != "run_completed":
                time.sleep(0.01)
            assert got[-1]["event"] == "run_completed"
        # another process writes to the same file
        with SyncGraphSessionManager(
            {"work": f"{GRAPHS}:work"}, f"sqlite:///{folder / 'sessions.db'}"
        ) as other:
            other.update_metadata("p", {"from": "elsewhere"})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and got[-1]["event"] != "metadata_updated":
            time.sleep(0.01)
        assert got[-1]["event"] == "metadata_updated"
        with server.client() as c:
            assert c.delete("/sessions/p").status_code == 204
        follower.join(10)
        assert got[-1]["event"] == "end"
    finally:
        server.stop()


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_idle_followers_cost_next_to_no_cpu(tmp_path: Path) -> None:
    server = start_module_server(tmp_path / "idle", env={"GRAPH_SESSIONS_ACCESS_LOG": "false"})
    assert server.proc is not None
    try:
        with server.client() as c:
            for i in range(20):
                assert c.post("/sessions", json={"session_id": f"idle-{i}"}).status_code == 201
        followers = [_open_follower(server.port, f"idle-{i % 20}") for i in range(200)]
        try:
            time.sleep(3)  # all connected and idle
            before = _cpu_seconds(server.proc.pid)
            time.sleep(5)
            used = _cpu_seconds(server.proc.pid) - before
            print(f"200 idle followers: {used:.2f} s of server CPU in 5 s")
            assert used < 0.25, used
            # and they are live: a write reaches its followers
            with server.client() as c:
                c.patch("/sessions/idle-0", json={"metadata": {"x": 1}})
            sock = followers[0]
            sock.settimeout(10)
            data = b""
            while b"metadata_updated" not in data:
                chunk = sock.recv(65536)
                assert chunk
                data += chunk
        finally:
            for sock in followers:
                sock.close()
    finally:
        server.stop()


def test_client_errors_keep_the_connection_alive(
    server: ServerProcess, alice: httpx.Client
) -> None:
    s = sid("ka")
    assert (
        alice.post(f"/sessions/{s}/invoke", json={"input": {"user_input": "a"}}).status_code == 200
    )
    answers = [
        alice.get("/nope"),  # 404 route
        alice.get(f"/sessions/{sid('none')}"),  # 404 session
        alice.put(f"/sessions/{s}"),  # 405
        alice.post("/sessions", content=b"{bad", headers={"content-type": "application/json"}),
        alice.post("/sessions", json={"ttl": "soon"}),  # 422
        alice.post("/sessions", json={"session_id": s}),  # 409
        alice.get(f"/sessions/{s}/checkpoints", params={"limit": 500}),  # 422
        alice.get("/sessions", headers={"X-Api-Key": "wrong"}),  # 401
        alice.post("/admin/sweep"),  # 403
        alice.post(f"/sessions/{s}/invoke", json={"input": {"user_input": "fail"}}),  # 422
        alice.get("/sessions"),
    ]
    assert [r.status_code for r in answers] == [
        404,
        404,
        405,
        400,
        422,
        409,
        422,
        401,
        403,
        422,
        200,
    ]
    clients = {_client_of(server, r.headers["x-request-id"]) for r in answers}
    assert len(clients) == 1, clients
