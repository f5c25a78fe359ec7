"""The Redis backend's LangGraph store (:class:`RedisStore`) on plain Redis >= 7, no modules.

Keys (all under ``{prefix}store:``; a namespace is its labels joined by ``.``, which labels
cannot contain):

- ``item:{namespace}\\0{key}``: one hash per item (``v`` the value as JSON, ``c``/``u``
  created/updated ISO times, ``t`` its TTL in ms or empty), with Redis expiry when it has a
  TTL. Reads refresh it (``refresh_ttl``).
- ``ns:{namespace}``: a sorted set of the namespace's keys, scored by insertion order; its
  own expiry is never earlier than its items' (a namespace of expiring items goes by itself).
- ``namespaces``: every namespace, all scored 0, so ``ZRANGEBYLEX`` finds those under a
  prefix without scanning the keyspace; ``nsorder``: the same scored by first insertion;
  ``seq``: the counter of both orders.

Each write is one Lua script (item, index and namespace lists change together); a read is
one script call too (a ``get`` with its TTL refresh; a page of a search as one JSON reply,
since parsing many small replies is what costs in the client). An item
that expired leaves its index entry behind until a read of its namespace or
:meth:`RedisStore.sweep_ttl` removes it (again in a script that checks the item is gone).

Behaviour is LangGraph's ``InMemoryStore``'s (tests/redis/test_redis_store.py runs both):
search lists namespaces in first-insertion order and keys in insertion order (an update
keeps its place), filters with equality and ``$eq $ne $gt $gte $lt $lte``, and within one
``abatch`` reads see the state before the batch's writes. Differences: no vector search (an
``index`` config or a ``query`` raises :class:`~graph_sessions.errors.InvalidInput`);
``created_at`` survives updates (as in LangGraph's SQL stores); a namespace whose items are
all gone is not listed (``InMemoryStore`` keeps listing it); a range operator on a value
that is not a number does not match (``InMemoryStore`` raises); values must be JSON.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from langgraph.store.base import (
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    validate_op_namespace,
)
from redis.asyncio import Redis

from graph_sessions.errors import InvalidInput

log = logging.getLogger("graph_sessions.storage.redis")

#: item keys read per round trip while searching a namespace
PAGE = 200
#: namespaces checked per script call while listing
NS_CHUNK = 256
NO_VECTORS = (
    "RedisStore has no vector search: plain Redis has no vector index (that needs the "
    "RediSearch module); use the SQLite or Postgres backend's store for semantic search"
)
_LOOP_ERROR = (
    "RedisStore's sync API was called on the event loop that runs it: use the async methods "
    "(aget, aput, asearch…) there, or call the sync ones from another thread"
)

# KEYS: item, ns index, namespaces, nsorder, seq
# ARGV: namespace, key, value JSON, now ISO, ttl ms ("0": none)
PUT = """
local created = redis.call('HGET', KEYS[1], 'c')
if not created then created = ARGV[4] end
local ttl = tonumber(ARGV[5])
local t = ''
if ttl > 0 then t = ARGV[5] end
redis.call('HSET', KEYS[1], 'v', ARGV[3], 'c', created, 'u', ARGV[4], 't', t)
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) else redis.call('PERSIST', KEYS[1]) end
local pttl = redis.call('PTTL', KEYS[2])
local seq = redis.call('INCR', KEYS[5])
redis.call('ZADD', KEYS[2], 'NX', seq, ARGV[2])
if ttl == 0 then
  redis.call('PERSIST', KEYS[2])
elseif pttl == -2 or (pttl >= 0 and pttl < ttl) then
  redis.call('PEXPIRE', KEYS[2], ttl)
end
redis.call('ZADD', KEYS[3], 0, ARGV[1])
redis.call('ZADD', KEYS[4], 'NX', seq, ARGV[1])
return 1
"""

# KEYS: item, ns index, namespaces, nsorder; ARGV: namespace, key
DELETE = """
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
if redis.call('ZCARD', KEYS[2]) == 0 then
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('ZREM', KEYS[4], ARGV[1])
end
return 1
"""

# KEYS: ns index, namespaces, nsorder, item 1..n; ARGV: namespace, key 1..n
# Drops the index entries of items that are gone (expired); the namespace when empty.
PRUNE = """
local n = 0
for i = 4, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    n = n + redis.call('ZREM', KEYS[1], ARGV[i - 2])
  end
