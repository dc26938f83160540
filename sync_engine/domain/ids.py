"""Identifiers the engine makes."""

from __future__ import annotations

import os
from collections.abc import Iterator


def random_ids(count: int) -> Iterator[str]:
    """``count`` random (version 4) UUIDs as text, from one read of the system's random
    source (a read per id is most of the cost of ``uuid.uuid4`` in a cold sync)."""
    pool = bytearray(os.urandom(16 * count))
    for start in range(0, 16 * count, 16):
        pool[start + 6] = (pool[start + 6] & 0x0F) | 0x40  # version 4
        pool[start + 8] = (pool[start + 8] & 0x3F) | 0x80  # RFC 4122 variant
        raw = pool[start : start + 16].hex()
        yield f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"
