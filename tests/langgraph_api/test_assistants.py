"""``/assistants`` of the LangGraph-compatible API: one system assistant per served graph with
LangGraph's id and body, custom assistants (versions, latest, owners), graphs, schemas and
subgraphs, with the real ``langgraph_sdk`` (async and sync) and raw httpx."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from langgraph_sdk.client import LangGraphClient, SyncLangGraphClient
from langgraph_sdk.errors import ConflictError, NotFoundError
from support.lgapi import GRAPH_IDS, start_lg_server
from support.server import API_KEYS_ENV, ServerProcess

pytestmark = pytest.mark.slow

NS_GRAPH = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")  # LangGraph's NAMESPACE_GRAPH
#: the ids LangGraph's own server gives these graphs (reference/langgraph-api, section 1)
REFERENCE_IDS = {
    "chat": "eb6db400-e3c8-5d06-a834-015cb89efe69",
    "approval": "e234584d-b7bf-527f-9d06-ba77f8f5172d",
    "slow": "cad1b5ad-d177-59d1-ab39-5e327188ed3a",
    "parent": "0b226d00-e4ec-5b58-8e33-88f4bd4debe7",
}
KEYS = {
    "assistant_id",
    "graph_id",
    "config",
    "context",
    "metadata",
    "name",
    "created_at",
    "updated_at",
    "version",
    "description",
}


async def test_system_assistants_have_langgraphs_ids_and_body(lg_client: LangGraphClient) -> None:
    found = await lg_client.assistants.search(limit=100, metadata={"created_by": "system"})
    assert {a["graph_id"]: a["assistant_id"] for a in found} == REFERENCE_IDS
    for a in found:
        assert set(a) == KEYS
        assert a["assistant_id"] == str(uuid.uuid5(NS_GRAPH, a["graph_id"]))
        assert a["name"] == a["graph_id"] and a["version"] == 1 and a["description"] is None
        assert a["config"] == {} and a["context"] == {}
        assert a["metadata"] == {"created_by": "system"}
    chat = await lg_client.assistants.get(REFERENCE_IDS["chat"])
    assert chat == await lg_client.assistants.get("chat")  # a graph id names it too
    assert chat["graph_id"] == "chat"


async def test_search_count_filters_paging_select(
    lg_client: LangGraphClient, lg_server: ServerProcess
) -> None:
    res = await lg_client.assistants.search(graph_id="chat", metadata={"created_by": "system"})
    assert [a["assistant_id"] for a in res] == [REFERENCE_IDS["chat"]]
    system = {"created_by": "system"}
    assert await lg_client.assistants.count(metadata=system) == len(GRAPH_IDS)
    assert await lg_client.assistants.count(graph_id="slow", metadata=system) == 1
    assert await lg_client.assistants.count(metadata={"created_by": "nobody"}) == 0
    by_name = await lg_client.assistants.search(name="PAR", metadata=system)
    assert [a["graph_id"] for a in by_name] == ["parent"]
    asc: dict[str, Any] = {"metadata": system, "sort_by": "name", "sort_order": "asc"}
    by_name = await lg_client.assistants.search(**asc)
    assert [a["name"] for a in by_name] == sorted(GRAPH_IDS)
    p1 = await lg_client.assistants.search(limit=2, offset=0, **asc)
    p2 = await lg_client.assistants.search(limit=2, offset=2, **asc)
    assert [a["name"] for a in p1 + p2] == sorted(GRAPH_IDS)
    obj: Any = await lg_client.assistants.search(limit=2, response_format="object")
    assert len(obj["assistants"]) == 2 and obj["next"] == "2"
    sel = await lg_client.assistants.search(graph_id="chat", select=["assistant_id", "name"])
    assert sel == [{"assistant_id": REFERENCE_IDS["chat"], "name": "chat"}]
    with lg_server.client() as c:
        r = c.post("/assistants/search", json={"limit": 1})
        assert r.headers["x-pagination-total"] == "2" and r.headers["x-pagination-next"] == "1"
        r = c.post(
            "/assistants/search",
            json={"limit": 10, "offset": 2, "metadata": {"created_by": "system"}},
        )
        assert r.headers["x-pagination-total"] == "4" and "x-pagination-next" not in r.headers
        assert c.post("/assistants/count", json={"graph_id": "chat"}).json() == 1


async def test_graph_with_xray(lg_client: LangGraphClient, lg_server: ServerProcess) -> None:
    g = await lg_client.assistants.get_graph(REFERENCE_IDS["chat"])
    assert g == {
        "nodes": [
            {"id": "__start__", "type": "runnable", "data": {"name": "__start__"}},
            {"id": "chat", "type": "runnable", "data": {"name": "chat"}},
            {"id": "__end__"},
        ],
        "edges": [
            {"source": "__start__", "target": "chat"},
            {"source": "chat", "target": "__end__"},
        ],
    }
    flat = await lg_client.assistants.get_graph(REFERENCE_IDS["parent"])
    assert "child" in {n["id"] for n in flat["nodes"]}
    x = await lg_client.assistants.get_graph(REFERENCE_IDS["parent"], xray=True)
    ids = {n["id"] for n in x["nodes"]}
    assert {"child:sub_a", "child:sub_b"} <= ids and "child" not in ids
    assert {"source": "child:sub_a", "target": "child:sub_b"} in x["edges"]
    assert (await lg_client.assistants.get_graph("parent", xray=1))["nodes"] == x["nodes"]
    with lg_server.client() as c:
        r = c.get(f"/assistants/{REFERENCE_IDS['parent']}/graph", params={"xray": "-1"})
        assert r.status_code == 422 and r.json() == {"detail": "Invalid xray value"}


async def test_schemas_and_subgraphs(lg_client: LangGraphClient) -> None:
    s = await lg_client.assistants.get_schemas(REFERENCE_IDS["chat"])
    assert set(s) == {
        "graph_id",
        "input_schema",
        "output_schema",
        "state_schema",
        "config_schema",
        "context_schema",
    }
    assert s["graph_id"] == "chat" and "messages" in s["state_schema"]["properties"]
    slow = await lg_client.assistants.get_schemas("slow")
    assert set(slow["state_schema"]["properties"]) == {"n", "log"}
    sub = await lg_client.assistants.get_subgraphs(REFERENCE_IDS["parent"])
    assert set(sub) == {"child"}
    assert set(sub["child"]["state_schema"]["properties"]) == {"items"}
    assert set(await lg_client.assistants.get_subgraphs("parent", recurse=True)) == {"child"}
    assert set(await lg_client.assistants.get_subgraphs("parent", namespace="child")) == {"child"}
    assert await lg_client.assistants.get_subgraphs("parent", namespace="nope") == {}
    assert await lg_client.assistants.get_subgraphs("chat") == {}


async def test_versions_and_latest(lg_client: LangGraphClient, lg_server: ServerProcess) -> None:
    vs = await lg_client.assistants.get_versions(REFERENCE_IDS["approval"])
    assert len(vs) == 1 and vs[0]["version"] == 1 and "updated_at" not in vs[0]
    assert vs[0]["assistant_id"] == REFERENCE_IDS["approval"] and vs[0]["graph_id"] == "approval"
    latest = await lg_client.assistants.set_latest(REFERENCE_IDS["approval"], 1)
    assert latest["version"] == 1 and latest["assistant_id"] == REFERENCE_IDS["approval"]
    with pytest.raises(NotFoundError):
        await lg_client.assistants.set_latest(REFERENCE_IDS["approval"], 2)


def test_unknown_and_malformed_ids(lg_server: ServerProcess) -> None:
    unknown = str(uuid.uuid4())
    with lg_server.client() as c:
        for path in ("", "/graph", "/schemas", "/subgraphs"):
            r = c.get(f"/assistants/{unknown}{path}")
            assert r.status_code == 404 and set(r.json()) == {"detail"}, path
            r = c.get(f"/assistants/not-a-graph{path}")
            assert r.status_code == 422, path
            assert r.json() == {"detail": "Invalid assistant ID: must be a UUID"}
        r = c.delete(f"/assistants/{unknown}")
        assert r.json() == {"detail": f"Assistant with ID {unknown} not found"}
        assert r.status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/assistants/search", {"limit": 0}),
        ("POST", "/assistants/search", {"sort_by": "color"}),
        ("POST", "/assistants/search", {"select": ["secret"]}),
        ("POST", "/assistants/search", {"metadata": "x"}),
        ("POST", "/assistants/count", {"graph_id": 5}),
        ("POST", "/assistants/chat/versions", {"limit": -1}),
        ("POST", "/assistants/chat/latest", {}),
        ("POST", "/assistants/chat/latest", {"version": "one"}),
        ("POST", "/assistants", {"name": "x"}),
        ("POST", "/assistants", {"graph_id": "nope"}),
        (
            "POST",
            "/assistants",
            {"graph_id": "chat", "config": {"configurable": {"a": 1}}, "context": {"b": 2}},
        ),
        ("POST", "/assistants", {"graph_id": "chat", "config": {"configurable": 3}}),
        ("POST", "/assistants", {"graph_id": "chat", "name": 5}),
        ("POST", "/assistants", {"graph_id": "chat", "if_exists": "maybe"}),
        ("POST", "/assistants", {"graph_id": "chat", "assistant_id": ""}),
        (
            "POST",
            "/assistants",
            {"graph_id": "chat", "assistant_id": "eb6db400-e3c8-5d06-a834-015cb89efe69"},
        ),
        ("PATCH", "/assistants/chat", {"name": "renamed"}),
        ("DELETE", "/assistants/chat", None),
    ],
)
def test_bad_input_and_unsupported_are_4xx_with_detail(
    lg_server: ServerProcess, method: str, path: str, body: dict[str, Any] | None
) -> None:
    with lg_server.client() as c:
        r = c.request(method, path, json=body)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert set(r.json()) == {"detail"}


async def test_custom_assistants_versions_and_latest(lg_client: LangGraphClient) -> None:
    aid = str(uuid.uuid4())
    a = await lg_client.assistants.create(
        "chat",
        assistant_id=aid,
        name="mine",
        metadata={"team": "a"},
        config={"configurable": {"x": 1}},
        if_exists="raise",
    )
    assert set(a) == KEYS and a["assistant_id"] == aid and a["version"] == 1
    assert a["config"] == {"configurable": {"x": 1}} and a["context"] == {"x": 1}  # mirrored
    with pytest.raises(ConflictError) as ei:
        await lg_client.assistants.create("chat", assistant_id=aid, if_exists="raise")
    assert ei.value.response.json() == {"detail": f"Assistant {aid} already exists"}
    same = await lg_client.assistants.create(
        "chat", assistant_id=aid, name="other", if_exists="do_nothing"
    )
    assert same["name"] == "mine" and same["version"] == 1
    u = await lg_client.assistants.update(aid, name="mine2", metadata={"v": 2}, context={"y": 2})
    assert u["version"] == 2 and u["name"] == "mine2" and u["metadata"] == {"team": "a", "v": 2}
    assert u["context"] == {"y": 2} and u["config"] == {"configurable": {"y": 2}}
    assert u["created_at"] == a["created_at"] and u["updated_at"] >= a["updated_at"]
    vs = await lg_client.assistants.get_versions(aid)
    assert [v["version"] for v in vs] == [2, 1] and all("updated_at" not in v for v in vs)
    assert [
        v["version"] for v in await lg_client.assistants.get_versions(aid, metadata={"v": 2})
    ] == [2]
    back = await lg_client.assistants.set_latest(aid, 1)
    assert back["version"] == 1 and back["name"] == "mine"
    assert (await lg_client.assistants.get(aid))["version"] == 1
    with pytest.raises(NotFoundError):
        await lg_client.assistants.set_latest(aid, 9)
    third = await lg_client.assistants.update(aid, description="d")
    assert third["version"] == 3 and third["name"] == "mine" and third["description"] == "d"
    untitled = await lg_client.assistants.create("parent")
    assert untitled["name"] == "Untitled" and uuid.UUID(untitled["assistant_id"])
    x = await lg_client.assistants.get_graph(untitled["assistant_id"], xray=True)
    assert any(n["id"] == "child:sub_a" for n in x["nodes"])
    assert (await lg_client.assistants.get_schemas(untitled["assistant_id"]))[
        "graph_id"
    ] == "parent"
    found = await lg_client.assistants.search(metadata={"team": "a"})
    assert [f["assistant_id"] for f in found] == [aid]
    assert await lg_client.assistants.count(graph_id="parent", name="untitled") >= 1
    await lg_client.assistants.delete(aid)
    with pytest.raises(NotFoundError) as nf:
        await lg_client.assistants.get(aid)
    assert nf.value.response.json() == {"detail": "Not Found"}
    with pytest.raises(NotFoundError) as nf:
        await lg_client.assistants.delete(aid)
    assert nf.value.response.json() == {"detail": f"Assistant with ID {aid} not found"}


def test_custom_assistants_survive_a_restart(tmp_path: Any) -> None:
    srv = start_lg_server(tmp_path / "a")
    try:
        with srv.client() as c:
            made = c.post("/assistants", json={"graph_id": "slow", "name": "kept"}).json()
            c.patch(f"/assistants/{made['assistant_id']}", json={"name": "kept2"})
    finally:
        srv.stop()
    srv = start_lg_server(tmp_path / "a", port=srv.port)
    try:
        with srv.client() as c:
            got = c.get(f"/assistants/{made['assistant_id']}").json()
            assert got["name"] == "kept2" and got["version"] == 2
            assert len(c.post(f"/assistants/{made['assistant_id']}/versions", json={}).json()) == 2
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with API keys: alice and bob are users, root an admin."""
    srv = start_lg_server(
        tmp_path_factory.mktemp("lgapi-keys"), env={"GRAPH_SESSIONS_API_KEYS": API_KEYS_ENV}
    )
    try:
        yield srv
    finally:
        srv.stop()


