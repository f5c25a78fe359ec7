"""Byte-level helpers for msgpack arrays, used to store a list as a base plus a new tail.

A msgpack array is a header (element count) followed by the encodings of its elements,
one after another; every encoding is self-delimiting. So if the element bytes of a new
list start with exactly the element bytes of a stored one, the new list *is* the stored
list plus the remaining elements, whatever reducer (or in-place mutation) produced it.
"""

from __future__ import annotations

import struct


def split_array(data: bytes) -> tuple[int, int] | None:
    """``(count, header_length)`` if ``data`` is a msgpack array, else ``None``."""
    if not data:
        return None
    first = data[0]
    if 0x90 <= first <= 0x9F:
        return first & 0x0F, 1
    if first == 0xDC and len(data) >= 3:
        return struct.unpack_from(">H", data, 1)[0], 3
    if first == 0xDD and len(data) >= 5:
        return struct.unpack_from(">I", data, 1)[0], 5
    return None


def array_header(count: int) -> bytes:
    """The msgpack header of an array of ``count`` elements."""
    if count < 16:
        return bytes((0x90 | count,))
    if count < 0x10000:
        return b"\xdc" + struct.pack(">H", count)
    return b"\xdd" + struct.pack(">I", count)
