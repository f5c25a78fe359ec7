"""REST routes the web inspector's list and graph pages use: ``GET /graphs/{graph_id}`` and
the ``id_prefix`` filter of ``GET /sessions`` / ``POST /sessions/search``."""

from __future__ import annotations

import uuid

import httpx
import pytest

pytestmark = pytest.mark.slow


def test_graph_shape_nodes_and_edges(alice: httpx.Client) -> None:
    r = alice.get("/graphs/work")
    assert r.status_code == 200
    body = r.json()
    assert body["graph_id"] == "work"
    assert {n["id"] for n in body["nodes"]} == {"__start__", "work", "__end__"}
    assert {(e["source"], e["target"], e["conditional"]) for e in body["edges"]} == {
        ("__start__", "work", False),
        ("work", "__end__", False),
    }
    approval = alice.get("/graphs/approval").json()
    ids = {n["id"] for n in approval["nodes"]}
    assert "__start__" in ids and len(ids) >= 3
    assert all(e["source"] in ids and e["target"] in ids for e in approval["edges"])


def test_graph_shape_unknown_is_404(alice: httpx.Client) -> None:
    r = alice.get("/graphs/nope")
    assert r.status_code == 404
    assert r.json()["error"] == "graph_not_found" and "work" in r.json()["message"]


def test_list_by_id_prefix(alice: httpx.Client, bob: httpx.Client) -> None:
    tag = uuid.uuid4().hex[:8]
    mine = [f"{tag}-a%1", f"{tag}-a_2", f"{tag}-ab3", f"{tag}-b4"]
    for sid in mine:
        assert alice.post("/sessions", json={"session_id": sid}).status_code == 201
    assert bob.post("/sessions", json={"session_id": f"{tag}-a%bob"}).status_code == 201

    def ids(r: httpx.Response) -> list[str]:
        assert r.status_code == 200, r.text
        return sorted(s["session_id"] for s in r.json()["sessions"])

    assert ids(alice.get("/sessions", params={"id_prefix": f"{tag}-a"})) == sorted(mine[:3])
    assert ids(alice.get("/sessions", params={"id_prefix": f"{tag}-a%"})) == [mine[0]]
    assert ids(alice.get("/sessions", params={"id_prefix": f"{tag}-a_"})) == [mine[1]]
    assert ids(alice.post("/sessions/search", json={"id_prefix": f"{tag}-a"})) == sorted(mine[:3])
    assert ids(bob.get("/sessions", params={"id_prefix": tag})) == [f"{tag}-a%bob"]
    too_long = alice.get("/sessions", params={"id_prefix": "x" * 300})
    assert too_long.status_code == 422
