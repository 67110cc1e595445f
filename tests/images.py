"""Real, tiny images for tests, made with the stdlib (no Pillow).

A PNG signature followed by zeros is not an image: Bluesky's PDS reads the PNG's chunks at upload and
answers such bytes with a 500 (so does :mod:`relay.testing.bluesky_emulator`). :func:`png` makes a
valid one: IHDR, IDAT (zlib-compressed RGB rows) and IEND, each with its CRC.
"""

from __future__ import annotations

import struct
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int = 4, height: int = 3, rgb: tuple[int, int, int] = (0, 133, 255)) -> bytes:
    """A ``width`` x ``height`` PNG of one colour (8-bit RGB)."""
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(rows)) + _chunk(b"IEND", b""))


PNG = png()
"""A 4 x 3 blue PNG (72 bytes)."""
