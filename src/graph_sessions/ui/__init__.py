"""The web inspector: static assets (HTML, CSS, ES modules, no build step) that
``graph-sessions serve`` serves at ``/ui`` (``server/ui_mount.py``). The page is a client of
the public REST/SSE routes like any other: it holds no server code."""

from __future__ import annotations

from pathlib import Path

#: the folder of the shipped assets (``index.html`` at its root)
ASSETS = Path(__file__).resolve().parent / "static"

__all__ = ["ASSETS"]
