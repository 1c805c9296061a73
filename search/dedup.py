"""Near-duplicate detection: 64-bit simhash over character shingles.

Reprints of one story by different sources share nearly all their text. At
index time every article gets ``simhash(text)``; at query time hits whose
signatures differ in at most ``MAX_DISTANCE`` bits are collapsed into one hit
that lists the others as "also reported by". Signatures of very short texts
say little, so texts under ``MIN_SHINGLES`` shingles get no signature.
"""

from __future__ import annotations

import re
import zlib

SHINGLE = 4
MIN_SHINGLES = 24
MAX_DISTANCE = 6
_KEEP = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fffa-z0-9]+")


def simhash(normalized: str) -> int | None:
    """Return the 64-bit simhash of normalized text, or None when too short."""
    text = "".join(_KEEP.findall(normalized))
    n = len(text) - SHINGLE + 1
    if n < MIN_SHINGLES:
        return None
    buf = text.encode("utf-32-le")
    width = SHINGLE * 4
    hashes = {
        zlib.crc32(buf[4 * i : 4 * i + width]) | (zlib.crc32(buf[4 * i : 4 * i + width], 0x9E3779B9) << 32)
        for i in range(n)
    }
    # Count, for each of the 64 bit positions, how many shingle hashes set it:
    # pack all hashes into one big integer and popcount it under a mask.
    packed = int.from_bytes(b"".join(h.to_bytes(8, "little") for h in hashes), "little")
    total = len(hashes)
    ones = int.from_bytes(b"\x01\x00\x00\x00\x00\x00\x00\x00" * total, "little")
    signature = 0
    for j in range(64):
        if ((packed >> j) & ones).bit_count() * 2 > total:
            signature |= 1 << j
    return signature


def distance(a: int, b: int) -> int:
    """Hamming distance of two signatures."""
    return (a ^ b).bit_count()


def near_duplicates(a: int | None, b: int | None, max_distance: int = MAX_DISTANCE) -> bool:
    """True when both signatures exist and differ in at most ``max_distance`` bits."""
    return a is not None and b is not None and distance(a, b) <= max_distance
