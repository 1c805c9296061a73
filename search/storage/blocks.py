"""One term's postings as bytes: the codec's posting block, packed with numpy.

A block is a flags byte, then the document numbers as deltas (the first from
0) in the narrowest unsigned type that holds the largest, then the weights
(absent when all are 1, else the narrowest unsigned type, or ``f4`` when one
is not a whole number), then, for a field with positions, explicit
per-document position counts when they are not the weights, and every
document's positions as deltas (restarting at each document) in the
narrowest unsigned type. Every type is little-endian. The terms file knows a
block's start, end and document count, so a block carries no lengths.

Flags: bits 0-1 the type of the document deltas, bits 2-4 the weights' code,
bits 5-6 the positions' code (3: raw ``u4``, for positions out of order),
bit 7 explicit counts.

Why one module of this size: it is one format. Its encoders (a term at a time
for Whoosh's posting protocol, many terms at once for a flush or a merge) and
its decoders (a block, a query's blocks, a merge's region) must agree byte for
byte, and tests/test_storage.py checks them against each other.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

WIDTHS = (np.dtype("<u1"), np.dtype("<u2"), np.dtype("<u4"))
WEIGHTS = (None, WIDTHS[0], WIDTHS[1], WIDTHS[2], np.dtype("<f4"))
COUNT = np.dtype("<u4")
RAW_POSITIONS = 3
FEW_BLOCKS = 4  # decode_many decodes up to this many blocks one by one
LARGE = 4096  # and a block of this many postings or more on its own, straight into its place
SMALL = 16  # postings of a term encoded in plain Python (most terms: numpy's per-call cost dominates)
_CODES = ("B", "H", "I") if sys.byteorder == "little" and array("I").itemsize == 4 else None


def _width(top: int) -> int:
    if top < 0x100:
        return 0
    if top < 0x10000:
        return 1
    if top < 0x100000000:
        return 2
    raise ValueError(f"{top} does not fit a posting block")


def encode(
    docnums: list[int], weights: list[float], positions: bytes | None = None, counts: list[int] | None = None
) -> bytes:
    """A term's block: ``docnums`` ascending, their ``weights`` and, for a positions field,
    every document's ``positions`` (``u4`` each, concatenated) with their ``counts``."""
    if len(docnums) <= SMALL and _CODES is not None and (positions is None or len(positions) <= 4 * SMALL):
        return _encode_small(docnums, weights, positions, counts)
    return _encode_arrays(docnums, weights, positions, counts)


def _encode_small(docnums: list[int], weights: list[float], positions: bytes | None, counts: list[int] | None) -> bytes:
    """``encode`` of a few postings, the same bytes without numpy."""
    assert _CODES is not None
    deltas = [b - a for a, b in zip([0, *docnums], docnums, strict=False)]
    if min(deltas) < 0 or 0 in deltas[1:]:
        raise ValueError("document numbers must be unique and ascending")
    idcode = _width(max(deltas))
    parts = [b"", array(_CODES[idcode], deltas).tobytes()]
    if all(w == 1.0 for w in weights):
        wcode = 0
    elif all(w >= 0 and float(w).is_integer() for w in weights) and max(weights) < 0x100000000:
        wcode = 1 + _width(int(max(weights)))
        parts.append(array(_CODES[wcode - 1], [int(w) for w in weights]).tobytes())
    else:
        wcode = 4
        parts.append(array("f", weights).tobytes())
    flags = idcode | wcode << 2
    if positions is not None:
        per_doc = list(counts) if counts is not None else []
        if len(per_doc) != len(docnums):
            raise ValueError("a positions field needs a count of positions per document")
        if per_doc != [int(w) if wcode else 1 for w in weights] or any(w != int(w) for w in weights):
            flags |= 0x80
            parts.append(array("I", per_doc).tobytes())
        poses = array("I")
        poses.frombytes(positions)
        if len(poses) != sum(per_doc):
            raise ValueError("positions and their counts disagree")
        pdeltas = []
        at = 0
        for n in per_doc:
            prev = 0
            for p in poses[at : at + n]:
                pdeltas.append(p - prev)
                prev = p
            at += n
        if pdeltas and min(pdeltas) < 0:
            pcode, packed = RAW_POSITIONS, poses.tobytes()
        else:
            pcode = _width(max(pdeltas, default=0))
            packed = array(_CODES[pcode], pdeltas).tobytes()
        flags |= pcode << 5
        parts.append(packed)
    parts[0] = bytes((flags,))
    return b"".join(parts)


