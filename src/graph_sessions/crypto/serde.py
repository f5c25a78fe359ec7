"""A checkpoint serializer that encrypts what another one produces, for savers that only
see bytes through ``serde`` (LangGraph's own savers, kept for files they wrote earlier).

``dumps_typed`` returns ``(type + "+gse", sealed bytes)``, the sealed bytes bound to the
inner type; ``loads_typed`` opens those and passes every other type (old plaintext rows)
to the inner serializer unchanged.
"""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.serde.base import SerializerProtocol
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from graph_sessions.crypto.cipher import open_bytes, seal
from graph_sessions.crypto.keys import KeyRing

SUFFIX = "+gse"


def seal_typed(ring: KeyRing, type_: str, data: bytes) -> tuple[str, bytes]:
    """A serialized ``(type, bytes)`` pair as :class:`EncryptedSerde` stores it: the bytes
    sealed with the ring's current key, bound to ``type_``, the type marked with
    :data:`SUFFIX`; empty bytes (a ``null`` or ``empty`` value) stay as they are, the type
    says as much as a ciphertext would."""
    if not data:
        return type_, data
    return type_ + SUFFIX, seal(ring, bytes(data), type_.encode())


class EncryptedSerde(SerializerProtocol):
    """``inner`` (LangGraph's ``JsonPlusSerializer`` by default) with its bytes sealed
    by the ring's current key."""

    def __init__(self, ring: KeyRing, inner: SerializerProtocol | None = None) -> None:
        self.ring = ring
        self.inner = inner or JsonPlusSerializer()

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        """Serialize with the inner serializer, then seal (:func:`seal_typed`)."""
        return seal_typed(self.ring, *self.inner.dumps_typed(obj))

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        """Open sealed bytes (``EncryptionError`` when they cannot be), then deserialize."""
        type_, raw = data
        if type_.endswith(SUFFIX):
            inner_type = type_[: -len(SUFFIX)]
            return self.inner.loads_typed(
                (inner_type, open_bytes(self.ring, raw, inner_type.encode()))
            )
        return self.inner.loads_typed((type_, raw))
