"""Encryption at rest applied to a backend's checkpointer (``Backend.use_encryption``)."""

from __future__ import annotations

from typing import Any

from graph_sessions.checkpoint.base import SaverBase
from graph_sessions.crypto import EncryptedSerde, KeyRing


def encrypt_saver(saver: Any, ring: KeyRing | None) -> None:
    """Make ``saver`` seal what it stores with ``ring`` (``None``: leave it as it is).

    Our savers seal in their storage engine (each stored value and list tail on its own,
    so the incremental storage is kept); any other saver (LangGraph's, kept for databases
    it wrote) gets an ``EncryptedSerde`` around its serializer."""
    if ring is None:
        return
    if isinstance(saver, SaverBase):
        saver.engine.cipher = ring
    else:
        saver.serde = EncryptedSerde(ring, saver.serde)