def _encode_arrays(
    docnums: list[int], weights: list[float], positions: bytes | None, counts: list[int] | None
) -> bytes:
    """``encode`` with numpy, for long posting lists."""
    ids = np.asarray(docnums, dtype=np.int64)
    w = np.asarray(weights, dtype=np.float64)
    if positions is None:
        return _pack(ids, w)
    per_doc = np.asarray(counts if counts is not None else [], dtype=np.int64)
    if len(per_doc) != len(ids):
        raise ValueError("a positions field needs a count of positions per document")
    poses = np.frombuffer(positions, dtype="<u4").astype(np.int64)
    if len(poses) != int(per_doc.sum()):
        raise ValueError("positions and their counts disagree")
    pdeltas = np.diff(poses, prepend=0)
    firsts = (np.cumsum(per_doc) - per_doc)[per_doc > 0]
    pdeltas[firsts] = poses[firsts]
    if len(pdeltas) and pdeltas.min() < 0:
        return _pack(ids, w, per_doc, poses, raw=True)
    return _pack(ids, w, per_doc, pdeltas)


def _pack(
    ids: np.ndarray,
    w: np.ndarray,
    per_doc: np.ndarray | None = None,
    pdeltas: np.ndarray | None = None,
    raw: bool = False,
) -> bytes:
    """A block of document numbers ``ids``, weights ``w`` and, for a positions field, the counts of
    positions per document and the positions as per-document deltas (``raw``: the positions themselves)."""
    deltas = ids.copy()
    np.subtract(ids[1:], ids[:-1], out=deltas[1:])
    if len(ids) and (deltas[0] < 0 or (deltas[1:] <= 0).any()):
        raise ValueError("document numbers must be unique and ascending")
    idcode = _width(int(deltas.max()) if len(deltas) else 0)
    parts = [b"", deltas.astype(WIDTHS[idcode]).tobytes()]
    if not len(w) or (w == 1.0).all():
        wcode = 0
    elif (w >= 0).all() and (w == np.floor(w)).all() and w.max() < 0x100000000:
        wcode = 1 + _width(int(w.max()))
    else:
        wcode = 4
    if wcode:
        parts.append(w.astype(WEIGHTS[wcode]).tobytes())
    flags = idcode | wcode << 2
    if per_doc is not None and pdeltas is not None:
        if not np.array_equal(per_doc, w if wcode else np.ones(len(w))):
            flags |= 0x80
            parts.append(per_doc.astype(COUNT).tobytes())
        if raw:
            pcode, packed = RAW_POSITIONS, pdeltas.astype(COUNT).tobytes()
        else:
            pcode = _width(int(pdeltas.max()) if len(pdeltas) else 0)
            packed = pdeltas.astype(WIDTHS[pcode]).tobytes()
        flags |= pcode << 5
        parts.append(packed)
    parts[0] = bytes((flags,))
    return b"".join(parts)


CHUNK_POSTINGS = 1 << 18  # encode_many works through this many postings at a time (bounds its arrays)
_WEIGHT_BYTES = np.array([0, 1, 2, 4, 4], dtype=np.int64)  # a weights' code → bytes per weight


def encode_many(
    dfs: np.ndarray,
    docnums: np.ndarray,
    weights: np.ndarray,
    counts: np.ndarray | None = None,
    positions: np.ndarray | None = None,
) -> tuple[bytes, np.ndarray]:
    """Many terms' blocks at once, the bytes ``encode`` gives term by term, concatenated; and each block's end.

    ``dfs``: each term's document count (≥ 1); ``docnums`` and ``weights``: every term's postings in turn,
    document numbers ascending within a term; for a positions field, each posting's ``counts`` of
    positions and every document's ``positions`` in turn. A segment's ~10⁶ terms cost a few numpy
    passes over their postings instead of a Python call each (most of a build's writing time).
    """
    dfs = np.asarray(dfs, dtype=np.int64)
    docnums = np.asarray(docnums, dtype=np.int64)
    weights = np.asarray(weights, dtype=np.float64)
    if (dfs < 1).any() or int(dfs.sum()) != len(docnums) or len(weights) != len(docnums):
        raise ValueError("every term needs one or more postings, each with a document number and a weight")
    if (counts is None) != (positions is None):
        raise ValueError("a positions field needs a count of positions per document")
    if counts is not None:
        counts = np.asarray(counts, dtype=np.int64)
        positions = np.asarray(positions, dtype=np.int64)
        if len(counts) != len(docnums) or int(counts.sum()) != len(positions):
            raise ValueError("positions and their counts disagree")
        if len(positions) and positions.min() < 0:
            raise ValueError("positions must not be negative")
    posting_ends = np.cumsum(dfs)
    parts: list[bytes] = []
    ends: list[np.ndarray] = []
    written = term = posting = position = 0
    while term < len(dfs):
        # as many terms as fit CHUNK_POSTINGS (at least one)
        stop = max(term + 1, int(np.searchsorted(posting_ends, posting + CHUNK_POSTINGS, side="right")))
        end = int(posting_ends[stop - 1])
        positioned = None
        if counts is not None and positions is not None:
            c = counts[posting:end]
            held = int(c.sum())
            positioned = (c, positions[position : position + held])
            position += held
        blob, chunk_ends = _encode_chunk(dfs[term:stop], docnums[posting:end], weights[posting:end], positioned)
        parts.append(blob)
        ends.append(chunk_ends + written)
        written += len(blob)
        term, posting = stop, end
    return b"".join(parts), (np.concatenate(ends) if ends else np.zeros(0, dtype=np.int64))


