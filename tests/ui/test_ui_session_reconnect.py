"""The session page's live event log survives a server restart: the tail ends with "server
shutting down", the page reconnects with ``after=<last id>`` and shows the events logged
after the restart once each (this module's server is its own, so it may be restarted)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import expect
from support.server import ServerProcess
from support.ui_page import WAIT_MS, UiPage

pytestmark = pytest.mark.slow
expect.set_options(timeout=WAIT_MS)  # as long as the page's own waits


def test_the_event_tail_reconnects_after_a_restart(
    open_page: Callable[..., UiPage], ui_server: ServerProcess
) -> None:
    sid = "reconnect-1"
    with ui_server.client("alice") as c:
        assert c.post(f"/sessions/{sid}/invoke", json={"input": {"user_input": "one"}}).is_success
    page = open_page("alice", f"#/sessions/{sid}")
    completed = page.page.locator("#events-list > li[data-type=run_completed]")
    expect(completed).to_have_count(1)
    expect(page.page.locator("#events-state")).to_have_text("live")
    ui_server.stop()
    expect(page.page.locator("#events-state")).to_have_text("reconnecting…")
    ui_server.start()
    expect(page.page.locator("#events-state")).to_have_text("live", timeout=30_000)
    with ui_server.client("alice") as c:
        assert c.post(f"/sessions/{sid}/invoke", json={"input": {"user_input": "two"}}).is_success
        expect(completed).to_have_count(2)
        shown = page.page.locator("#events-list > li").evaluate_all(
            "els => els.map(e => Number(e.dataset.eventId))"
        )
        assert shown == [e["id"] for e in c.get(f"/sessions/{sid}/events").json()]
    expect(page.page.locator("#status .badge")).to_have_text("completed")
    # only the refused connections while the server was down
    assert all("ERR_CONNECTION_REFUSED" in e or "401" in e for e in page.errors), page.errors
