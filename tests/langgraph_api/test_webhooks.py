"""Run-end webhooks against a real server process: real receivers (tiny HTTP servers in
this test, on loopback addresses the server's ``webhooks`` setting allows) get the Run JSON
once a run ends (background, wait, stream, stateless); a 500 is retried; an unreachable
receiver is given up on without touching the run; a URL the policy refuses is never
requested (422 at create, or ``refused`` in the thread's events when its name resolves to
an address not allowed); the outcomes appear in ``/sessions/{id}/events``.

The allowed receiver listens on 127.0.0.2 (the only network allowed), so ``localhost``
(127.0.0.1) is a name that resolves to a loopback address the operator did not allow."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from support.lgapi import start_lg_server
from support.server import ServerProcess

pytestmark = pytest.mark.slow

ALLOWED_IP = "127.0.0.2"
HI = {"messages": [{"role": "user", "content": "hi"}]}
# the fields LangGraph's server POSTs (reference/langgraph-api/wire/webhooks.json)
PAYLOAD_KEYS = {
    "run_id",
    "thread_id",
    "assistant_id",
    "metadata",
    "status",
    "kwargs",
    "multitask_strategy",
    "created_at",
    "updated_at",
    "run_started_at",
    "run_ended_at",
    "webhook_sent_at",
    "values",
}


class Receiver:
    """An HTTP server recording every POST; ``statuses[path]`` are the answers to give in
    turn (200 once they run out)."""

    def __init__(self, host: str) -> None:
        self.seen: list[dict[str, Any]] = []
        self.statuses: dict[str, list[int]] = {}
        self.delays: dict[str, float] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                time.sleep(receiver.delays.get(self.path, 0.0))
                with receiver.lock:
                    receiver.seen.append(
                        {"path": self.path, "headers": dict(self.headers), "body": json.loads(body)}
                    )
                    queue = receiver.statuses.get(self.path) or []
                    status = queue.pop(0) if queue else 200
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.port = self.server.server_address[1]
        self.base = f"http://{host}:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def posts(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [s for s in self.seen if s["path"] == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 15.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.posts(path)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{path}: {len(self.posts(path))} posts, wanted {count}")


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver(ALLOWED_IP)
    yield r
    r.server.shutdown()


@pytest.fixture(scope="module")
def other_receiver() -> Iterator[Receiver]:
    """On 127.0.0.1: a loopback address the server was not allowed to reach."""
    r = Receiver("127.0.0.1")
    yield r
    r.server.shutdown()


@pytest.fixture(scope="module")
def wh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder: Path = tmp_path_factory.mktemp("webhooks")
    srv = start_lg_server(
        folder,
        server={
            "webhooks": {
                "allowed_hosts": [ALLOWED_IP, "localhost"],
                "allowed_networks": [f"{ALLOWED_IP}/32"],
                "max_attempts": 3,
                "backoff": 0.1,
                "timeout": 2.0,
            }
        },
    )
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def http(wh_server: ServerProcess) -> Iterator[httpx.Client]:
    with wh_server.client() as client:
        yield client


def closed_port() -> int:
    with socket.socket() as s:
        s.bind((ALLOWED_IP, 0))
        return int(s.getsockname()[1])


def thread_events(
    http: httpx.Client, thread_id: str, kinds: set[str], timeout: float = 15.0
) -> list[dict[str, Any]]:
    """The thread's events of ``kinds``, once there is one."""
    deadline = time.monotonic() + timeout
    while True:
        r = http.get(f"/sessions/{thread_id}/events")
        assert r.status_code == 200, r.text
        found = [e for e in r.json() if e["type"] in kinds]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


WEBHOOK_KINDS = {"webhook_delivered", "webhook_failed"}


def new_thread(http: httpx.Client) -> str:
    r = http.post("/threads", json={})
    assert r.status_code == 200, r.text
    return str(r.json()["thread_id"])


