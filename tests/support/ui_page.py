"""One browser tab on the web inspector (``/ui``), for the tests of ``tests/ui``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from support.server import KEYS, ServerProcess

#: milliseconds a browser-side wait may take before the test fails
WAIT_MS = 20_000


class UiPage:
    """One browser tab on the inspector; ``errors`` collects the page's console errors and
    uncaught exceptions, and what the Content-Security-Policy refused."""

    def __init__(self, browser: Any, server: ServerProcess) -> None:
        self.server = server
        self.context = browser.new_context(viewport={"width": 1280, "height": 860})
        self.context.set_default_timeout(WAIT_MS)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        self.page.on(
            "console",
            lambda msg: self.errors.append(f"console: {msg.text}") if msg.type == "error" else None,
        )

    def goto(self, hash_path: str = "#/sessions") -> UiPage:
        """Open ``/ui/<hash_path>``."""
        self.page.goto(f"{self.server.url}/ui/{hash_path}")
        return self

    def sign_in(self, who: str) -> UiPage:
        """Sign in on the sign-in page with ``who``'s API key (support.server.KEYS)."""
        self.page.wait_for_selector("#credential")
        self.page.fill("#credential", KEYS[who])
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_selector("#who:not(:empty)")
        return self

    def shot(self, name: str) -> None:
        """Save a screenshot of the page as ``<name>.png`` in the folder
        ``$UI_SCREENSHOTS`` names (run by hand to refresh docs/images; nothing otherwise)."""
        folder = os.environ.get("UI_SCREENSHOTS")
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=False)

    def close(self) -> None:
        self.context.close()


__all__ = ["WAIT_MS", "UiPage"]
