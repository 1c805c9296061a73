"""The index schema: which fields exist, how they are analysed and stored.

``NewsText`` is a Whoosh field whose tokens come from ``search.analysis``.
It accepts either text (analysed on the spot) or ``Postings`` computed ahead
of time — the indexer analyses articles in worker processes and hands the
writer ready postings, so the writer's process only writes.
"""

from __future__ import annotations

import sys
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from whoosh import columns, fields, formats

from .analysis import Analyzer, Tok, WhooshTokenizer
from .storage import PackedPositions

# Text fields and their token streams: (field, stream).
WORD_FIELDS = ("title", "lead", "body", "meta")
BIGRAM_FIELDS = ("title_bg", "body_bg")


class Postings(tuple):
    """Pre-analysed ``(bytes, freq, weight, value bytes or None)`` items for one field value."""


class NewsText(fields.FieldType):
    """A text field analysed by our Chinese analysis (``words`` or ``bigrams``)."""

    def __init__(self, stream: str, stored: bool = False, positions: bool = False) -> None:
        self.stream = stream
        # Only a field whose exact phrases Whoosh lines up keeps positions (the
        # title's bigrams); the body's phrases are checked on its normalized
        # text (``Corpus.phrase_docs``), so its bigrams keep frequencies, like
        # the word fields (less to write, to read and to keep).
        self.format = PackedPositions() if positions else formats.Frequency()
        self.vector = None
        self.scorable = True
        self.stored = stored
        self.unique = False
        self.multitoken_query = "default"
        self.spelling = False
        self.sortable_type = None
        self.column_type = None
        self._analyzer: Analyzer | None = None

    # The analyzer is bound when an index is opened, never pickled into the
    # index's table of contents (it holds a segmenter and large tables).
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_analyzer"] = None
        state.pop("analyzer", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("_analyzer", None)

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and other.stream == self.stream  # type: ignore[attr-defined]
            and other.stored == self.stored  # type: ignore[attr-defined]
            and type(other.format) is type(self.format)  # type: ignore[attr-defined]
        )

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.stream, self.stored, type(self.format).__name__))

    def bind(self, analyzer: Analyzer) -> None:
        self._analyzer = analyzer

    @property
    def analyzer(self) -> WhooshTokenizer:  # Whoosh's protocol, for query parsing and highlights
        if self._analyzer is None:
            raise RuntimeError("NewsText field used before an analyzer was bound")
        return WhooshTokenizer(self._analyzer, "bigrams" if self.stream == "bigrams" else "words")

    def postings(self, tokens: list[Tok]) -> Postings:
        """Encode tokens as postings: one (term, freq, weight, value) per term.

        The value is what the field's format encodes: None for word fields
        (the weight is the frequency), the positions for bigram fields
        (``PackedPositions``; one-position lists, the most common, are encoded
        once and reused).
        """
        if not isinstance(self.format, formats.Positions):
            return self.counted(Counter(tok.text for tok in tokens))
        poses: dict[str, list[int]] = defaultdict(list)
        for tok in tokens:
            poses[tok.text].append(tok.pos)
        return self.positioned(poses)

    def counted(self, counts: Mapping[str, int]) -> Postings:
        """A word field's postings from each term's frequency (``Analyzer.word_counts``)."""
        return Postings([(w.encode("utf-8"), n, float(n), None) for w, n in counts.items()])

    def positioned(self, poses: Mapping[str, list[int]]) -> Postings:
        """A bigram field's postings from each term's positions (``Analyzer.bigram_positions``)."""
        encode = _encode_positions if _NATIVE_U4 else self.format.encode
        return Postings(
            [
                (w.encode("utf-8"), len(p), float(len(p)), _one_position(p[0]) if len(p) == 1 else encode(p))
                for w, p in poses.items()
            ]
        )

    def tokens(self, text: str) -> list[Tok]:
        assert self._analyzer is not None, "bind an analyzer first"
        if self.stream == "bigrams":
            return self._analyzer.bigrams(text)
        return self._analyzer.words(text)

    def index(self, value: Any, **kwargs: Any) -> Iterator[tuple[bytes, int, float, bytes]]:
        if isinstance(value, Postings):
            return iter(value)
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not text")
        return iter(self.postings(self.tokens(value)))

    def process_text(self, qstring: str, mode: str = "", **kwargs: Any) -> Iterator[str]:
        return (t.text for t in self.analyzer(qstring, mode=mode or "query"))

    def self_parsing(self) -> bool:
        return False


_NATIVE_U4 = sys.byteorder == "little" and array("I").itemsize == 4  # array("I") writes PackedPositions' bytes


def _encode_positions(poses: list[int]) -> bytes:
    """``PackedPositions().encode`` without numpy's per-call cost (on a little-endian machine)."""
    return array("I", poses).tobytes()


@lru_cache(maxsize=65536)
def _one_position(pos: int) -> bytes:
    return PackedPositions().encode([pos])


def build_schema() -> fields.Schema:
    """Return the news index schema."""
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        url=fields.STORED(),
        title=NewsText("words", stored=True),
        lead=NewsText("words", stored=True),
        body=NewsText("words", stored=True),
        meta=NewsText("words"),
        title_bg=NewsText("bigrams", positions=True),
        body_bg=NewsText("bigrams"),
        source=fields.ID(stored=True, sortable=True),
        authors=fields.KEYWORD(stored=True, commas=True, scorable=False),
        channel=fields.ID(stored=True, sortable=True),
        tags=fields.KEYWORD(stored=True, commas=True),
        published=fields.DATETIME(stored=True, sortable=True),
        year=fields.NUMERIC(int, stored=False, sortable=True),
        views=fields.NUMERIC(int, bits=64, stored=True, sortable=True),
        pages=fields.STORED(),
        extra=fields.STORED(),
        # Per-document columns that ranking reads for its top candidates
        # without decoding the stored article (search.corpus.IndexVersion.value):
        # the near-duplicate sketch, and the normalized title and body that
        # the query-as-written boost looks for the query in.
        signature=fields.COLUMN(columns.VarBytesColumn()),
        title_text=fields.COLUMN(columns.VarBytesColumn()),
        body_text=fields.COLUMN(columns.VarBytesColumn()),
    )


def bind_schema(schema: fields.Schema, analyzer: Analyzer) -> None:
    """Attach ``analyzer`` to every ``NewsText`` field of ``schema``."""
    for _name, field in schema.items():
        if isinstance(field, NewsText):
            field.bind(analyzer)
