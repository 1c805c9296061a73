"""Posting formats whose values the codec stores as numbers, not pickles.

Whoosh's ``Positions`` format encodes a posting's positions as a pickled list
of deltas; the codec would have to unpickle every one to pack them. Here a
posting's value is its positions as little-endian ``u4`` (what the analysis
produces and the codec packs in one ``frombuffer`` per term), and the
format's decoders read that, so Whoosh's phrase and span matching still work.
"""

from __future__ import annotations

import numpy as np
from whoosh import formats

POSITION = np.dtype("<u4")


class PackedPositions(formats.Positions):
    """Positions of a posting as little-endian ``u4`` (a value's length says its frequency)."""

    def encode(self, poslist: list[int]) -> bytes:
        return np.asarray(poslist, dtype=POSITION).tobytes()

    def decode_positions(self, valuestring: bytes) -> list[int]:
        return np.frombuffer(valuestring, dtype=POSITION).tolist()

    def decode_frequency(self, valuestring: bytes) -> int:
        return len(valuestring) // POSITION.itemsize

    def combine(self, vs: list[bytes]) -> bytes:
        return self.encode(sorted({p for v in vs for p in self.decode_positions(v)}))
