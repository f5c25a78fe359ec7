"""The server's JSON response: graph state is encoded by :mod:`graph_sessions.jsonable`
(the same shapes as the CLI's ``--json`` and the storage columns), never a 500."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from graph_sessions.jsonable import dumps, to_jsonable


class JSONResponse(Response):
    """A JSON response encoded with orjson and :func:`dumps`' robust fallbacks."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        """Encode ``content``."""
        return dumps(content)


__all__ = ["JSONResponse", "dumps", "to_jsonable"]