def _encode_chunk(
    dfs: np.ndarray, docnums: np.ndarray, weights: np.ndarray, positioned: tuple[np.ndarray, np.ndarray] | None
) -> tuple[bytes, np.ndarray]:
    """``encode_many`` of terms whose postings fit in memory together (``positioned``: counts and positions)."""
    counts, positions = positioned if positioned is not None else (None, None)
    n_terms, n = len(dfs), len(docnums)
    firsts = np.cumsum(dfs) - dfs
    term_of = np.repeat(np.arange(n_terms), dfs)
    rank = np.arange(n) - firsts[term_of]
    deltas = docnums.copy()
    np.subtract(docnums[1:], docnums[:-1], out=deltas[1:])
    deltas[firsts] = docnums[firsts]
    if (deltas[rank > 0] <= 0).any() or (docnums[firsts] < 0).any():
        raise ValueError("document numbers must be unique and ascending")
    top = np.maximum.reduceat(deltas, firsts)
    if (top >= 0x100000000).any():
        raise ValueError(f"{int(top.max())} does not fit a posting block")
    idcode = (top >= 0x100).astype(np.int64) + (top >= 0x10000)
    id_bytes = np.int64(1) << idcode
    ones = np.logical_and.reduceat(weights == 1.0, firsts)
    whole = np.logical_and.reduceat((weights >= 0) & (weights == np.floor(weights)), firsts)
    wtop = np.maximum.reduceat(weights, firsts)
    whole &= wtop < 0x100000000
    wcode = np.where(ones, 0, np.where(whole, 1 + (wtop >= 0x100).astype(np.int64) + (wtop >= 0x10000), 4))
    w_bytes = _WEIGHT_BYTES[wcode]
    sizes = 1 + dfs * (id_bytes + w_bytes)
    flags = idcode | wcode << 2
    if counts is not None and positions is not None:
        expected = np.where(wcode[term_of] > 0, weights, 1.0)
        explicit = ~np.logical_and.reduceat(counts == expected, firsts)
        per_term = np.add.reduceat(counts, firsts)
        pfirsts = np.cumsum(per_term) - per_term
        pdeltas = positions.copy()
        np.subtract(positions[1:], positions[:-1], out=pdeltas[1:])
        held = counts > 0
        doc_firsts = (np.cumsum(counts) - counts)[held]
        pdeltas[doc_firsts] = positions[doc_firsts]
        some = np.flatnonzero(per_term > 0)
        ptop = np.zeros(n_terms, dtype=np.int64)
        raw = np.zeros(n_terms, dtype=bool)
        if len(some):
            ptop[some] = np.maximum.reduceat(pdeltas, pfirsts[some])
            raw[some] = np.minimum.reduceat(pdeltas, pfirsts[some]) < 0
        if (ptop >= 0x100000000).any():
            raise ValueError(f"{int(ptop.max())} does not fit a posting block")
        pcode = np.where(raw, RAW_POSITIONS, (ptop >= 0x100).astype(np.int64) + (ptop >= 0x10000))
        p_bytes = np.where(raw, 4, np.int64(1) << np.minimum(pcode, 2))
        flags |= pcode << 5 | np.where(explicit, 0x80, 0)
        counts_at = sizes
        positions_at = counts_at + np.where(explicit, 4 * dfs, 0)
        sizes = positions_at + per_term * p_bytes
    ends = np.cumsum(sizes)
    starts = ends - sizes
    out = np.zeros(int(ends[-1]) if n_terms else 0, dtype=np.uint8)
    out[starts] = flags
    _scatter(out, starts + 1, term_of, rank, deltas, idcode, WIDTHS)
    _scatter(out, starts + 1 + dfs * id_bytes, term_of, rank, weights, wcode, WEIGHTS)
    if counts is not None and positions is not None:
        _scatter(out, starts + counts_at, term_of, rank, counts, np.where(explicit, 3, 0), (None, None, None, COUNT))
        pterm = np.repeat(term_of, counts)
        prank = np.arange(len(positions)) - pfirsts[pterm]
        values = np.where(raw[pterm], positions, pdeltas)
        _scatter(out, starts + positions_at, pterm, prank, values, pcode, (*WIDTHS, COUNT))
    return out.tobytes(), ends


