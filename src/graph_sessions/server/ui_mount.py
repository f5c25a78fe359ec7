"""``/ui``: the web inspector's assets (``graph_sessions.ui``), served as static files with a
strict Content-Security-Policy. The assets hold no data and need no credential; the page
signs in against the API like any client."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.responses import RedirectResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graph_sessions.ui import ASSETS

#: scripts and styles from this origin only, no inline code, no eval, no other origin
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cache-control", b"no-cache"),
]


class _SecurityHeaders:
    """The security headers on every answer of the wrapped app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in SECURITY_HEADERS}
                kept = [(n, v) for n, v in message.get("headers", []) if n.lower() not in names]
                message["headers"] = kept + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, with_headers)


def mount_ui(app: FastAPI) -> None:
    """Serve the inspector at ``/ui/`` (``/ui`` redirects there; relative, so an app mounted
    under a prefix serves it at ``<prefix>/ui/``)."""

    @app.get("/ui", include_in_schema=False)
    async def ui_root() -> RedirectResponse:
        return RedirectResponse("ui/", status_code=307)  # relative: under a prefix too

    app.mount("/ui", _SecurityHeaders(StaticFiles(directory=ASSETS, html=True)), name="ui")


__all__ = ["CONTENT_SECURITY_POLICY", "mount_ui"]