def test_background_run_posts_its_run_json_and_records_it(
    http: httpx.Client, receiver: Receiver
) -> None:
    thread_id = new_thread(http)
    url = receiver.base + "/background?x=1"
    r = http.post(
        f"/threads/{thread_id}/runs", json={"assistant_id": "chat", "input": HI, "webhook": url}
    )
    assert r.status_code == 200, r.text
    run_id = r.json()["run_id"]
    (post,) = receiver.wait_for("/background?x=1")
    body = post["body"]
    assert set(body) >= PAYLOAD_KEYS, set(body) ^ PAYLOAD_KEYS
    assert (body["run_id"], body["thread_id"], body["status"]) == (run_id, thread_id, "success")
    assert body["kwargs"]["webhook"] == url
    assert [m["content"] for m in body["values"]["messages"]] == ["hi", "echo: hi"]
    assert body["run_started_at"] <= body["run_ended_at"] <= body["webhook_sent_at"]
    assert "error" not in body
    assert post["headers"]["Content-Type"] == "application/json"
    assert post["headers"]["Host"] == f"{ALLOWED_IP}:{receiver.port}"
    (event,) = thread_events(http, thread_id, WEBHOOK_KINDS)
    assert event["type"] == "webhook_delivered" and event["run_id"] == run_id
    assert event["data"] == {"host": ALLOWED_IP, "attempts": 1, "status_code": 200}


def test_wait_and_stream_runs_post_once_they_end(
    wh_server: ServerProcess, http: httpx.Client, receiver: Receiver
) -> None:
    thread_id = new_thread(http)
    r = http.post(
        f"/threads/{thread_id}/runs/wait",
        json={"assistant_id": "chat", "input": HI, "webhook": receiver.base + "/wait"},
    )
    assert r.status_code == 200 and r.json()["messages"][-1]["content"] == "echo: hi"
    (post,) = receiver.wait_for("/wait")
    assert post["body"]["status"] == "success" and post["body"]["thread_id"] == thread_id

    with http.stream(
        "POST",
        f"/threads/{thread_id}/runs/stream",
        json={"assistant_id": "chat", "input": HI, "webhook": receiver.base + "/stream"},
    ) as resp:
        assert resp.status_code == 200
        text = "".join(resp.iter_text())
    assert "event: values" in text
    (post,) = receiver.wait_for("/stream")
    assert len(post["body"]["values"]["messages"]) == 4
    events = thread_events(http, thread_id, WEBHOOK_KINDS)
    deadline = time.monotonic() + 10
    while len(events) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
        events = thread_events(http, thread_id, WEBHOOK_KINDS)
    assert [e["type"] for e in events] == ["webhook_delivered", "webhook_delivered"]


async def test_stateless_runs_post_with_the_real_sdk(
    wh_server: ServerProcess, receiver: Receiver
) -> None:
    client = get_client(url=wh_server.url, api_key=None)
    result = await client.runs.wait(None, "chat", input=HI, webhook=receiver.base + "/stateless")
    assert isinstance(result, dict) and result["messages"][-1]["content"] == "echo: hi"
    (post,) = receiver.wait_for("/stateless")
    body = post["body"]
    assert body["status"] == "success" and body["kwargs"]["temporary"] is True
    assert body["values"] is None  # the thread went with the run, as LangGraph sends it


def test_a_failed_run_posts_its_error_and_last_values(
    http: httpx.Client, receiver: Receiver
) -> None:
    thread_id = new_thread(http)
    r = http.post(
        f"/threads/{thread_id}/runs/wait",
        json={
            "assistant_id": "slow",
            "input": {"n": 1, "log": ["a"]},
            "config": {"configurable": {"fail": True}},
            "webhook": receiver.base + "/failed",
        },
    )
    assert r.status_code == 200 and r.json()["__error__"]["error"] == "ValueError"
    (post,) = receiver.wait_for("/failed")
    body = post["body"]
    assert body["status"] == "error"
    assert body["error"] == {"error": "ValueError", "message": "boom: asked to fail"}
    assert body["values"] == {"n": 1, "log": ["a"]}  # the state the run left
    (event,) = thread_events(http, thread_id, WEBHOOK_KINDS)
    assert event["type"] == "webhook_delivered"


def test_a_slow_receiver_never_holds_the_run_back(http: httpx.Client, receiver: Receiver) -> None:
    receiver.delays["/slow"] = 1.5
    thread_id = new_thread(http)
    began = time.monotonic()
    r = http.post(
        f"/threads/{thread_id}/runs/wait",
        json={"assistant_id": "chat", "input": HI, "webhook": receiver.base + "/slow"},
    )
    assert r.status_code == 200 and time.monotonic() - began < 1.4
    runs = http.get(f"/threads/{thread_id}/runs").json()
    assert [run["status"] for run in runs] == ["success"]
    receiver.wait_for("/slow")
    (event,) = thread_events(http, thread_id, WEBHOOK_KINDS)
    assert event["type"] == "webhook_delivered"


