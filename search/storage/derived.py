"""Stored texts kept once: a stored field as a patch on a column that holds its normalized form.

The index keeps each body twice over: as stored text (for snippets and the
article page) and as its normalized form in a bytes column (for the
query-as-written boost and exact phrases). Normalizing maps most characters
to themselves; when it maps every character to exactly one, the stored body
is kept as a patch (the positions and original characters where the two
differ) and rebuilt from the column when read. A text whose normalized form
has another length is stored whole.
"""

from __future__ import annotations

from array import array
from itertools import accumulate
from typing import Any

TAG = "~patch"


def make_patch(text: str, normalized: str) -> tuple[str, str, bytes, str] | None:
    """``text`` as a patch on ``normalized``, or None when they differ in length."""
    if len(text) != len(normalized):
        return None
    at = [i for i, (a, b) in enumerate(zip(text, normalized, strict=True)) if a != b]
    deltas = [b - a for a, b in zip([0, *at], at, strict=False)]
    code = "H" if max(deltas, default=0) < 0x10000 else "I"
    return (TAG, code, array(code, deltas).tobytes(), "".join(text[i] for i in at))


def is_patch(value: Any) -> bool:
    return type(value) is tuple and len(value) == 4 and value[0] == TAG


def apply_patch(normalized: str, patch: tuple[str, str, bytes, str]) -> str:
    """The text ``make_patch`` was given."""
    _, code, raw, chars = patch
    parts = []
    last = 0
    for at, char in zip(accumulate(array(code, raw)), chars, strict=True):
        parts.append(normalized[last:at])
        parts.append(char)
        last = at + 1
    parts.append(normalized[last:])
    return "".join(parts)