end
if redis.call('ZCARD', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
end
return n
"""

# KEYS: namespaces, nsorder; ARGV: store key prefix, namespace 1..n
# Returns the namespaces holding at least one live item; forgets the others (and the index
# entries of gone items it met on the way). Plain Redis only: it builds key names itself.
LIVE = """
local live = {}
for i = 2, #ARGV do
  local ns = ARGV[i]
  local index = ARGV[1] .. 'ns:' .. ns
  local found = false
  while not found do
    local members = redis.call('ZRANGE', index, 0, 63)
    if #members == 0 then break end
    for _, m in ipairs(members) do
      if redis.call('EXISTS', ARGV[1] .. 'item:' .. ns .. '\\0' .. m) == 1 then
        found = true
        break
      end
      redis.call('ZREM', index, m)
    end
  end
  if found then
    live[#live + 1] = ns
  else
    redis.call('ZREM', KEYS[1], ns)
    redis.call('ZREM', KEYS[2], ns)
  end
end
return live
"""

# KEYS: item, ns index. Renews the item's TTL (if it has one) and keeps the index's expiry
# no earlier than it.
REFRESH = """
local t = redis.call('HGET', KEYS[1], 't')
if not t or t == '' then return 0 end
local ms = tonumber(t)
redis.call('PEXPIRE', KEYS[1], ms)
local pttl = redis.call('PTTL', KEYS[2])
if pttl >= 0 and pttl < ms then redis.call('PEXPIRE', KEYS[2], ms) end
return 1
"""

# KEYS: item, ns index; ARGV: refresh ("1"/"0"). The item's fields v, c, u, t (false when
# gone), its TTL renewed as REFRESH does.
GET = """
local f = redis.call('HMGET', KEYS[1], 'v', 'c', 'u', 't')
if not f[1] then return false end
if ARGV[1] == '1' and f[4] and f[4] ~= '' then
  local ms = tonumber(f[4])
  redis.call('PEXPIRE', KEYS[1], ms)
  local pttl = redis.call('PTTL', KEYS[2])
  if pttl >= 0 and pttl < ms then redis.call('PEXPIRE', KEYS[2], ms) end
end
return f
"""

# KEYS: ns index; ARGV: item key prefix (``…item:{namespace}\\0``), low score (exclusive
# bound as ZRANGE takes it), count. A page of the namespace in insertion order as one JSON
# text (one reply to parse, not six per item): [[key, score, value, created, updated,
# ttl], …], value null for an item that is gone. Values are stored as JSON: embedded as is.
PAGE_READ = """
local page = redis.call('ZRANGE', KEYS[1], ARGV[2], '+inf', 'BYSCORE', 'LIMIT', 0, ARGV[3],
  'WITHSCORES')
local out = {}
for i = 1, #page, 2 do
  local f = redis.call('HMGET', ARGV[1] .. page[i], 'v', 'c', 'u', 't')
  out[#out + 1] = '[' .. cjson.encode(page[i]) .. ',' .. cjson.encode(page[i + 1]) .. ','
    .. (f[1] or 'null') .. ',' .. cjson.encode(f[2] or '') .. ',' .. cjson.encode(f[3] or '')
    .. ',' .. cjson.encode(f[4] or '') .. ']'
end
return '[' .. table.concat(out, ',') .. ']'
"""


def _ns(namespace: tuple[str, ...]) -> str:
    return ".".join(namespace)


def _labels(encoded: bytes | str) -> tuple[str, ...]:
    text = encoded.decode() if isinstance(encoded, bytes) else encoded
    return tuple(text.split(".")) if text else ()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


# filters: the semantics of LangGraph's InMemoryStore -----------------------------------
def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _apply_operator(value: Any, operator: str, operand: Any) -> bool:
    if operator == "$eq":
        return bool(value == operand)
    if operator == "$ne":
        return bool(value != operand)
    if operator not in ("$gt", "$gte", "$lt", "$lte"):
        raise InvalidInput(
            f"unsupported filter operator {operator!r}: use $eq, $ne, $gt, $gte, $lt or $lte"
        )
    left, right = _number(value), _number(operand)
    if left is None or right is None:
        return False
    if operator == "$gt":
        return left > right
    if operator == "$gte":
        return left >= right
    if operator == "$lt":
        return left < right
    return left <= right


def _compare(value: Any, wanted: Any) -> bool:
    if isinstance(wanted, dict):
        if any(str(k).startswith("$") for k in wanted):
            return all(_apply_operator(value, op, operand) for op, operand in wanted.items())
        if not isinstance(value, dict):
            return False
        return all(_compare(value.get(k), v) for k, v in wanted.items())
    if isinstance(wanted, list | tuple):
        return (
            isinstance(value, list | tuple)
            and len(value) == len(wanted)
            and all(_compare(v, w) for v, w in zip(value, wanted, strict=True))
        )
    return bool(value == wanted)


def matches(value: dict[str, Any], filter: dict[str, Any] | None) -> bool:
    """Whether an item's ``value`` passes a search ``filter`` (``InMemoryStore``'s rules;
    a range operator on something that is not a number does not match)."""
    if not filter:
        return True
    return all(_compare(value.get(k), wanted) for k, wanted in filter.items())


def _namespace_matches(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    path = tuple(condition.path)
    if len(namespace) < len(path):
        return False
    if condition.match_type == "prefix":
        pairs = zip(namespace, path, strict=False)
    elif condition.match_type == "suffix":
        pairs = zip(reversed(namespace), reversed(path), strict=False)
    else:
        raise InvalidInput(f"unsupported namespace match type {condition.match_type!r}")
    return all(p == "*" or n == p for n, p in pairs)


def _check_window(limit: int, offset: int) -> None:
    if limit < 0 or offset < 0:
        raise InvalidInput(f"limit and offset must be >= 0 (got {limit}, {offset})")


class RedisStore(BaseStore):
    """LangGraph's ``BaseStore`` on plain Redis (see the module doc for keys and limits).

    Args:
        client: a ``redis.asyncio.Redis`` with ``decode_responses=False``.
        prefix: prefix of every key (``"gs:"``): several deployments can share one Redis.
        ttl: LangGraph's ``TTLConfig`` (``default_ttl`` minutes, ``refresh_on_read``).
        index: must be ``None``: vector search needs Redis modules.
    """

    supports_ttl = True

    def __init__(
        self,
        client: Redis,
        prefix: str,
        *,
        ttl: dict[str, Any] | None = None,
        index: dict[str, Any] | None = None,
    ) -> None:
        if index is not None:
            raise InvalidInput(NO_VECTORS)
        self.client = client
        self.prefix = prefix
        self.keys = f"{prefix}store:"
        self.ttl_config = ttl if ttl is not None else {"refresh_on_read": True}  # type: ignore[assignment]
        self._put = client.register_script(PUT)
        self._delete = client.register_script(DELETE)
        self._prune = client.register_script(PRUNE)
        self._live_ns = client.register_script(LIVE)
        self._refresh = client.register_script(REFRESH)
        self._get_item = client.register_script(GET)
        self._page = client.register_script(PAGE_READ)
        self._sweeper: asyncio.Task[None] | None = None
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None

    # key names -----------------------------------------------------------------------
    def _item_key(self, ns: str, key: str) -> str:
        return f"{self.keys}item:{ns}\0{key}"

    def _index_key(self, ns: str) -> str:
        return f"{self.keys}ns:{ns}"

    @property
    def _namespaces_key(self) -> str:
        return f"{self.keys}namespaces"

    @property
    def _order_key(self) -> str:
        return f"{self.keys}nsorder"

    # batches -------------------------------------------------------------------------
    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Run ``ops`` in order; reads see the state before the batch's writes, and of two
        writes of one item the last wins (as ``InMemoryStore``)."""
        self._loop = asyncio.get_running_loop()
        ops = list(ops)
        results: list[Result] = []
        puts: dict[tuple[tuple[str, ...], str], PutOp] = {}
        for op in ops:
            validate_op_namespace(op)
            if isinstance(op, GetOp):
                results.append(await self._get(op))
            elif isinstance(op, SearchOp):
                results.append(await self._search(op))
            elif isinstance(op, ListNamespacesOp):
                results.append(await self._list_namespaces(op))
            elif isinstance(op, PutOp):
                if not op.namespace:
                    raise InvalidInput("a store item needs a namespace (a tuple of labels)")
                puts[(tuple(op.namespace), op.key)] = op
                results.append(None)
            else:
                raise InvalidInput(f"unknown store operation {type(op).__name__}")
        for op in puts.values():
            await self._write(op)
        return results

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Sync ``abatch``, bridged onto the event loop the store runs on, from another
        thread (the Redis client belongs to that loop)."""
        ops = list(ops)
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        loop = self._loop
        if loop is None or loop.is_closed() or not loop.is_running() or running is loop:
            raise asyncio.InvalidStateError(_LOOP_ERROR)
        return asyncio.run_coroutine_threadsafe(self.abatch(ops), loop).result()

    # writes --------------------------------------------------------------------------
    async def _write(self, op: PutOp) -> None:
        ns = _ns(tuple(op.namespace))
        item, index = self._item_key(ns, op.key), self._index_key(ns)
        if op.value is None:
            await self._delete(
                keys=[item, index, self._namespaces_key, self._order_key], args=[ns, op.key]
            )
            return
        try:
            value = json.dumps(dict(op.value), separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"a store value must be JSON: {exc}") from exc
        ttl = op.ttl
        if ttl is not None and not (isinstance(ttl, int | float) and ttl > 0):
            raise InvalidInput(f"ttl is minutes > 0 or None (got {ttl!r})")
        ttl_ms = 0 if ttl is None else max(1, int(ttl * 60_000))
        await self._put(
            keys=[item, index, self._namespaces_key, self._order_key, f"{self.keys}seq"],
            args=[ns, op.key, value, datetime.now(UTC).isoformat(), ttl_ms],
        )

    # reads ---------------------------------------------------------------------------
    @staticmethod
    def _item(
        namespace: tuple[str, ...], key: str, value: dict[str, Any], created: Any, updated: Any
    ) -> SearchItem:
        return SearchItem(
            namespace=namespace,
            key=key,
            value=value,
            created_at=datetime.fromisoformat(_text(created)),
            updated_at=datetime.fromisoformat(_text(updated)),
        )

    async def _refresh_items(self, ns_keys: Sequence[tuple[str, str]]) -> None:
        if not ns_keys:
            return
        async with self.client.pipeline(transaction=False) as pipe:
            for ns, key in ns_keys:
                await self._refresh(
                    keys=[self._item_key(ns, key), self._index_key(ns)], client=pipe
                )
            await pipe.execute()

    async def _get(self, op: GetOp) -> Item | None:
        ns = _ns(tuple(op.namespace))
        fields = await self._get_item(
            keys=[self._item_key(ns, op.key), self._index_key(ns)],
            args=["1" if op.refresh_ttl else "0"],
        )
        if not fields:
            return None
        return Item(
            namespace=tuple(op.namespace),
            key=op.key,
            value=json.loads(fields[0]),
            created_at=datetime.fromisoformat(_text(fields[1])),
            updated_at=datetime.fromisoformat(_text(fields[2])),
        )

    async def _namespaces_under(self, prefix: tuple[str, ...]) -> list[str]:
        """The namespaces listed under ``prefix`` (itself included), from the lex index."""
        if prefix:
            lead = _ns(prefix).encode()
            raw = await self.client.zrangebylex(
                self._namespaces_key, b"[" + lead, b"(" + lead + b"\xff"
            )
        else:
            raw = await self.client.zrangebylex(self._namespaces_key, b"-", b"+")
        n = len(prefix)
        return [_text(r) for r in raw if _labels(r)[:n] == prefix]

    async def _search(self, op: SearchOp) -> list[SearchItem]:
        if op.query:
            raise InvalidInput(NO_VECTORS)
        _check_window(op.limit, op.offset)
        namespaces = await self._namespaces_under(tuple(op.namespace_prefix))
        if not namespaces:
            return []
        scores = await self.client.zmscore(self._order_key, namespaces)
        ordered = [
            ns
            for _, ns in sorted(
                zip(scores, namespaces, strict=True),
                key=lambda p: (p[0] is None, p[0] or 0.0, p[1]),
            )
        ]
        want = op.offset + op.limit
        found: list[tuple[str, SearchItem, bool]] = []
        for ns in ordered:
            if len(found) >= want:
                break
            await self._search_namespace(ns, op.filter, want, found)
        page = found[op.offset : op.offset + op.limit]
        if op.refresh_ttl:
            await self._refresh_items([(ns, item.key) for ns, item, expiring in page if expiring])
        return [item for _, item, _ in page]

    async def _search_namespace(
        self,
        ns: str,
        filter: dict[str, Any] | None,
        want: int,
        found: list[tuple[str, SearchItem, bool]],
    ) -> None:
        """Append the items of ``ns`` that pass ``filter`` to ``found`` (with whether they
        have a TTL), in insertion order, until it holds ``want``; index entries of expired
        items are dropped on the way. One script call per page."""
        index, labels = self._index_key(ns), _labels(ns)
        item_prefix = self._item_key(ns, "")
        low = "-inf"
        gone: list[str] = []
        while len(found) < want:
            count = PAGE if filter else max(1, min(PAGE, want - len(found)))
            rows = json.loads(await self._page(keys=[index], args=[item_prefix, low, count]))
            if not rows:
                break
            for key, score, value, created, updated, t in rows:
                low = f"({score}"
                if value is None:
                    gone.append(key)
                    continue
                if matches(value, filter):
                    found.append((ns, self._item(labels, key, value, created, updated), bool(t)))
                    if len(found) >= want:
                        break
            if len(rows) < count:
                break
        if gone:
            await self._prune_index(ns, gone)

    async def _prune_index(self, ns: str, keys: Sequence[str]) -> int:
        removed = 0
        for start in range(0, len(keys), PAGE):
            chunk = list(keys[start : start + PAGE])
            removed += int(
                await self._prune(
                    keys=[
                        self._index_key(ns),
                        self._namespaces_key,
                        self._order_key,
                        *(self._item_key(ns, k) for k in chunk),
                    ],
                    args=[ns, *chunk],
                )
            )
        return removed

    async def _live_namespaces(self, namespaces: Sequence[str]) -> list[str]:
        live: list[str] = []
        for start in range(0, len(namespaces), NS_CHUNK):
            chunk = list(namespaces[start : start + NS_CHUNK])
            answer = await self._live_script(chunk)
            live.extend(_text(ns) for ns in answer)
        return live

    async def _live_script(self, chunk: list[str]) -> list[bytes]:
        result = await self._live_ns(
            keys=[self._namespaces_key, self._order_key], args=[self.keys, *chunk]
        )
        return list(result)

    async def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        _check_window(op.limit, op.offset)
        conditions = tuple(op.match_conditions or ())
        lead: tuple[str, ...] = ()
        for condition in conditions:
            if condition.match_type == "prefix":
                path = tuple(condition.path)
                cut = path.index("*") if "*" in path else len(path)
                lead = path[:cut]
                break
        candidates = [
            ns
            for ns in await self._namespaces_under(lead)
            if all(_namespace_matches(c, _labels(ns)) for c in conditions)
        ]
        found = [_labels(ns) for ns in await self._live_namespaces(candidates)]
        if op.max_depth is not None:
            found = sorted({ns[: op.max_depth] for ns in found})
        else:
            found = sorted(found)
        return found[op.offset : op.offset + op.limit]

    # maintenance ---------------------------------------------------------------------
    async def sweep_ttl(self) -> int:
        """Drop the index entries of every expired item (and the namespaces left empty);
        returns how many entries went. Reads do this for what they touch; nothing needs it
        for correctness, it only bounds the indexes of a store nobody reads."""
        removed = 0
        listed: list[Any] = await self.client.zrange(self._namespaces_key, 0, -1)
        namespaces = [_text(ns) for ns in listed]
        for ns in namespaces:
            index = self._index_key(ns)
            low: float | str = "-inf"
            gone: list[str] = []
            while True:
                page: list[Any] = await self.client.zrange(
                    index, low, "+inf", byscore=True, offset=0, num=PAGE, withscores=True
                )
                if not page:
                    break
                keys = [_text(member) for member, _ in page]
                low = f"({page[-1][1]!r}"
                async with self.client.pipeline(transaction=False) as pipe:
                    for key in keys:
                        pipe.exists(self._item_key(ns, key))
                    alive = await pipe.execute()
                gone.extend(k for k, a in zip(keys, alive, strict=True) if not a)
            removed += await self._prune_index(ns, gone)
            await self._live_namespaces([ns])  # an index that expired whole
        return removed

    async def start_ttl_sweeper(
        self, sweep_interval_minutes: float | None = None
    ) -> asyncio.Task[None]:
        """Run :meth:`sweep_ttl` every ``sweep_interval_minutes`` (else the TTL config's
        ``sweep_interval_minutes``, else 5) until :meth:`stop_ttl_sweeper`; as LangGraph's
        SQL stores, which the server starts the same way."""
        if self._sweeper is not None and not self._sweeper.done():
            return self._sweeper
        config: dict[str, Any] = dict(self.ttl_config or {})
        minutes = float(sweep_interval_minutes or config.get("sweep_interval_minutes") or 5)

        async def sweep_loop() -> None:
            while True:
                await asyncio.sleep(minutes * 60)
                try:
                    await self.sweep_ttl()
                except Exception as exc:  # Redis away for a while: sweep next time
                    log.warning("store: sweeping expired items' index entries failed (%s)", exc)

        self._sweeper = asyncio.create_task(sweep_loop(), name="graph-sessions-redis-store-ttl")
        return self._sweeper

    async def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stop the sweeper; ``False`` when it did not stop within ``timeout`` seconds."""
        task, self._sweeper = self._sweeper, None
        if task is None or task.done():
            return True
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=timeout)
        return task in done


__all__ = ["NO_VECTORS", "RedisStore", "matches"]
