"""Test images made without holding their pixels in memory: decompression bombs stay cheap to make."""

from __future__ import annotations

import functools
import struct
import zlib


@functools.cache  # a 13000×13000 one takes seconds to compress; tests share it
def png_bomb(width: int, height: int) -> bytes:
    """An all-black RGB PNG of width×height, streamed row by row (13000×13000 is about 0.5 MB)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\0" * (1 + 3 * width)  # filter byte, then the pixels
    packer = zlib.compressobj(9)
    parts = [packer.compress(row) for _ in range(height)]
    parts.append(packer.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")
