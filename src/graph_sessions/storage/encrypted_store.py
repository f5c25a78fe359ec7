"""Encryption at rest of a backend's store (LangGraph's ``BaseStore`` items): each item's
value is sealed whole, bound to its namespace and key, before it reaches the inner store;
reads open it. Namespaces, keys and timestamps stay readable (listing and TTL work on
them); a search that filters on values cannot look into sealed ones and is refused."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from langgraph.store.base import (
    BaseStore,
    Item,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)

from graph_sessions.crypto import KeyRing, aad_of, open_json, seal_json
from graph_sessions.errors import InvalidInput

#: the one field of a stored (sealed) value
FIELD = "__sealed__"


def store_aad(namespace: tuple[str, ...], key: str) -> bytes:
    return aad_of("store", key, *namespace)


class EncryptedStore(BaseStore):
    """``inner`` with every item value sealed by ``ring``."""

    def __init__(self, inner: BaseStore, ring: KeyRing) -> None:
        self.inner = inner
        self.ring = ring

    @property
    def supports_ttl(self) -> bool:
        return self.inner.supports_ttl

    @supports_ttl.setter
    def supports_ttl(self, value: bool) -> None:
        setattr(self.inner, "supports_ttl", value)  # noqa: B010

    @property
    def ttl_config(self) -> Any:
        return self.inner.ttl_config

    @ttl_config.setter
    def ttl_config(self, value: Any) -> None:
        setattr(self.inner, "ttl_config", value)  # noqa: B010

    def __getattr__(self, name: str) -> Any:
        # the inner store's own extras: sweep_ttl, start_ttl_sweeper, stop_ttl_sweeper...
        if name in ("inner", "ring"):
            raise AttributeError(name)
        return getattr(self.inner, name)

    def _op(self, op: Op) -> Op:
        if isinstance(op, PutOp) and op.value is not None:
            if op.index:
                raise InvalidInput("a store item cannot be indexed for search when encrypted")
            sealed = {FIELD: seal_json(self.ring, dict(op.value), store_aad(op.namespace, op.key))}
            return PutOp(op.namespace, op.key, sealed, index=False, ttl=op.ttl)
        if isinstance(op, SearchOp) and (op.filter or op.query):
            raise InvalidInput(
                "store values are encrypted at rest: search by namespace only (no filter, no query)"
            )
        return op

    def _open(self, item: Any) -> Any:
        if isinstance(item, list):
            return [self._open(i) for i in item]
        if not isinstance(item, Item):  # namespaces, None
            return item
        value = item.value
        if set(value) == {FIELD}:
            value = open_json(self.ring, value[FIELD], store_aad(item.namespace, item.key))
        if isinstance(item, SearchItem):
            return SearchItem(
                item.namespace, item.key, value, item.created_at, item.updated_at, item.score
            )
        return Item(
            value=value,
            key=item.key,
            namespace=item.namespace,
            created_at=item.created_at,
            updated_at=item.updated_at,
        )

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """The inner store's ``batch`` with values sealed and opened."""
        return [self._open(r) for r in self.inner.batch([self._op(op) for op in ops])]

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """The inner store's ``abatch`` with values sealed and opened."""
        results = await self.inner.abatch([self._op(op) for op in ops])
        return [self._open(r) for r in results]


__all__ = ["EncryptedStore"]
