"""The metadata filter of ``manager.list``/``count`` is client input: what storage cannot
compare, or what would build a huge query, is refused with ``InvalidInput``."""

from __future__ import annotations

import pytest
from support.graphs import chat_graph

from graph_sessions import GraphSessionManager
from graph_sessions.core.filters import MAX_FILTER_DEPTH, MAX_FILTER_KEYS
from graph_sessions.errors import InvalidInput


def _nested(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(depth):
        value = {"k": value}
    return value


@pytest.mark.parametrize(
    ("metadata", "words"),
    [
        ({"n": 2**63}, "signed 64 bits"),
        ({"n": 2**64 - 1}, "signed 64 bits"),
        ({"n": -(2**63) - 1}, "signed 64 bits"),
        ({"n": [1, 2**63]}, "signed 64 bits"),
        ({f"k{i}": i for i in range(MAX_FILTER_KEYS + 1)}, "keys"),
        ({f"k{i}": i for i in range(1000)}, "keys"),
        ({"a": {f"k{i}": i for i in range(MAX_FILTER_KEYS + 1)}}, "keys"),
        (_nested(MAX_FILTER_DEPTH + 1), "nested"),
        (_nested(500), "nested"),
        ({"x": float("nan")}, "finite"),
        ({"x": {1, 2}}, "not a JSON value"),
        ([1], "must be a dict"),
        # SQLite's JSON paths cannot name these keys (a NUL was a 503, CI's schemathesis)
        ({"a\x00b": 1}, "double quote or a NUL"),
        ({'say "hi"': 1}, "double quote or a NUL"),
        ({"outer": {"in\x00ner": 1}}, "double quote or a NUL"),
    ],
)
async def test_bad_filters_are_invalid_input(
    any_backend: str, metadata: object, words: str
) -> None:
    manager = GraphSessionManager(graph=chat_graph(), backend=any_backend)
    async with manager:
        await manager.create("s1", metadata={"n": 1})
        with pytest.raises(InvalidInput, match=words):
            await manager.list(metadata=metadata)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match=words):
            await manager.count(metadata=metadata)  # type: ignore[arg-type]


async def test_filters_at_the_limits_still_work(any_backend: str) -> None:
    manager = GraphSessionManager(graph=chat_graph(), backend=any_backend)
    async with manager:
        meta = {f"k{i}": i for i in range(MAX_FILTER_KEYS - 2)}
        meta["big"] = 2**63 - 1
        meta["small"] = -(2**63)
        await manager.create("s1", metadata=meta)
        await manager.create("s2", metadata={"k0": 0})
        page = await manager.list(metadata=meta)
        assert [s.session_id for s in page.sessions] == ["s1"]
        assert await manager.count(metadata=_nested(MAX_FILTER_DEPTH - 1)) == 0


async def test_id_prefix_lists_and_counts_through_the_manager(any_backend: str) -> None:
    manager = GraphSessionManager(graph=chat_graph(), backend=any_backend)
    async with manager:
        for sid in ("job-1", "job-2", "job_3", "jobs", "other"):
            await manager.create(sid, owner="ann" if sid != "job-2" else "bob")
        page = await manager.list(id_prefix="job-", sort="created_at", order="asc")
        assert [s.session_id for s in page.sessions] == ["job-1", "job-2"]
        assert await manager.count(id_prefix="job_") == 1  # _ is no wildcard
        assert await manager.count(id_prefix="job", owner="ann") == 3
        assert await manager.count(id_prefix="") == 5  # empty: no filter
        with pytest.raises(InvalidInput, match="id_prefix must be a string"):
            await manager.list(id_prefix=3)  # type: ignore[arg-type]
