"""Limits on what one client can make the server do: filters, page sizes, history size,
header timeouts, push-based event tails (issue 10, items 6, 7 and 13)."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest
from server_helpers import ServerProcess


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
