"""Encryption at rest applied to a backend's checkpointer (``Backend.use_encryption``)."""

from __future__ import annotations

import json
from typing import Any

from graph_sessions.checkpoint.base import SaverBase
from graph_sessions.crypto import EncryptedSerde, KeyRing
from graph_sessions.errors import BackendError, ConfigError
from graph_sessions.storage.backend import Backend

#: the database-wide setting that records that a database is encrypted (the key ids seen)
ENCRYPTION_SETTING = "encryption"


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


async def check_encryption_marker(backend: Backend, ring: KeyRing | None) -> None:
    """A keyed process records in the database that it is encrypted (the key ids it has
    seen, ``Backend.write_setting``); a process without a key opening such a database gets
    a ``ConfigError`` telling the person to pass the key, instead of writing plaintext
    into it and failing on every sealed read. Called by the manager once its storage is
    open; a database that cannot take the write (read-only) is left unmarked."""
    recorded = await backend.read_setting(ENCRYPTION_SETTING)
    ids: list[str] = []
    if recorded:
        try:
            ids = [str(i) for i in json.loads(recorded).get("key_ids", [])]
        except (ValueError, AttributeError):
            ids = []
    if ring is None:
        if recorded:
            named = ", ".join(repr(i) for i in ids) or "unknown"
            raise ConfigError(
                f"this database is encrypted at rest (key ids seen: {named}); pass its "
                "encryption keys (encryption_key / GRAPH_SESSIONS_ENCRYPTION_KEY): without "
                "them nothing sealed can be read, and what this process wrote would be stored "
                "in the clear"
            )
        return
    seen = [*ids, *(i for i in ring.ids() if i not in ids)]
    if recorded and seen == ids:
        return
    value = json.dumps({"on": True, "key_ids": seen})
    for attempt in range(2):  # two processes creating the setting at once: one retry
        try:
            await backend.write_setting(ENCRYPTION_SETTING, value)
            return
        except BackendError:
            if await backend.write_problem() is not None:
                return  # read-only storage: leave it unmarked
            if attempt:
                raise
        except Exception:  # e.g. Postgres's race creating the table
            if attempt:
                raise
