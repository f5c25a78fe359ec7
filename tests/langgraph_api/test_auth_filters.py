"""An auth handler's filter as LangGraph applies it to metadata (``matches_filter``), and how
a thread search splits it between the core's metadata filter and a check over the rows."""

from __future__ import annotations

from typing import Any

import pytest

from graph_sessions.server.errors import ApiError
from graph_sessions.server.langgraph_api.lg_auth import matches_filter
from graph_sessions.server.langgraph_api.thread_search import _Scoped

META = {"owner": "alice", "readers": ["alice", "bob"], "org": "acme", "n": None}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (None, True),
        ({}, True),
        ({"owner": "alice"}, True),
        ({"owner": "bob"}, False),
        ({"owner": {"$eq": "alice"}}, True),
        ({"missing": None}, False),  # the key must be there
        ({"n": None}, True),
        ({"readers": {"$contains": "bob"}}, True),
        ({"readers": {"$contains": ["alice", "bob"]}}, True),
        ({"readers": {"$contains": ["alice", "carol"]}}, False),
        ({"owner": {"$contains": "alice"}}, False),  # not a list
        ({"$or": [{"owner": "bob"}, {"readers": {"$contains": "bob"}}]}, True),
        ({"$or": [{"owner": "bob"}, {"org": "other"}]}, False),
        ({"$and": [{"owner": "alice"}, {"org": "acme"}]}, True),
        ({"$and": [{"owner": "alice"}, {"org": "other"}]}, False),
        ({"$or": [{"owner": "bob"}, {"org": "acme"}], "owner": "bob"}, False),
    ],
)
def test_matches_filter(filters: dict[str, Any] | None, expected: bool) -> None:
    assert matches_filter(META, filters) is expected


@pytest.mark.parametrize(
    "filters",
    [
        {"$or": [{"owner": "alice"}]},  # fewer than 2 groups
        {"$or": "owner"},
        {"$or": [{"$or": [{"$or": [{"a": 1}, {"a": 2}]}, {"a": 3}]}, {"a": 4}]},  # too deep
    ],
)
def test_malformed_filters_are_the_handlers_fault(filters: dict[str, Any]) -> None:
    with pytest.raises(ApiError) as exc:
        matches_filter(META, filters)
    assert exc.value.status == 500


def test_search_pushes_plain_equalities_to_the_core() -> None:
    scoped = _Scoped({"topic": "x"}, {"owner": "alice", "org": {"$eq": "acme"}})
    assert scoped.metadata == {"topic": "x", "owner": "alice", "org": "acme"}
    assert scoped.rest == {} and not scoped.empty
    scoped = _Scoped(None, {"readers": {"$contains": "bob"}, "$or": [{"a": 1}, {"b": 2}]})
    assert scoped.metadata == {}
    assert set(scoped.rest) == {"readers", "$or"}
    assert _Scoped({"owner": "bob"}, {"owner": "alice"}).empty
    assert not _Scoped({"owner": "alice"}, {"owner": "alice"}).empty
