"""The founding document's FastAPI example (``examples/fastapi_redis.py``: its code as
written there, ``checkpointer_config={"type": "redis", "url": os.getenv("REDIS_URL"), ...}``)
served by uvicorn against a real redis-server: a turn pauses at the interrupt, the app is
killed (SIGKILL) and started again, and the next turn resumes the paused session."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import redis
from support.redis import RedisServer
from support.server import PY, ROOT, ServerProcess, base_env, free_port

pytestmark = pytest.mark.slow


def _app(tmp_path: Path, redis_url: str) -> ServerProcess:
    port = free_port()
    args = [PY, "-m", "uvicorn", "examples.fastapi_redis:app", "--port", str(port)]
    # this checkout's src first: the example must run the code under test
    env = base_env(REDIS_URL=redis_url, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))
    return ServerProcess(args, env, tmp_path, port, ready_path="/docs").start()


def test_the_seed_fastapi_example_pauses_survives_a_kill_and_resumes_on_redis(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    prefix = redis_server.new_prefix()
    url = f"{redis_server.url()}?prefix={prefix}"
    app = _app(tmp_path, url)
    try:
        with app.client() as client:
            first = client.post("/invoke/user-123", json={"user_input": "my parcel is late"})
            assert first.status_code == 200, first.text
            assert first.json() == {"status": "interrupted", "output": None, "complete": False}
    finally:
        app.stop(signal.SIGKILL)  # no shutdown hook: only what Redis holds survives

    keys = redis.Redis.from_url(redis_server.url()).keys(f"{prefix}*")
    assert keys, "the session is in Redis under the URL's prefix"

    again = _app(tmp_path, url)
    try:
        with again.client() as client:
            done = client.post("/invoke/user-123", json={"user_input": "yes"})
            assert done.status_code == 200, done.text
            assert done.json() == {
                "status": "complete",
                "output": "Thanks for writing about 'my parcel is late'. We are on it.",
                "complete": True,
            }
            other = client.post("/invoke/user-456", json={"user_input": "hello"})
            assert other.json()["status"] == "interrupted"
    finally:
        again.stop()
