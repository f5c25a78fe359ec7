"""LangGraph auth files (``auth.path`` in langgraph.json) on a real server process: the
``@auth.authenticate`` identity is the owner (on ``/sessions`` too), 401 without a token,
``@auth.on.store`` handlers rewrite namespaces, refuse (403) and scope searches with a
filter; a configured admin API key keeps working beside the file."""

from __future__ import annotations

import json
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from support.lgapi import GRAPH_IDS, LG_GRAPHS
from support.server import PY, ServerProcess, base_env, free_port

pytestmark = pytest.mark.slow

ROOT_KEY = "root-admin-key-0042"

AUTH_FILE = textwrap.dedent(
    '''
    """An auth file as LangGraph's examples write it."""
    from langgraph_sdk import Auth

    auth = Auth()
    TOKENS = {"token-alice": "alice", "token-bob": "bob"}


    @auth.authenticate
    async def authenticate(authorization: str | None, path: str, method: str) -> Auth.types.MinimalUserDict:
        if not authorization or not authorization.startswith("Bearer "):
            raise Auth.exceptions.HTTPException(status_code=401, detail="Missing token")
        user = TOKENS.get(authorization.removeprefix("Bearer "))
        if user is None:
            raise Auth.exceptions.HTTPException(status_code=401, detail="Invalid token")
        return {"identity": user, "permissions": ["read", "write"], "team": "blue"}


    @auth.on
    async def owner_only(ctx: Auth.types.AuthContext, value: dict):
        metadata = value.setdefault("metadata", {})
        metadata["owner"] = ctx.user.identity
        return {"owner": ctx.user.identity}


    @auth.on.store()
    async def own_namespace(ctx: Auth.types.AuthContext, value: dict):
        # Every user gets a private copy of every namespace.
        value["namespace"] = (ctx.user.identity, *value["namespace"])


    @auth.on.store.delete
    async def no_deletes(ctx: Auth.types.AuthContext, value: dict):
        return False


    @auth.on.store.search
    async def shared_only(ctx: Auth.types.AuthContext, value: dict):
        value["namespace"] = (ctx.user.identity, *value["namespace"])
        assert ctx.user["team"] == "blue" and "read" in ctx.permissions, "no read permission"
        return {"shared": True}
    '''
)


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder: Path = tmp_path_factory.mktemp("lgauth")
    (folder / "auth.py").write_text(AUTH_FILE)
    config = {
        "graphs": {g: f"{LG_GRAPHS}:{g}" for g in GRAPH_IDS},
        "auth": {"path": "./auth.py:auth"},
        "graph_sessions": {"backend": f"sqlite:///{folder / 'sessions.db'}"},
    }
    path = folder / "langgraph.json"
    path.write_text(json.dumps(config))
    port = free_port()
    args = [PY, "-m", "graph_sessions.server", "--config", str(path), "--port", str(port)]
    # The working directory is elsewhere: auth.path is read relative to langgraph.json.
    env = base_env(GRAPH_SESSIONS_API_KEYS=f"{ROOT_KEY}:root:admin")
    srv = ServerProcess(args, env, folder.parent, port).start()
    try:
        yield srv
    finally:
        srv.stop()


def _token(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer token-{who}"}


def _sdk(srv: ServerProcess, who: str) -> LangGraphClient:
    return get_client(url=srv.url, api_key=None, headers=_token(who))


def test_401_without_or_with_a_bad_token(auth_server: ServerProcess) -> None:
    with httpx.Client(base_url=auth_server.url) as h:
        for headers, detail in (
            ({}, "Missing token"),
            ({"Authorization": "Bearer nope"}, "Invalid token"),
        ):
            for method, path in (("GET", "/sessions"), ("POST", "/store/items/search")):
                r = h.request(method, path, headers=headers, json={})
                assert r.status_code == 401, (path, r.text)
                body = r.json()
                assert detail in (body.get("detail") or body.get("message")), body
        # Routes that need no caller stay open.
        assert h.get("/ok").status_code == 200 and h.get("/healthz").status_code == 200


def test_identity_owns_sessions(auth_server: ServerProcess) -> None:
    sid = f"s-{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=auth_server.url) as h:
        made = h.post(
            "/sessions", json={"session_id": sid, "graph_id": "chat"}, headers=_token("alice")
        )
        assert made.status_code in (200, 201), made.text
        assert made.json()["owner"] == "alice"
        assert h.get(f"/sessions/{sid}", headers=_token("alice")).status_code == 200
        assert h.get(f"/sessions/{sid}", headers=_token("bob")).status_code == 404
        bobs = h.get("/sessions", headers=_token("bob")).json()
        assert sid not in json.dumps(bobs)
        # The configured admin key still authenticates beside the auth file, and sees all.
        root = h.get(f"/sessions/{sid}", headers={"X-Api-Key": ROOT_KEY})
        assert root.status_code == 200 and root.json()["owner"] == "alice"


async def test_store_handlers_rewrite_refuse_and_filter(auth_server: ServerProcess) -> None:
    alice, bob = _sdk(auth_server, "alice"), _sdk(auth_server, "bob")
    ns = ["notes", uuid.uuid4().hex]
    await alice.store.put_item(ns, "a", {"text": "alice's", "shared": True})
    await alice.store.put_item(ns, "b", {"text": "alice's private", "shared": False})
    await bob.store.put_item(ns, "a", {"text": "bob's", "shared": True})

    # Same namespace, one private copy each: the handler prefixed it with the identity.
    mine = await alice.store.get_item(ns, "a")
    assert mine is not None and mine["value"]["text"] == "alice's"
    assert mine["namespace"] == ["alice", *ns]
    theirs = await bob.store.get_item(ns, "a")
    assert theirs is not None and theirs["value"]["text"] == "bob's"
    assert await bob.store.get_item(ns, "b") is None

    # The search handler's filter dict scopes the read: only shared items, only alice's.
    found = await alice.store.search_items(ns)
    assert [(i["namespace"][0], i["key"]) for i in found["items"]] == [("alice", "a")]
    # A filter that contradicts the handler's finds nothing.
    none = await alice.store.search_items(ns, filter={"shared": False})
    assert none["items"] == []

    # A handler returning False refuses: 403, and the item stays.
    with pytest.raises(httpx.HTTPStatusError) as err:
        await alice.store.delete_item(ns, "a")
    assert err.value.response.status_code == 403
    assert await alice.store.get_item(ns, "a") is not None

    # The admin key is no auth-file user: no handler runs, the raw store is visible.
    root = get_client(url=auth_server.url, api_key=ROOT_KEY)
    raw = await root.store.list_namespaces(prefix=["alice", "notes"])
    assert ["alice", *ns] in raw["namespaces"]
    await root.store.delete_item(["alice", *ns], "b")
    assert await root.store.get_item(["alice", *ns], "b") is None