def test_another_owners_assistant_is_missing(keyed_server: ServerProcess) -> None:
    with keyed_server.client("alice") as alice, keyed_server.client("bob") as bob:
        aid = alice.post(
            "/assistants", json={"graph_id": "chat", "metadata": {"who": "alice"}}
        ).json()["assistant_id"]
        for r in (
            bob.get(f"/assistants/{aid}"),
            bob.patch(f"/assistants/{aid}", json={"name": "bob's"}),
            bob.delete(f"/assistants/{aid}"),
            bob.get(f"/assistants/{aid}/graph"),
            bob.get(f"/assistants/{aid}/schemas"),
            bob.get(f"/assistants/{aid}/subgraphs"),
            bob.post(f"/assistants/{aid}/versions", json={}),
            bob.post(f"/assistants/{aid}/latest", json={"version": 1}),
        ):
            assert r.status_code == 404 and set(r.json()) == {"detail"}, (
                r.request.url.path,
                r.status_code,
            )
        assert bob.post("/assistants/search", json={"metadata": {"who": "alice"}}).json() == []
        assert bob.post("/assistants/count", json={"metadata": {"who": "alice"}}).json() == 0
        taken = bob.post(
            "/assistants", json={"graph_id": "chat", "assistant_id": aid, "if_exists": "do_nothing"}
        )
        assert taken.status_code == 409
        assert alice.get(f"/assistants/{aid}").json()["version"] == 1  # untouched
        assert bob.get("/assistants/chat").status_code == 200  # system assistants are everyone's
        with keyed_server.client("root") as root:
            assert root.get(f"/assistants/{aid}").status_code == 200


def test_system_assistant_stays_after_refused_changes(
    lg_sync_client: SyncLangGraphClient, lg_server: ServerProcess
) -> None:
    with lg_server.client() as c:
        assert c.delete(f"/assistants/{REFERENCE_IDS['slow']}").status_code == 400
        r = c.post(
            "/assistants",
            json={
                "graph_id": "slow",
                "assistant_id": REFERENCE_IDS["slow"],
                "if_exists": "do_nothing",
            },
        )
        assert r.status_code == 200 and r.json()["assistant_id"] == REFERENCE_IDS["slow"]
    a = lg_sync_client.assistants.get(REFERENCE_IDS["slow"])
    assert a["version"] == 1 and a["graph_id"] == "slow"
    assert lg_sync_client.assistants.count(graph_id="slow") == 1
    assert lg_sync_client.assistants.get_graph("slow")["nodes"][1]["id"] == "sleep"
