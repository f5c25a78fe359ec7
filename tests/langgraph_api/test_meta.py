"""``/ok``, ``/info`` and the error shape of the LangGraph-compatible routes."""

from __future__ import annotations

import httpx
import pytest
from support.server import ServerProcess

pytestmark = pytest.mark.slow


def test_ok_info_and_detail_errors(lg_server: ServerProcess) -> None:
    with httpx.Client(base_url=lg_server.url) as c:
        assert c.get("/ok").json() == {"ok": True, "services": {}}
        info = c.get("/info").json()
        assert info["flags"]["assistants"] is True and info["version"]
        r = c.get("/threads/no-such/whatever")
        assert r.status_code == 404 and set(r.json()) == {"detail"}
        # our own routes keep our shape
        r = c.get("/sessions/nope")
        assert r.status_code == 404 and r.json()["error"] == "session_not_found"
