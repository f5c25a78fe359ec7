"""Hostile documents are bounded: depth, aliases, tokens, page sizes, body size,
introspection by setting; each answers an error with a code, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from support.gql import ALICE, KEYS, codes, gql
from support.server_graphs import work

from graph_sessions import GraphSessionManager
from graph_sessions.graphql.schema import MAX_ALIASES, MAX_COST, MAX_DEPTH, MAX_TOKENS
from graph_sessions.graphql.types import MAX_PAGE
from graph_sessions.server import ServerSettings, create_app

INTROSPECT = "{ __schema { queryType { name } types { name fields { name type { name ofType { name } } } } } }"


async def test_a_deep_document_is_refused(client: httpx.AsyncClient) -> None:
    deep = "{ " + "sessions { edges { node { " * 6 + "id" + " } } }" * 6 + " }"
    out = await gql(client, deep)
    assert out.get("data") is None
    assert "GRAPHQL_VALIDATION_FAILED" in codes(out)
    assert any("maximum operation depth" in e["message"] for e in out["errors"])
    legit = "{ sessions { edges { node { checkpoints { checkpointId } } } } }"
    assert "errors" not in await gql(client, legit)
    assert MAX_DEPTH >= 5


async def test_too_many_aliases_are_refused(client: httpx.AsyncClient) -> None:
    wide = "{ " + " ".join(f"a{i}: graphs {{ default }}" for i in range(MAX_ALIASES + 1)) + " }"
    out = await gql(client, wide)
    assert out.get("data") is None and codes(out) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "aliases" in out["errors"][0]["message"]
    ok = "{ " + " ".join(f"a{i}: graphs {{ default }}" for i in range(MAX_ALIASES)) + " }"
    assert "errors" not in await gql(client, ok)


async def test_too_many_tokens_are_refused(client: httpx.AsyncClient) -> None:
    big = "{ graphs { " + "default " * MAX_TOKENS + "} }"
    out = await gql(client, big)
    assert out.get("data") is None
    assert codes(out) == ["GRAPHQL_PARSE_FAILED"], out
    assert "token" in out["errors"][0]["message"].lower()


async def test_body_over_the_limit_is_413(gql_app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=gql_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.post(
            "/graphql",
            json={"query": "{ graphs { default } }", "variables": {"x": "y" * 2_000_000}},
            headers=ALICE,
        )
        assert r.status_code == 413
        junk = await c.post(
            "/graphql", content=b"{not json", headers={**ALICE, "content-type": "application/json"}
        )
        assert 400 <= junk.status_code < 500


async def test_page_sizes_are_capped(gql_app: FastAPI, client: httpx.AsyncClient) -> None:
    manager: GraphSessionManager = gql_app.state.manager
    for i in range(MAX_PAGE + 5):
        await manager.create(f"p{i:03d}", owner="alice")
    out = await gql(client, "{ sessions(first: 1000000) { totalCount edges { cursor } } }")
    assert out["data"]["sessions"]["totalCount"] == MAX_PAGE + 5
    assert len(out["data"]["sessions"]["edges"]) == MAX_PAGE
    for bad in ("{ sessions(first: 0) { totalCount } }", "{ sessions(first: -5) { totalCount } }"):
        assert codes(await gql(client, bad)) == ["INVALID_INPUT"]
    events = await gql(client, '{ session(id: "p000") { events(first: 99999999) { id } } }')
    assert "errors" not in events


@pytest.fixture
async def closed_app(tmp_path: Path) -> AsyncIterator[FastAPI]:
    manager = GraphSessionManager(graph=work, backend=f"sqlite:///{tmp_path / 'c.db'}")
    async with manager:
        settings = ServerSettings(api_keys=KEYS, graphql_introspection=False, graphql_ide=False)
        yield create_app(manager, settings)


async def test_introspection_follows_the_setting(
    client: httpx.AsyncClient, closed_app: FastAPI
) -> None:
    open_answer = await gql(client, INTROSPECT)
    assert open_answer["data"]["__schema"]["queryType"] == {"name": "Query"}
    page = await client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()

    transport = httpx.ASGITransport(app=closed_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        refused = await gql(c, INTROSPECT)
        assert refused.get("data") is None
        assert set(codes(refused)) == {"GRAPHQL_VALIDATION_FAILED"}
        assert "introspection has been disabled" in refused["errors"][0]["message"]
        assert "errors" not in await gql(c, "{ graphs { default } }")
        page = await c.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 404


async def test_an_operation_that_would_read_too_much_is_refused(client: httpx.AsyncClient) -> None:
    heavy = "sessions(first: 100) { edges { node { checkpoints(first: 100) { values step } } } }"
    wide = "{ " + " ".join(f"a{i}: {heavy}" for i in range(5)) + " }"
    out = await gql(client, wide)
    assert out.get("data") is None and codes(out) == ["GRAPHQL_VALIDATION_FAILED"]
    assert f"over the limit of {MAX_COST}" in out["errors"][0]["message"]
    by_variable = """query($n: Int) { sessions(first: $n) { edges { node {
        a: events(first: $n) { id data } b: events(first: $n) { id data }
        c: events(first: $n) { id data } d: events(first: $n) { id data } } } } }"""
    assert codes(await gql(client, by_variable, {"n": 1})) == ["GRAPHQL_VALIDATION_FAILED"]
    via_fragment = "fragment F on Session { checkpoints(first: 100) { values step next } } " + (
        "{ "
        + " ".join(
            f"s{i}: sessions(first: 100) {{ edges {{ node {{ ...F }} }} }}" for i in range(2)
        )
        + " }"
    )
    assert codes(await gql(client, via_fragment)) == ["GRAPHQL_VALIDATION_FAILED"]
    one = "{ " + heavy.replace("first: 100) { values", "first: 20) { values") + " }"
    assert "errors" not in await gql(client, one)
