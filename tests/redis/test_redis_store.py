"""The Redis store (``storage/redis/store.py``) against LangGraph's ``InMemoryStore`` as the
reference: the same operations on both give the same answers (search order, filters,
limit/offset, list_namespaces); plus what only it has (TTL by Redis expiry with real time,
key prefixes that keep deployments apart, no vector search) and the documented differences."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
from langgraph.store.base import GetOp, Item, PutOp, SearchOp
from langgraph.store.memory import InMemoryStore
from redis.asyncio import Redis
from support.redis import RedisServer

from graph_sessions.errors import InvalidInput
from graph_sessions.storage.redis.store import RedisStore


@pytest.fixture
async def client(redis_server: RedisServer) -> AsyncIterator[Redis]:
    c = Redis.from_url(redis_server.url())
    try:
        yield c
    finally:
        await c.aclose()


@pytest.fixture
def store(client: Redis, redis_server: RedisServer) -> RedisStore:
    return RedisStore(client, redis_server.new_prefix())


async def _keys(client: Redis, prefix: str) -> list[str]:
    return sorted([k.decode() async for k in client.scan_iter(match=f"{prefix}*")])


def _forget_empty(ref: InMemoryStore) -> None:
    """InMemoryStore keeps a namespace whose items were all deleted (and makes one on a
    get): it lists it, and a later put keeps its old place. The Redis store forgets it
    (documented difference); drop such namespaces from the reference to compare the rest."""
    for ns in [ns for ns, items in ref._data.items() if not items]:
        del ref._data[ns]


def _view(result: Any) -> Any:
    if isinstance(result, Item):
        return (result.namespace, result.key, result.value)
    if isinstance(result, list):
        return [_view(r) for r in result]
    return result


NAMESPACES = [
    ("users",),
    ("users", "u1"),
    ("users", "u1", "prefs"),
    ("users", "u2"),
    ("docs", "u1"),
    ("docs", "u2", "prefs"),
    ("x",),
]
FILTERS: list[dict[str, Any] | None] = [
    None,
    {"tag": "a"},
    {"n": {"$gt": 3}},
    {"n": {"$gte": 3, "$lt": 7}},
    {"n": {"$lte": 2}},
    {"tag": {"$ne": "b"}},
    {"tag": {"$eq": "c"}, "n": {"$gt": 0}},
    {"nested": {"x": 1}},
    {"list": [1, 2]},
    {"missing": None},
]


def _random_op(rng: random.Random) -> tuple[str, dict[str, Any]]:
    ns = rng.choice(NAMESPACES)
    key = f"k{rng.randrange(6)}"
    roll = rng.random()
    if roll < 0.45:
        value = {
            "n": rng.randrange(10),
            "tag": rng.choice("abc"),
            "nested": {"x": rng.randrange(3)},
            "list": rng.choice([[1, 2], [2, 1], [1]]),
        }
        return "put", {"namespace": ns, "key": key, "value": value}
    if roll < 0.55:
        return "delete", {"namespace": ns, "key": key}
    if roll < 0.65:
        return "get", {"namespace": ns, "key": key}
    if roll < 0.9:
        depth = rng.randrange(len(ns) + 1)
        return "search", {
            "namespace_prefix": ns[:depth],
            "filter": rng.choice(FILTERS),
            "limit": rng.choice([1, 3, 10, 100]),
            "offset": rng.choice([0, 0, 1, 4]),
        }
    prefix = rng.choice([None, ("users",), ("users", "*"), ("docs",), ("nope",)])
    suffix = rng.choice([None, None, ("prefs",), ("u1",)])
    return "list_namespaces", {
        "prefix": prefix,
        "suffix": suffix,
        "max_depth": rng.choice([None, None, 1, 2]),
        "limit": rng.choice([2, 100]),
        "offset": rng.choice([0, 1]),
    }


async def _apply(target: Any, name: str, kwargs: dict[str, Any]) -> Any:
    kwargs = dict(kwargs)
    if name == "search":  # positional-only
        return await target.asearch(kwargs.pop("namespace_prefix"), **kwargs)
    return await getattr(target, f"a{name}")(**kwargs)


@pytest.mark.parametrize("seed", range(6))
async def test_random_operations_answer_as_in_memory_store(store: RedisStore, seed: int) -> None:
    rng = random.Random(seed)
    ref = InMemoryStore()
    for step in range(150):
        name, kwargs = _random_op(rng)
        expected = _view(await _apply(ref, name, kwargs))
        _forget_empty(ref)
        got = _view(await _apply(store, name, kwargs))
        assert got == expected, (seed, step, name, kwargs)


async def test_search_order_filters_and_pages(store: RedisStore) -> None:
    ref = InMemoryStore()
    puts = [
        (("b",), "z", {"n": 1, "tag": "a"}),
        (("a",), "y", {"n": 5, "tag": "b"}),
        (("b",), "a", {"n": 9, "tag": "a"}),
        (("a", "c"), "x", {"n": 3, "tag": "a"}),
        (("b",), "z", {"n": 7, "tag": "c"}),  # an update keeps its place
        (("c", "ü"), 'q"\\ é/\n\x00', {"n": 2, "tag": "a", "text": 'é"\\/'}),  # odd keys
    ]
    for target in (ref, store):
        for ns, key, value in puts:
            await target.aput(ns, key, value)
    cases: list[dict[str, Any]] = [
        {"namespace_prefix": ()},
        {"namespace_prefix": ("a",)},
        {"namespace_prefix": ("b",), "filter": {"n": {"$gt": 5}}},
        {"namespace_prefix": (), "filter": {"tag": "a"}, "limit": 1, "offset": 1},
        {"namespace_prefix": (), "limit": 2, "offset": 3},
    ]
    for case in cases:
        got, expected = [await _apply(t, "search", case) for t in (store, ref)]
        assert _view(got) == _view(expected), case
    # namespaces in first-insertion order, keys in insertion order
    assert [(i.namespace, i.key) for i in await store.asearch(())] == [
        (("b",), "z"),
        (("b",), "a"),
        (("a",), "y"),
        (("a", "c"), "x"),
        (("c", "ü"), 'q"\\ é/\n\x00'),
    ]
    z = await store.aget(("b",), "z")
    assert z is not None and z.value == {"n": 7, "tag": "c"} and z.created_at < z.updated_at


async def test_a_batch_reads_before_its_writes(store: RedisStore) -> None:
    ref = InMemoryStore()
    ops = [
        PutOp(("t",), "k", {"v": 1}),
        GetOp(("t",), "k"),
        SearchOp(("t",)),
        PutOp(("t",), "k", {"v": 2}),
    ]
    for target in (ref, store):
        assert _view(await target.abatch(ops)) == [None, None, [], None]
    assert _view(await store.aget(("t",), "k")) == _view(await ref.aget(("t",), "k"))


async def test_list_namespaces_prefix_suffix_depth(store: RedisStore) -> None:
    ref = InMemoryStore()
    for target in (ref, store):
        for ns in [("a", "b", "c"), ("a", "b", "d", "e"), ("a", "b", "d", "i"), ("a", "c", "f")]:
            await target.aput(ns, "k", {"v": 1})
    cases: list[dict[str, Any]] = [
        {},
        {"prefix": ("a", "b"), "max_depth": 3},
        {"suffix": ("f",)},
        {"prefix": ("a", "*", "d")},
        {"max_depth": 2, "limit": 1, "offset": 1},
    ]
    for case in cases:
        assert await store.alist_namespaces(**case) == await ref.alist_namespaces(**case), case
    assert await store.alist_namespaces(prefix=("a", "b"), max_depth=3) == [
        ("a", "b", "c"),
        ("a", "b", "d"),
    ]


async def test_an_emptied_namespace_is_forgotten(store: RedisStore, client: Redis) -> None:
    """The documented difference: InMemoryStore lists it still, the Redis store does not,
    and leaves no key of it behind."""
    ref = InMemoryStore()
    for target in (ref, store):
        await target.aput(("gone",), "k", {"v": 1})
        await target.adelete(("gone",), "k")
    assert await ref.alist_namespaces() == [("gone",)]
    assert await store.alist_namespaces() == []
    assert await _keys(client, store.prefix) == [f"{store.prefix}store:seq"]


async def test_prefixes_keep_deployments_apart(client: Redis, redis_server: RedisServer) -> None:
    one = RedisStore(client, redis_server.new_prefix())
    two = RedisStore(client, redis_server.new_prefix())
    await one.aput(("shared",), "k", {"who": 1})
    await two.aput(("shared",), "k", {"who": 2})
    await two.aput(("only-two",), "k", {"who": 2})
    one_item, two_item = await one.aget(("shared",), "k"), await two.aget(("shared",), "k")
    assert one_item is not None and one_item.value == {"who": 1}
    assert two_item is not None and two_item.value == {"who": 2}
    assert await one.alist_namespaces() == [("shared",)]
    assert [i.value for i in await one.asearch(())] == [{"who": 1}]
    await one.adelete(("shared",), "k")
    assert await one.aget(("shared",), "k") is None
    assert two_item == await two.aget(("shared",), "k")
    assert all(k.startswith(f"{one.prefix}store:") for k in await _keys(client, one.prefix))
    assert len(await _keys(client, two.prefix)) == 7  # 2 items, 2 indexes, 2 lists, seq


async def test_no_vector_search_and_bad_input_are_typed_errors(
    store: RedisStore, client: Redis
) -> None:
    with pytest.raises(InvalidInput, match="vector search"):
        RedisStore(client, "gs:", index={"dims": 3, "embed": lambda texts: []})
    with pytest.raises(InvalidInput, match="vector search"):
        await store.asearch(("a",), query="what is it")
    with pytest.raises(InvalidInput, match="JSON"):
        await store.aput(("a",), "k", {"v": object()})
    await store.aput(("a",), "k", {"n": 1, "s": "text"})
    with pytest.raises(InvalidInput, match="operator"):
        await store.asearch(("a",), filter={"n": {"$in": [1]}})
    with pytest.raises(InvalidInput, match="namespace"):
        await store.abatch([PutOp((), "k", {"v": 1})])
    with pytest.raises(InvalidInput, match=">= 0"):
        await store.asearch(("a",), limit=-1)
    # a range operator on a value that is not a number does not match (InMemoryStore raises)
    assert await store.asearch(("a",), filter={"s": {"$gt": 0}}) == []
    assert len(await store.asearch(("a",), filter={"n": {"$gt": 0}})) == 1


async def test_the_sync_api_bridges_from_another_thread(store: RedisStore) -> None:
    await store.aput(("s",), "k", {"v": 1})

    def in_thread() -> Any:
        store.put(("s",), "k2", {"v": 2})
        return [i.key for i in store.search(("s",))]

    assert await asyncio.to_thread(in_thread) == ["k", "k2"]
    with pytest.raises(asyncio.InvalidStateError, match="async methods"):
        store.get(("s",), "k")


@pytest.mark.slow
async def test_ttl_by_redis_expiry_with_real_time(store: RedisStore, client: Redis) -> None:
    p = store.prefix
    await store.aput(("t",), "brief", {"v": 1}, ttl=1.2 / 60)  # 1.2 s
    await store.aput(("t",), "kept", {"v": 2})
    await store.aput(("only-ttl",), "k", {"v": 3}, ttl=1.2 / 60)
    await store.aput(("r",), "refreshed", {"v": 4}, ttl=2.0 / 60)
    assert 0 < await client.pttl(f"{p}store:item:t\0brief") <= 1200
    assert await client.pttl(f"{p}store:item:t\0kept") == -1
    assert await client.pttl(f"{p}store:ns:t") == -1  # holds an item without TTL
    assert 0 < await client.pttl(f"{p}store:ns:only-ttl") <= 1200

    await asyncio.sleep(1.0)
    assert await store.aget(("r",), "refreshed") is not None  # a read renews it: 2 s again
    assert await store.aget(("r",), "refreshed", refresh_ttl=False) is not None
    assert await client.pttl(f"{p}store:item:r\0refreshed") > 1200

    await asyncio.sleep(0.8)  # 1.8 s: the 1.2 s items are gone, the refreshed one is not
    assert await store.aget(("t",), "brief") is None
    assert await client.exists(f"{p}store:item:t\0brief", f"{p}store:ns:only-ttl") == 0
    assert [i.key for i in await store.asearch(("t",))] == ["kept"]
    assert await client.zrange(f"{p}store:ns:t", 0, -1) == [b"kept"]  # the search pruned it
    assert await store.alist_namespaces() == [("r",), ("t",)]
    refreshed = await store.aget(("r",), "refreshed", refresh_ttl=False)
    assert refreshed is not None and refreshed.value == {"v": 4}

    await asyncio.sleep(2.2)  # not read since: gone, and nothing of it stays
    assert await store.asearch(("r",)) == []
    await store.adelete(("t",), "kept")
    assert await store.sweep_ttl() == 0
    assert await store.alist_namespaces() == []
    assert await _keys(client, p) == [f"{p}store:seq"]


@pytest.mark.slow
async def test_sweep_drops_index_entries_nobody_read(store: RedisStore, client: Redis) -> None:
    p = store.prefix
    await store.aput(("w",), "kept", {"v": 0})
    for i in range(5):
        await store.aput(("w",), f"e{i}", {"v": i}, ttl=0.5 / 60)
    await asyncio.sleep(0.8)
    assert await client.zcard(f"{p}store:ns:w") == 6  # expired items' entries linger
    assert await store.sweep_ttl() == 5
    assert await client.zrange(f"{p}store:ns:w", 0, -1) == [b"kept"]

    # the server's way: a sweeper task every sweep_interval_minutes
    await store.aput(("w",), "again", {"v": 9}, ttl=0.3 / 60)
    task = await store.start_ttl_sweeper(sweep_interval_minutes=0.5 / 60)
    assert await store.start_ttl_sweeper() is task  # one at a time
    await asyncio.sleep(1.2)
    assert await client.zrange(f"{p}store:ns:w", 0, -1) == [b"kept"]
    assert await store.stop_ttl_sweeper(timeout=5) is True
    assert task.done()


async def test_concurrent_writers_leave_no_orphan_keys(
    client: Redis, redis_server: RedisServer
) -> None:
    """Two replicas' stores (one prefix, two connections) put and delete the same items at
    once; when every item is deleted, nothing of the store is left but its counter."""
    prefix = redis_server.new_prefix()
    other = Redis.from_url(redis_server.url())
    stores = [RedisStore(client, prefix), RedisStore(other, prefix)]

    async def writer(store: RedisStore, seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(150):
            ns, key = rng.choice(NAMESPACES), f"k{rng.randrange(4)}"
            if rng.random() < 0.6:
                await store.aput(ns, key, {"n": rng.randrange(9)})
            else:
                await store.adelete(ns, key)
            if rng.random() < 0.2:
                await store.asearch(ns[:1])

    try:
        await asyncio.gather(*(writer(s, i) for i, s in enumerate(stores * 2)))
        items = await stores[0].asearch((), limit=1000)
        assert await stores[1].alist_namespaces(limit=100) == sorted({i.namespace for i in items})
        for item in items:
            await stores[1].adelete(item.namespace, item.key)
        assert await stores[0].alist_namespaces() == []
        assert await _keys(client, prefix) == [f"{prefix}store:seq"]
    finally:
        await other.aclose()
