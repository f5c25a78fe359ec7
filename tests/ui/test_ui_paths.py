"""Addresses the inspector must get right: session ids holding ``%``, ``/``-free odd
characters and spaces open their own page from the list, and the app mounted under a
prefix of another app (``/gs/ui/``) calls its API under that prefix."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from support.paths import subprocess_env
from support.server import KEYS, ServerProcess, free_port
from support.ui_page import WAIT_MS, UiPage

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("sid", ["100%-done", "a%20b-lit", "sp ace#1?x=y"])
def test_odd_ids_open_their_own_page(
    open_page: Callable[..., UiPage], ui_server: ServerProcess, sid: str
) -> None:
    with ui_server.client("alice") as c:
        quoted = sid.replace("%", "%25").replace(" ", "%20").replace("#", "%23").replace("?", "%3F")
        assert c.post("/sessions", json={"session_id": sid}).status_code == 201
        assert c.get(f"/sessions/{quoted}").json()["session_id"] == sid
    page = open_page("alice", "#/sessions")
    page.page.get_by_role("link", name=sid, exact=True).click()
    page.page.wait_for_selector("#header-panel, #not-found")
    expect(page.page.locator("#header-panel .session-id")).to_have_text(sid, timeout=WAIT_MS)
    page.errors[:] = [e for e in page.errors if "401" not in e]
    assert page.errors == []


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("embedded")
    port = free_port()
    args = [sys.executable, "-m", "support.embedded_app", str(port), str(folder / "e.db")]
    proc = ServerProcess(args, subprocess_env(), Path(folder), port).start()
    try:
        yield proc
    finally:
        proc.stop()


def test_the_inspector_under_a_prefix_calls_the_api_under_it(
    browser: Any, embedded: ServerProcess
) -> None:
    with embedded.client("alice") as c:
        c.base_url = f"{embedded.url}/gs"
        assert c.post("/sessions", json={"session_id": "under-gs"}).status_code == 201
    context = browser.new_context()
    try:
        page = context.new_page()
        calls: list[str] = []
        page.on("request", lambda r: calls.append(r.url) if "/ui/" not in r.url else None)
        page.goto(f"{embedded.url}/gs/ui")  # the redirect stays under the prefix
        page.wait_for_url(re.compile(r"/gs/ui/#/signin$"), timeout=WAIT_MS)
        page.fill("#credential", KEYS["alice"])
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("link", name="under-gs", exact=True)).to_be_visible(timeout=WAIT_MS)
        assert calls and all(u.startswith(f"{embedded.url}/gs/") for u in calls), calls
    finally:
        context.close()