def _scatter(
    out: np.ndarray,
    region: np.ndarray,
    term_of: np.ndarray,
    rank: np.ndarray,
    values: np.ndarray,
    code: np.ndarray,
    types: tuple,
) -> None:
    """Write each value at its term's ``region`` start plus its ``rank`` in the term, in its term's
    ``types[code]`` (``None``: not written)."""
    for chosen, dtype, dest in _placed(region, term_of, rank, code, types):
        packed = values[chosen].astype(dtype).view(np.uint8).reshape(-1, dtype.itemsize)
        for k in range(dtype.itemsize):
            out[dest + k] = packed[:, k]


def _placed(
    region: np.ndarray, term_of: np.ndarray, rank: np.ndarray, code: np.ndarray, types: tuple
) -> Iterator[tuple[np.ndarray, np.dtype, np.ndarray]]:
    """Per stored type in ``types`` (indexed by each term's ``code``; ``None``: not stored): the items of
    terms of that type and where each item's bytes start (its term's ``region`` plus its ``rank`` × width)."""
    item_code = code[term_of]
    for c, dtype in enumerate(types):
        if dtype is None:
            continue
        chosen = np.flatnonzero(item_code == c)
        if len(chosen):
            yield chosen, dtype, region[term_of[chosen]] + rank[chosen] * dtype.itemsize