def test_a_500_is_retried(http: httpx.Client, receiver: Receiver) -> None:
    receiver.statuses["/flaky"] = [500, 503]
    thread_id = new_thread(http)
    r = http.post(
        f"/threads/{thread_id}/runs/wait",
        json={"assistant_id": "chat", "input": HI, "webhook": receiver.base + "/flaky"},
    )
    assert r.status_code == 200
    posts = receiver.wait_for("/flaky", 3)
    assert len({p["body"]["run_id"] for p in posts}) == 1
    (event,) = thread_events(http, thread_id, WEBHOOK_KINDS)
    assert event["type"] == "webhook_delivered"
    assert event["data"] == {"host": ALLOWED_IP, "attempts": 3, "status_code": 200}


def test_a_4xx_is_not_retried(http: httpx.Client, receiver: Receiver) -> None:
    receiver.statuses["/gone"] = [410]
    thread_id = new_thread(http)
    r = http.post(
        f"/threads/{thread_id}/runs/wait",
        json={"assistant_id": "chat", "input": HI, "webhook": receiver.base + "/gone"},
    )
    assert r.status_code == 200
    (event,) = thread_events(http, thread_id, WEBHOOK_KINDS)
    assert event["type"] == "webhook_failed"
    assert event["data"] == {"host": ALLOWED_IP, "attempts": 1, "status_code": 410}
    assert len(receiver.posts("/gone")) == 1


def test_an_unreachable_receiver_is_given_up_without_touching_the_run(
    http: httpx.Client,
) -> None:
    thread_id = new_thread(http)
    began = time.monotonic()
    r = http.post(
        f"/threads/{thread_id}/runs/wait",
        json={
            "assistant_id": "chat",
            "input": HI,
            "webhook": f"http://{ALLOWED_IP}:{closed_port()}/nobody",
        },
    )
    assert r.status_code == 200 and r.json()["messages"][-1]["content"] == "echo: hi"
    assert time.monotonic() - began < 5
    (event,) = thread_events(http, thread_id, WEBHOOK_KINDS)
    assert event["type"] == "webhook_failed"
    assert event["data"]["attempts"] == 3 and "ConnectError" in event["data"]["error"]
    assert "status_code" not in event["data"]
    run = http.get(f"/threads/{thread_id}/runs").json()[0]
    assert run["status"] == "success"
    assert http.get("/ok").status_code == 200


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        ("http://127.0.0.1:{port}/x", "Webhook domain not allowed"),
        ("http://example.com/x", "Webhook domain not allowed"),
        ("ftp://127.0.0.2/x", "Webhook host blocked: scheme 'ftp' not allowed"),
        ("/threads", "Relative webhook URLs are not supported: give an absolute http(s) URL"),
        ("not a url", "Invalid webhook hostname ''"),
    ],
)
def test_a_url_the_policy_refuses_is_422_and_never_requested(
    http: httpx.Client, other_receiver: Receiver, url: str, detail: str
) -> None:
    thread_id = new_thread(http)
    body = {"assistant_id": "chat", "input": HI, "webhook": url.format(port=other_receiver.port)}
    for path in (f"/threads/{thread_id}/runs", f"/threads/{thread_id}/runs/wait", "/runs/wait"):
        r = http.post(path, json=body)
        assert r.status_code == 422, (path, r.text)
        assert r.json() == {"detail": detail}
    assert http.get(f"/threads/{thread_id}/runs").json() == []  # no run was made
    time.sleep(0.3)
    assert other_receiver.seen == []


def test_a_name_resolving_to_an_address_not_allowed_is_refused_and_recorded(
    http: httpx.Client, other_receiver: Receiver
) -> None:
    thread_id = new_thread(http)
    r = http.post(
        f"/threads/{thread_id}/runs/wait",
        json={
            "assistant_id": "chat",
            "input": HI,
            "webhook": f"http://localhost:{other_receiver.port}/sneaky",
        },
    )
    assert r.status_code == 200
    (event,) = thread_events(http, thread_id, WEBHOOK_KINDS)
    assert event["type"] == "webhook_failed"
    assert event["data"]["host"] == "localhost" and event["data"]["attempts"] == 1
    assert "loopback IP range" in event["data"]["refused"]
    assert other_receiver.seen == []
