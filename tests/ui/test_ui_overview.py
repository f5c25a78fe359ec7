"""The overview in real Chromium: its numbers are /stats' and its failures list the most
recently updated failed sessions with their errors."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from support.server import ServerProcess
from support.ui_page import UiPage

pytestmark = pytest.mark.slow


def card(page: UiPage, key: str) -> str:
    return page.page.inner_text(f'[data-stat="{key}"] .value')


@pytest.mark.parametrize("who", ["alice", "root"])
def test_overview_numbers_match_stats(
    open_page: Callable[..., UiPage], ui_server: ServerProcess, who: str
) -> None:
    tag = uuid.uuid4().hex[:6]
    with ui_server.client("alice") as alice, ui_server.client(who) as client:
        for i in range(3):
            alice.post("/sessions", json={"session_id": f"ov{tag}-{i}"})
        failed = [f"ov{tag}-f{i}" for i in range(2)]
        for sid in failed:
            alice.post("/sessions", json={"session_id": sid})
            r = alice.post(f"/sessions/{sid}/invoke", json={"input": {"user_input": "fail"}})
            assert r.status_code >= 400
        page = open_page(who, "#/overview")
        page.errors.clear()  # the 401s before signing in
        page.page.wait_for_selector("#stat-cards")
        stats = client.get("/stats").json()
        recent = client.get(
            "/sessions",
            params={"status": "failed", "sort": "updated_at", "order": "desc", "limit": 20},
        ).json()["sessions"]
    assert int(card(page, "total")) == stats["total"]
    for status, n in stats["by_status"].items():
        assert int(card(page, status)) == n, status
    assert int(card(page, "expired-unswept")) == stats["expired"]
    if who == "root":
        assert int(card(page, "runs_total")) == stats["runs_total"]
        assert page.page.query_selector("#runs-rate svg.sparkline") is not None
    else:
        assert card(page, "runs_total") == "—"
    shown = page.page.eval_on_selector_all(
        "#failures tbody tr", "rows => rows.map(r => r.dataset.session)"
    )
    assert shown == [s["session_id"] for s in recent]
    assert failed[1] in shown and failed[0] in shown
    row = page.page.inner_text(f'#failures tr[data-session="{failed[1]}"]')
    assert "boom" in row and "failed" in row
    page.page.click(f'#failures a:text-is("{failed[1]}")')
    page.page.wait_for_url(f"**#/sessions/{failed[1]}")
    if who == "root":
        page.page.go_back()
        page.page.wait_for_url("**#/overview")
        page.page.wait_for_selector("#stat-cards")
        page.shot("overview")
    assert page.errors == []
