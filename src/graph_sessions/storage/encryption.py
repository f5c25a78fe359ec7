"""Encryption at rest applied to a backend's checkpointer (``Backend.use_encryption``)."""

from __future__ import annotations

from typing import Any

from graph_sessions.checkpoint.base import SaverBase
from graph_sessions.crypto import EncryptedSerde, KeyRing
from graph_sessions.errors import BackendError


def encrypt_saver(saver: Any, ring: KeyRing | None) -> None:
    """Make ``saver`` seal what it stores with ``ring`` (``None``: leave it as it is).

    Our SQL savers seal in their storage engine (each stored value and list tail on its
    own, so the incremental storage is kept; checkpoint metadata values but LangGraph's own
    keys); our Redis saver gets an ``EncryptedSerde`` (its records, metadata included, all
    go through ``serde``). LangGraph's own savers are refused: they store some values and
    the metadata outside ``serde``, in the clear."""
    if ring is None:
        return
    if isinstance(saver, SaverBase):
        saver.engine.cipher = ring
    elif getattr(saver, "seals_through_serde", False):
        saver.serde = EncryptedSerde(ring, saver.serde)
    else:
        raise BackendError(
            f"encryption at rest needs graph-sessions' checkpoint saver, not "
            f"{type(saver).__name__} (this database holds LangGraph's checkpoints, or "
            "?checkpointer=langgraph was asked for): LangGraph's savers keep some values in "
            "the clear"
        )
