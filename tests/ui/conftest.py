"""Fixtures of the web inspector's browser tests: one server process per module with API
keys (alice and bob users, root admin; graphs ``work`` and ``approval``), Debian's Chromium
under Playwright, and a signed-in page per user."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from support.browser import chromium
from support.server import API_KEYS_ENV, ServerProcess, start_module_server
from support.ui_page import UiPage


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """``python -m graph_sessions.server`` with API keys, serving ``/ui``."""
    proc = start_module_server(
        tmp_path_factory.mktemp("ui"), env={"GRAPH_SESSIONS_API_KEYS": API_KEYS_ENV}
    )
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium under Playwright."""
    with chromium() as launched:
        yield launched


@pytest.fixture
def open_page(browser: Any, ui_server: ServerProcess) -> Iterator[Callable[..., UiPage]]:
    """``open_page(who=None, hash_path="#/sessions")``: a new tab on the inspector, signed
    in as ``who`` when given; every tab is closed after the test."""
    pages: list[UiPage] = []

    def open_(who: str | None = None, hash_path: str = "#/sessions") -> UiPage:
        page = UiPage(browser, ui_server).goto(hash_path)
        if who is not None:
            page.sign_in(who)
        pages.append(page)
        return page

    yield open_
    for page in pages:
        page.close()
