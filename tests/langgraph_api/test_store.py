"""``/store/...`` through the real ``langgraph_sdk`` client (and raw httpx for what the SDK
refuses client-side), against a real server process; per-owner isolation with API keys."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from support.lgapi import GRAPH_IDS, LG_GRAPHS, start_lg_server
from support.server import API_KEYS_ENV, KEYS, PY, ServerProcess, base_env, free_port

pytestmark = pytest.mark.slow


def _ns(*labels: str) -> list[str]:
    return [*labels, uuid.uuid4().hex]


async def test_put_get_search_delete_namespaces(lg_client: LangGraphClient) -> None:
    ns = _ns("users")
    await lg_client.store.put_item(ns, "prefs", {"theme": "dark"})
    await lg_client.store.put_item(ns, "other", {"theme": "light", "n": 3})
    item = await lg_client.store.get_item(ns, "prefs")
    assert item is not None
    assert item["namespace"] == ns and item["key"] == "prefs"
    assert item["value"] == {"theme": "dark"}
    assert set(item) == {"namespace", "key", "value", "created_at", "updated_at"}

    found = await lg_client.store.search_items(ns, filter={"theme": "dark"})
    assert [i["key"] for i in found["items"]] == ["prefs"]
    assert found["items"][0]["score"] is None
    ranged = await lg_client.store.search_items(ns, filter={"n": {"$gt": 2}})
    assert [i["key"] for i in ranged["items"]] == ["other"]
    page = await lg_client.store.search_items(ns, limit=1, offset=1)
    assert len(page["items"]) == 1
    both = await lg_client.store.search_items(ns)
    assert {i["key"] for i in both["items"]} == {"prefs", "other"}

    listed = await lg_client.store.list_namespaces(prefix=["users"], max_depth=2)
    assert ns in listed["namespaces"]
    cut = await lg_client.store.list_namespaces(prefix=["users"], max_depth=1)
    assert cut["namespaces"] == [["users"]]

    await lg_client.store.delete_item(ns, "prefs")
    assert await lg_client.store.get_item(ns, "prefs") is None
    assert await lg_client.store.get_item(ns, "never-there") is None


async def test_put_replaces_and_ttl_is_accepted(lg_client: LangGraphClient) -> None:
    ns = _ns("ttl")
    await lg_client.store.put_item(ns, "k", {"a": 1}, ttl=5)
    await lg_client.store.put_item(ns, "k", {"a": 2}, ttl=5)
    item = await lg_client.store.get_item(ns, "k", refresh_ttl=True)
    assert item is not None and item["value"] == {"a": 2}


def test_wire_statuses_and_bodies(lg_server: ServerProcess) -> None:
    ns = _ns("wire")
    with httpx.Client(base_url=lg_server.url) as h:
        put = h.put("/store/items", json={"namespace": ns, "key": "k", "value": {"x": 1}})
        assert put.status_code == 204 and put.content == b""
        got = h.get("/store/items", params={"namespace": ".".join(ns), "key": "k"})
        assert got.status_code == 200 and got.json()["value"] == {"x": 1}
        missing = h.get("/store/items", params={"namespace": ".".join(ns), "key": "nope"})
        assert missing.status_code == 200 and missing.json() is None
        deleted = h.request("DELETE", "/store/items", json={"namespace": ns, "key": "k"})
        assert deleted.status_code == 204
        again = h.request("DELETE", "/store/items", json={"namespace": ns, "key": "k"})
        assert again.status_code == 204


@pytest.mark.parametrize(
    ("method", "path", "body", "params"),
    [
        ("PUT", "/store/items", {"namespace": ["a.b"], "key": "k", "value": {}}, None),
        ("PUT", "/store/items", {"namespace": [""], "key": "k", "value": {}}, None),
        ("PUT", "/store/items", {"namespace": [], "key": "k", "value": {}}, None),
        ("PUT", "/store/items", {"namespace": ["a"], "key": "k", "value": "text"}, None),
        ("PUT", "/store/items", {"namespace": ["a"], "key": "k", "value": {}, "ttl": -1}, None),
        ("PUT", "/store/items", {"namespace": ["a"], "value": {}}, None),
        ("GET", "/store/items", None, {"namespace": "a"}),
        ("GET", "/store/items", None, {"namespace": "", "key": "k"}),
        ("DELETE", "/store/items", {"namespace": ["a.b"], "key": "k"}, None),
        ("POST", "/store/items/search", {"namespace_prefix": ["a"], "filter": {"b'": 1}}, None),
        ("POST", "/store/items/search", {"namespace_prefix": ["a"], "limit": -1}, None),
        ("POST", "/store/namespaces", {"prefix": ["x.y"]}, None),
        ("POST", "/store/namespaces", {"max_depth": 0}, None),
        # Numbers SQLite or the JSON encoder cannot hold: 422, never a 500.
        ("PUT", "/store/items", {"namespace": ["a"], "key": "k", "value": {"n": 2**70}}, None),
        ("PUT", "/store/items", {"namespace": ["a"], "key": "k", "value": {}, "ttl": 1e300}, None),
        ("POST", "/store/namespaces", {"max_depth": 2**70}, None),
        ("POST", "/store/items/search", {"namespace_prefix": ["a"], "offset": 2**40}, None),
    ],
)
def test_bad_input_is_422_detail(
    lg_server: ServerProcess,
    method: str,
    path: str,
    body: dict[str, object] | None,
    params: dict[str, str] | None,
) -> None:
    with httpx.Client(base_url=lg_server.url) as h:
        r = h.request(method, path, json=body, params=params)
    assert r.status_code == 422, r.text
    assert isinstance(r.json()["detail"], str)


def test_dotted_label_message_matches_reference(lg_server: ServerProcess) -> None:
    with httpx.Client(base_url=lg_server.url) as h:
        r = h.put("/store/items", json={"namespace": ["a.b"], "key": "k", "value": {}})
    assert r.json() == {
        "detail": "Namespace label 'a.b' must be a non-empty string without periods"
    }


# ---------------------------------------------------------------- owners (API keys)
@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """alice and bob are users, root an admin."""
    folder: Path = tmp_path_factory.mktemp("lgstore-keys")
    srv = start_lg_server(folder, env={"GRAPH_SESSIONS_API_KEYS": API_KEYS_ENV})
    try:
        yield srv
    finally:
        srv.stop()


def _client(srv: ServerProcess, who: str | None) -> LangGraphClient:
    return get_client(url=srv.url, api_key=KEYS[who] if who else None)


async def test_users_own_namespaces_starting_with_their_id(keyed_server: ServerProcess) -> None:
    alice, bob, root = (_client(keyed_server, w) for w in ("alice", "bob", "root"))
    tag = uuid.uuid4().hex
    await alice.store.put_item(["alice", tag], "k", {"who": "alice"})
    await bob.store.put_item(["bob", tag], "k", {"who": "bob"})

    item = await alice.store.get_item(["alice", tag], "k")
    assert item is not None and item["value"] == {"who": "alice"}
    for call in (
        bob.store.get_item(["alice", tag], "k"),
        bob.store.put_item(["alice", tag], "k", {"who": "bob"}),
        bob.store.delete_item(["alice", tag], "k"),
        bob.store.search_items(["alice"]),
        bob.store.list_namespaces(prefix=["alice"]),
        alice.store.put_item(["shared", tag], "k", {}),
    ):
        with pytest.raises(httpx.HTTPStatusError) as err:
            await call
        assert err.value.response.status_code == 403
    # Without a prefix, a user's search and listing are narrowed to its own namespaces.
    mine = await bob.store.search_items([], limit=100)
    assert mine["items"] and all(i["namespace"][0] == "bob" for i in mine["items"])
    spaces = await bob.store.list_namespaces(limit=1000)
    assert ["bob", tag] in spaces["namespaces"]
    assert all(ns[0] == "bob" for ns in spaces["namespaces"])
    # alice's item is untouched; the admin sees and writes everything.
    item = await alice.store.get_item(["alice", tag], "k")
    assert item is not None and item["value"] == {"who": "alice"}
    everything = await root.store.list_namespaces(limit=1000)
    assert ["alice", tag] in everything["namespaces"] and ["bob", tag] in everything["namespaces"]
    await root.store.put_item(["shared", tag], "k", {"by": "root"})
    assert (await root.store.get_item(["shared", tag], "k")) is not None


def test_store_needs_credentials_when_auth_is_on(keyed_server: ServerProcess) -> None:
    with httpx.Client(base_url=keyed_server.url) as h:
        r = h.get("/store/items", params={"namespace": "alice", "key": "k"})
    assert r.status_code == 401 and "detail" in r.json()


# ---------------------------------------------------------------- store.ttl
def test_store_ttl_from_langgraph_json_expires_items(tmp_path: Path) -> None:
    """store.ttl: default_ttl applies to items put without a ttl, the sweeper deletes
    expired items, and an explicit ttl wins."""
    config = {
        "graphs": {g: f"{LG_GRAPHS}:{g}" for g in GRAPH_IDS},
        # 0.02 min = 1.2 s to live, swept every 0.6 s; reads do not refresh.
        "store": {
            "ttl": {"default_ttl": 0.02, "sweep_interval_minutes": 0.01, "refresh_on_read": False}
        },
        "graph_sessions": {"backend": f"sqlite:///{tmp_path / 'sessions.db'}"},
    }
    (tmp_path / "langgraph.json").write_text(json.dumps(config))
    port = free_port()
    args = [PY, "-m", "graph_sessions.server", "--config", str(tmp_path / "langgraph.json")]
    srv = ServerProcess([*args, "--port", str(port)], base_env(), tmp_path, port).start()
    try:
        with httpx.Client(base_url=srv.url) as h:
            for key, extra in (("brief", {}), ("long", {"ttl": 60})):
                body = {"namespace": ["t"], "key": key, "value": {"k": key}, **extra}
                assert h.put("/store/items", json=body).status_code == 204

            def get(key: str) -> object:
                return h.get("/store/items", params={"namespace": "t", "key": key}).json()

            assert get("brief") is not None
            deadline = time.monotonic() + 20
            while get("brief") is not None and time.monotonic() < deadline:
                time.sleep(0.3)
            assert get("brief") is None
            assert get("long") is not None
    finally:
        srv.stop()
