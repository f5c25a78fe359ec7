"""Encryption keys: parsing the ``encryption_key`` setting into a :class:`KeyRing`.

A setting names one or several 256-bit keys, newest first, separated by commas or
newlines: ``"k2:<base64>,k1:<base64>"``. Each key is 32 bytes written as base64 (standard
or URL-safe) or 64 hex digits, optionally prefixed by its id and a colon; a key without an
id gets one derived from it (``sha256(key)[:8]`` in hex), so the same key always has the
same id. The value may also be the path of a file holding the same text (one key per
line, ``#`` comments allowed). The newest key encrypts; every key decrypts what names it.
``graph-sessions keygen`` (or :func:`generate_key`) prints a new key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from graph_sessions.errors import ConfigError

KEY_BYTES = 32
#: the environment variable a manager reads its keys from when none is passed
ENCRYPTION_KEY_VARIABLE = "GRAPH_SESSIONS_ENCRYPTION_KEY"
_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def generate_key(key_id: str | None = None) -> str:
    """A new random key as the setting writes it (``id:base64``)."""
    key = secrets.token_bytes(KEY_BYTES)
    return f"{key_id or derive_key_id(key)}:{base64.b64encode(key).decode()}"


def derive_key_id(key: bytes) -> str:
    """The id a key without one gets: the first 8 hex digits of its SHA-256."""
    return hashlib.sha256(key).hexdigest()[:8]


def _decode_key(text: str, where: str) -> bytes:
    raw: bytes | None = None
    if re.fullmatch(r"[0-9a-fA-F]{64}", text):
        raw = bytes.fromhex(text)
    else:
        padded = text + "=" * (-len(text) % 4)
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                raw = decode(padded.encode("ascii"))
            except (binascii.Error, ValueError, UnicodeEncodeError):
                continue
            if len(raw) == KEY_BYTES:
                break
    if raw is None or len(raw) != KEY_BYTES:
        raise ConfigError(
            f"encryption key {where} is not a 256-bit key: write 32 bytes as base64 or 64 "
            "hex digits (graph-sessions keygen prints one)"
        )
    return raw


@dataclass(frozen=True)
class KeyRing:
    """Keys by id; :attr:`current` encrypts, any of :attr:`keys` decrypts."""

    current: str
    keys: Mapping[str, bytes]

    def __post_init__(self) -> None:
        if self.current not in self.keys:
            raise ConfigError(f"the current encryption key {self.current!r} is not in the ring")

    @property
    def current_key(self) -> bytes:
        """The key new data is encrypted with."""
        return self.keys[self.current]

    def ids(self) -> list[str]:
        """Every key id, the current one first."""
        return [self.current, *(k for k in self.keys if k != self.current)]

    def __repr__(self) -> str:  # never print key bytes
        return f"KeyRing(current={self.current!r}, ids={self.ids()!r})"

    @classmethod
    def from_entries(cls, entries: Iterable[tuple[str, bytes]]) -> KeyRing:
        """A ring of ``(id, key)`` pairs, newest first."""
        keys: dict[str, bytes] = {}
        for key_id, key in entries:
            if not _ID.match(key_id):
                raise ConfigError(
                    f"encryption key id {key_id!r} must be 1-64 letters, digits, '_', '.' or '-'"
                )
            if len(key) != KEY_BYTES:
                raise ConfigError(f"encryption key {key_id!r} must be {KEY_BYTES} bytes")
            if key_id in keys and keys[key_id] != key:
                raise ConfigError(f"two different encryption keys have the id {key_id!r}")
            keys.setdefault(key_id, key)
        if not keys:
            raise ConfigError("the encryption key setting names no key")
        return cls(next(iter(keys)), keys)


def parse_keys(spec: str | bytes | KeyRing | None) -> KeyRing | None:
    """The ring a setting names (see the module doc); ``None`` or ``""`` → no encryption.

    Raises ``ConfigError`` naming what is wrong (never echoing key bytes)."""
    if spec is None or isinstance(spec, KeyRing):
        return spec
    if isinstance(spec, bytes):
        if len(spec) == KEY_BYTES:
            return KeyRing.from_entries([(derive_key_id(spec), spec)])
        spec = spec.decode("utf-8", "replace")
    text = spec.strip()
    if not text:
        return None
    if "\n" not in text and "," not in text:
        path = Path(os.path.expanduser(text))
        if path.is_file():
            text = path.read_text(encoding="utf-8")
        elif text.startswith(("/", "~", "./", "../")) and not _looks_like_key(text):
            raise ConfigError(f"encryption key: {text!r} is neither a key nor a readable key file")
    entries: list[tuple[str, bytes]] = []
    for n, line in enumerate(re.split(r"[,\n]", text), 1):
        item = line.split("#", 1)[0].strip()
        if not item:
            continue
        key_id, sep, body = item.rpartition(":")
        where = f"#{n}" + (f" ({key_id!r})" if sep else "")
        key = _decode_key(body.strip(), where)
        entries.append((key_id.strip() if sep else derive_key_id(key), key))
    return KeyRing.from_entries(entries)


def _looks_like_key(text: str) -> bool:
    body = text.rpartition(":")[2]
    return bool(re.fullmatch(r"[A-Za-z0-9+/_=-]{43,88}", body))
