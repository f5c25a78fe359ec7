"""The inspector's shell in real Chromium: /ui is served with a strict CSP, it asks for a
credential when the server wants one, signs in, signs out, and keeps the credential to
the tab."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from support.server import ServerProcess
from support.ui_page import UiPage

from graph_sessions.ui import ASSETS

pytestmark = pytest.mark.slow


def test_ui_is_served_with_security_headers(ui_server: ServerProcess) -> None:
    with httpx.Client(base_url=ui_server.url) as c:
        redirect = c.get("/ui")
        assert redirect.status_code == 307 and redirect.headers["location"] == "ui/"
        page = c.get("/ui/")
        assert page.status_code == 200 and "<title>graph-sessions</title>" in page.text
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert page.headers["x-content-type-options"] == "nosniff"
        script = c.get("/ui/js/app.js")
        assert script.status_code == 200
        assert "javascript" in script.headers["content-type"]
        assert c.get("/ui/js/nope.js").status_code == 404
        # the assets are public (no data in them); the API behind them is not
        assert c.get("/sessions").status_code == 401


def test_no_inline_script_nor_html_injection_in_the_assets() -> None:
    html = (ASSETS / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script"
    assert not re.search(r"\son[a-z]+=", html), "inline handler"
    for path in ASSETS.rglob("*.js"):
        text = path.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in text, f"{path.name} uses {sink}"


def test_sign_in_out_and_the_credential_stays_in_the_tab(
    open_page: Callable[..., UiPage], ui_server: ServerProcess
) -> None:
    page = open_page()  # auth is on: the sessions page sends to sign-in
    page.page.wait_for_url(re.compile(r"#/signin$"))
    page.page.fill("#credential", "not-a-key")
    page.page.get_by_role("button", name="Sign in").click()
    page.page.wait_for_selector("#notice:not([hidden])")
    assert "Sign-in failed" in page.page.inner_text("#notice")
    page.sign_in("alice")
    page.page.wait_for_url(re.compile(r"#/sessions$"))
    assert "your sessions" in page.page.inner_text("#who")
    stored = page.page.evaluate("sessionStorage.getItem('graph-sessions.credential')")
    assert stored == "alice-key-0001"
    assert page.page.evaluate("localStorage.length") == 0  # nothing outlives the tab
    # another tab of the same browser profile is not signed in
    other = page.context.new_page()
    other.goto(f"{ui_server.url}/ui/#/sessions")
    other.wait_for_url(re.compile(r"#/signin$"))
    other.close()
    page.page.get_by_role("button", name="Sign out").click()
    page.page.wait_for_url(re.compile(r"#/signin$"))
    assert page.page.evaluate("sessionStorage.getItem('graph-sessions.credential')") is None
    assert page.errors == [] or all("401" in e for e in page.errors), page.errors


def test_an_admin_sees_every_owner(open_page: Callable[..., UiPage]) -> None:
    page = open_page("root")
    assert "admin" in page.page.inner_text("#who")
