"""Guarded routers skip their routes for paths outside them, and change nothing else:
every route still answers, a wrong method is still 405, an unknown path 404."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from graph_sessions.server.routing import GuardedRouter, literal_prefix


def _app() -> tuple[FastAPI, GuardedRouter, GuardedRouter]:
    a = GuardedRouter()
    b = GuardedRouter()

    @a.get("/alpha/{item}")
    def alpha(item: str) -> dict[str, str]:
        return {"router": "a", "item": item}

    @a.post("/alpha/search")
    def alpha_search() -> dict[str, str]:
        return {"router": "a", "item": "search"}

    @b.get("/beta")
    def beta() -> dict[str, str]:
        return {"router": "b"}

    app = FastAPI()
    app.include_router(a)
    app.include_router(b)
    return app, a, b


def test_literal_prefix() -> None:
    assert literal_prefix("/threads/{thread_id}/runs") == "/threads/"
    assert literal_prefix("/threads/search") == "/threads/search"


def test_a_path_outside_the_router_is_no_match_without_walking_its_routes() -> None:
    app, a, _ = _app()
    walked: list[str] = []
    for route in a.routes:
        original = route.matches

        def spy(scope, original=original, path=route.path):  # type: ignore[no-untyped-def]
            walked.append(path)
            return original(scope)

        route.matches = spy  # type: ignore[method-assign]
    with TestClient(app) as client:
        assert client.get("/beta").json() == {"router": "b"}
        assert walked == []  # a's routes were never looked at
        assert client.get("/alpha/x").status_code == 200
        assert walked  # and they are for its own paths


def test_routes_methods_and_unknown_paths_answer_as_without_guards() -> None:
    app, _, _ = _app()
    with TestClient(app) as client:
        assert client.get("/alpha/x").json() == {"router": "a", "item": "x"}
        assert client.post("/alpha/search").json() == {"router": "a", "item": "search"}
        assert client.get("/beta").json() == {"router": "b"}
        assert client.delete("/beta").status_code == 405
        assert client.put("/alpha/x").status_code == 405
        assert client.get("/gamma").status_code == 404


def test_a_route_added_later_is_seen() -> None:
    app, a, _ = _app()

    @a.get("/late")
    def late() -> dict[str, str]:
        return {"router": "late"}

    app.include_router(a)  # FastAPI includes the router's routes as they are now
    with TestClient(app) as client:
        assert client.get("/late").json() == {"router": "late"}
