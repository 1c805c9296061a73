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
from typing import Any

import numpy as np
from whoosh.codec.whoosh3 import W3PerDocReader, W3PerDocWriter
from whoosh.columns import VarBytesColumn

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
    """The text ``make_patch`` was given: its characters put back where they differ, as code points with numpy
    (a body with a few hundred full-width marks: ~5 µs, not ~70 µs a character at a time)."""
    _, code, raw, chars = patch
    if not chars:
        return normalized
    points = np.frombuffer(normalized.encode("utf-32-le", "surrogatepass"), dtype="<u4").copy()
    at = np.cumsum(np.frombuffer(raw, dtype=np.dtype(code)), dtype=np.int64)
    if len(at) != len(chars) or (len(at) and at[-1] >= len(points)):
        raise ValueError("a stored text's patch does not fit its column")
    points[at] = np.frombuffer(chars.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    return points.tobytes().decode("utf-32-le", "surrogatepass")


class NewsPerDocWriter(W3PerDocWriter):
    """W3's per-document writer; a derived stored text is written as a patch on its column."""

    def __init__(self, codec: Any, storage: Any, segment: Any) -> None:
        super().__init__(codec, storage, segment)
        self._derived = codec.derived
        self._columns = set(codec.derived.values())
        self._column_values: dict[str, bytes] = {}

    def add_column_value(self, fieldname: str, columnobj: Any, value: Any) -> None:
        if fieldname in self._columns:
            self._column_values[fieldname] = value
        super().add_column_value(fieldname, columnobj, value)

    def finish_doc(self) -> None:
        stored = self._storedfields or {}  # W3's close() finishes a document even when none was started
        for name, column in self._derived.items():
            text, normalized = stored.get(name), self._column_values.get(column)
            if isinstance(text, str) and normalized is not None:
                patch = make_patch(text, normalized.decode("utf-8"))
                if patch is not None:
                    stored[name] = patch
        self._column_values.clear()
        super().finish_doc()


class NewsPerDocReader(W3PerDocReader):
    """W3's per-document reader; a derived stored text is rebuilt from its column."""

    def __init__(self, storage: Any, segment: Any, derived: dict[str, str]) -> None:
        super().__init__(storage, segment)
        self._derived = derived

    def stored_fields(self, docnum: int) -> dict[str, Any]:
        fields = super().stored_fields(docnum)
        for name, column in self._derived.items():
            if is_patch(fields.get(name)):
                reader = self._cached_reader(column, VarBytesColumn())
                fields[name] = apply_patch((reader[docnum] or b"").decode("utf-8"), fields[name])
        return fields