def decode_region(
    raw: bytes | np.ndarray, ends: np.ndarray, dfs: np.ndarray, positions: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Consecutive blocks decoded at once, the inverse of ``encode_many``: ``raw`` holds the blocks, each
    ending at its ``ends`` (from the region's start) with its ``dfs`` documents. Returns every term's
    document numbers (``int64``) and weights (``float64``) in turn and, for a positions field (``positions``),
    each posting's count of positions and every document's positions in turn (``int64``)."""
    buf = np.frombuffer(raw, dtype=np.uint8)
    dfs = np.asarray(dfs, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    n_terms = len(dfs)
    if not n_terms:
        empty = np.zeros(0, dtype=np.int64)
        return empty, np.zeros(0, dtype=np.float64), (empty if positions else None), (empty if positions else None)
    starts = np.concatenate([[0], ends[:-1]])
    flags = buf[starts].astype(np.int64)
    idcode, wcode = flags & 3, flags >> 2 & 7
    id_bytes = np.int64(1) << idcode
    w_bytes = _WEIGHT_BYTES[wcode]
    firsts = np.cumsum(dfs) - dfs
    term_of = np.repeat(np.arange(n_terms), dfs)
    rank = np.arange(len(term_of)) - firsts[term_of]
    deltas = _gather(buf, starts + 1, term_of, rank, idcode, WIDTHS, np.int64)
    sums = np.cumsum(deltas)
    docnums = sums - (sums[firsts] - deltas[firsts])[term_of]
    weights = _gather(buf, starts + 1 + dfs * id_bytes, term_of, rank, wcode, WEIGHTS, np.float64, missing=1.0)
    if not positions:
        return docnums, weights, None, None
    explicit = (flags & 0x80) > 0
    counts_at = 1 + dfs * (id_bytes + w_bytes)
    counts = _gather(
        buf, starts + counts_at, term_of, rank, np.where(explicit, 3, 0), (None, None, None, COUNT), np.int64
    )
    implicit = ~explicit[term_of]
    counts[implicit] = np.where(wcode[term_of] > 0, weights, 1.0)[implicit].astype(np.int64)
    per_term = np.add.reduceat(counts, firsts)
    pfirsts = np.cumsum(per_term) - per_term
    pcode = flags >> 5 & 3
    pterm = np.repeat(term_of, counts)
    prank = np.arange(len(pterm)) - pfirsts[pterm]
    values = _gather(
        buf, starts + counts_at + np.where(explicit, 4 * dfs, 0), pterm, prank, pcode, (*WIDTHS, COUNT), np.int64
    )
    raw_terms = pcode == RAW_POSITIONS
    return docnums, weights, counts, np.where(raw_terms[pterm], values, _run_sums(values, counts))


def _run_sums(deltas: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Positions from their per-document deltas: sums that restart at each document's run (``counts`` each)."""
    sums = np.cumsum(deltas, dtype=np.int64)
    held = counts[counts > 0]
    firsts = np.cumsum(held) - held  # take off what the documents before each one summed to
    return sums - np.repeat(sums[firsts] - deltas[firsts], held)


def position_runs(counts: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """Where the positions of the postings ``chosen`` (indices in the order wanted, or a mask) stand in an array
    of every posting's positions in turn, ``counts`` each: index that array with it to carry positions along."""
    counts = np.asarray(counts, dtype=np.int64)
    starts = (np.cumsum(counts) - counts)[chosen]
    picked = counts[chosen]
    return np.repeat(starts - (np.cumsum(picked) - picked), picked) + np.arange(int(picked.sum()))


def _gather(
    buf: np.ndarray,
    region: np.ndarray,
    term_of: np.ndarray,
    rank: np.ndarray,
    code: np.ndarray,
    types: tuple,
    dtype: Any,
    missing: float = 0,
) -> np.ndarray:
    """Each item's value at its term's ``region`` start plus its ``rank`` in the term, read as its term's
    ``types[code]`` (``None``: not stored, ``missing``); the inverse of ``_scatter``."""
    out = np.full(len(term_of), missing, dtype=dtype)
    for chosen, stored, src in _placed(region, term_of, rank, code, types):
        packed = np.empty((len(chosen), stored.itemsize), dtype=np.uint8)
        for k in range(stored.itemsize):
            packed[:, k] = buf[src + k]
        out[chosen] = packed.view(stored).ravel()
    return out


@dataclass(frozen=True)
class Block:
    """A decoded block: document numbers (``int64``) and weights (``float32``); positions on demand."""

    ids: np.ndarray
    weights: np.ndarray
    counts: np.ndarray
    raw: bytes
    positions_at: int
    positions_code: int

    def positions(self) -> np.ndarray:
        """Every document's positions, concatenated (``int64``; ``counts`` says how many each)."""
        total = int(self.counts.sum())
        if self.positions_code == RAW_POSITIONS:
            return np.frombuffer(self.raw, dtype=COUNT, count=total, offset=self.positions_at).astype(np.int64)
        deltas = np.frombuffer(self.raw, dtype=WIDTHS[self.positions_code], count=total, offset=self.positions_at)
        return _run_sums(deltas.astype(np.int64), self.counts)


def decode(raw: bytes, df: int) -> Block:
    """The block of ``df`` documents in ``raw``."""
    flags = raw[0]
    at = 1
    id_type = WIDTHS[flags & 3]
    ids = np.frombuffer(raw, dtype=id_type, count=df, offset=at).cumsum(dtype=np.int64)
    at += df * id_type.itemsize
    wtype = WEIGHTS[flags >> 2 & 7]
    if wtype is None:
        weights = np.ones(df, dtype=np.float32)
    else:
        weights = np.frombuffer(raw, dtype=wtype, count=df, offset=at).astype(np.float32)
        at += df * wtype.itemsize
    if flags & 0x80:
        counts = np.frombuffer(raw, dtype=COUNT, count=df, offset=at).astype(np.int64)
        at += df * COUNT.itemsize
    else:
        counts = weights.astype(np.int64)
    return Block(ids, weights, counts, raw, at, flags >> 5 & 3)


def decode_arrays(raw: bytes, df: int) -> tuple[np.ndarray, np.ndarray]:
    """The (document numbers ``int64``, weights ``float32``) of ``decode``, without the rest (what scoring reads)."""
    ids, weights = np.empty(df, dtype=np.int64), np.empty(df, dtype=np.float32)
    _decode_into(raw, df, 0, ids, weights)
    return ids, weights


def decode_many(raws: list[bytes], dfs: list[int], offsets: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Several blocks decoded at once: their document numbers (each block's plus its ``offsets``) and
    weights, concatenated in order (``int64``, ``float32``); what ``decode_arrays`` gives block by block.

    A query's ~40 terms in each of a generation's segments are ~120 blocks,
    mostly of a few postings, where numpy's per-call cost dominates: there
    the blocks of one type share every numpy call. A large block (``LARGE``
    postings or more: a common word at a million articles has 300,000) is
    decoded straight into its place, one pass for its numbers and one for
    its weights; sharing the calls would cost it several passes more.
    """
    total = sum(dfs)
    ids = np.empty(total, dtype=np.int64)
    weights = np.empty(total, dtype=np.float32)
    small: list[tuple[int, bytes, int, int]] = []  # (place, block, count, offset)
    at = 0
    for raw, df, offset in zip(raws, dfs, offsets, strict=True):
        if df >= LARGE or len(raws) <= FEW_BLOCKS:
            _decode_into(raw, df, offset, ids[at : at + df], weights[at : at + df])
        else:
            small.append((at, raw, df, offset))
        at += df
    if small:
        places = np.fromiter((place for place, _, _, _ in small), dtype=np.int64, count=len(small))
        counts = np.fromiter((df for _, _, df, _ in small), dtype=np.int64, count=len(small))
        got_ids, got_weights = _decode_grouped([raw for _, raw, _, _ in small], counts, [o for *_, o in small])
        if len(small) == len(raws):
            return got_ids, got_weights
        # where each small block's postings go: its place plus the posting's place in the block
        where = np.repeat(places - (np.cumsum(counts) - counts), counts) + np.arange(int(counts.sum()))
        ids[where], weights[where] = got_ids, got_weights
    return ids, weights


def _decode_into(raw: bytes, df: int, offset: int, ids: np.ndarray, weights: np.ndarray) -> None:
    """``decode_arrays`` of one block written into ``ids`` and ``weights`` (its document numbers plus ``offset``)."""
    flags = raw[0]
    id_type = WIDTHS[flags & 3]
    np.cumsum(np.frombuffer(raw, dtype=id_type, count=df, offset=1), dtype=np.int64, out=ids)
    if offset:
        ids += offset
    wtype = WEIGHTS[flags >> 2 & 7]
    if wtype is None:
        weights.fill(1.0)
    else:
        weights[:] = np.frombuffer(raw, dtype=wtype, count=df, offset=1 + df * id_type.itemsize)


def _decode_grouped(raws: list[bytes], counts: np.ndarray, offsets: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """``decode_many`` of many small blocks: the blocks of one type share every numpy call."""
    dfs = counts.tolist()
    total = int(counts.sum())
    ids = np.empty(total, dtype=np.int64)
    weights = np.ones(total, dtype=np.float32)
    id_parts: dict[int, list[tuple[int, int, bytes]]] = {}
    weight_parts: dict[int, list[tuple[int, int, bytes]]] = {}
    at = 0
    for raw, df in zip(raws, dfs, strict=True):
        flags = raw[0]
        idcode, wcode = flags & 3, flags >> 2 & 7
        end = 1 + df * WIDTHS[idcode].itemsize
        id_parts.setdefault(idcode, []).append((at, df, raw[1:end]))
        if wcode:
            weight_parts.setdefault(wcode, []).append((at, df, raw[end : end + df * WEIGHTS[wcode].itemsize]))
        at += df
    for parts, out, types in ((id_parts, ids, WIDTHS), (weight_parts, weights, WEIGHTS)):
        for code, group in parts.items():
            starts = np.fromiter((start for start, _, _ in group), dtype=np.int64, count=len(group))
            sizes = np.fromiter((df for _, df, _ in group), dtype=np.int64, count=len(group))
            values = np.frombuffer(b"".join(part for _, _, part in group), dtype=types[code])
            # where each value goes: its block's start plus its place in the block
            out[np.repeat(starts - (np.cumsum(sizes) - sizes), sizes) + np.arange(len(values))] = values
    # document numbers: each block's deltas summed from its own start, then moved by its offset
    sums = np.cumsum(ids)
    firsts = np.cumsum(counts) - counts
    before = np.where(firsts > 0, sums[np.maximum(firsts - 1, 0)], 0) if total else np.zeros(len(dfs), dtype=np.int64)
    return sums - np.repeat(before - np.asarray(offsets, dtype=np.int64), counts), weights
