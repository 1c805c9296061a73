"""Readers: files and directories in, articles out.

``read_articles(paths)`` walks directories recursively and picks a reader by
file type: JSON Lines (``.jsonl``, ``.jsonl.gz``, canonical), JSON arrays
(``.json``), the plain-text page a DedeCMS site exports (``.txt``) and crawled
HTML pages (``.html``, ``.htm``, ``.shtml``). Encodings are detected (UTF-8
with or without BOM, GBK/GB18030, then charset-normalizer's best guess), so
text is never silently garbled. A broken record raises or is reported as an
``ArticleError`` naming file and line, and reading goes on with the next one.

Input is bounded (``Limits``, from the ``MAX_FILE_MB``, ``MAX_STREAM_MB``,
``MAX_RECORD_MB`` and ``MAX_BODY_CHARS`` settings): a whole-file reader never
reads a file over the file limit, JSON Lines are read a bounded line at a
time from a stream that stops at the stream limit, and a record or body over
its limit is reported like any bad record. Directory walks never follow a
symbolic link: each one met is reported and skipped.

Why one module of this size: every input format (JSON Lines, JSON, text and
HTML pages, directories) goes through the same limits and the same bad-record
reporting; they are kept together so no reader can skip them.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from .articles import Article, ArticleError, article_from_mapping, clean_text, find_date, make_article
from .settings import SETTINGS

ErrorHandler = Callable[[ArticleError], None]
_MB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """How much input one file, one decompressed stream, one record and one body may hold."""

    file_bytes: int  # a .json, .txt or .html file, read whole
    stream_bytes: int  # a JSON Lines file, after decompression
    record_bytes: int  # one JSON Lines record (line)
    body_chars: int  # one article's body

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Limits:
        """The limits the settings give (``load_settings``; missing ones: the table's defaults)."""
        values = {s.name: s.default for s in SETTINGS} | dict(settings)
        return cls(
            file_bytes=int(float(values["MAX_FILE_MB"]) * _MB),
            stream_bytes=int(float(values["MAX_STREAM_MB"]) * _MB),
            record_bytes=int(float(values["MAX_RECORD_MB"]) * _MB),
            body_chars=int(values["MAX_BODY_CHARS"]),
        )


DEFAULT_LIMITS = Limits.from_settings({})


def _amount(size: int) -> str:
    return f"{size // _MB} MB" if size >= _MB and size % _MB == 0 else f"{size} bytes"


JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson")
TEXT_SUFFIXES = (".txt",)
HTML_SUFFIXES = (".html", ".htm", ".shtml")
JSON_SUFFIXES = (".json",)


def _damaged_utf8(data: bytes, first_bad: int, where: str, on_error: ErrorHandler | None) -> str | None:
    """``data`` (not valid UTF-8 from byte ``first_bad``) as UTF-8 if only a few bytes are bad, else None.

    Text where at least 10 non-ASCII characters decode for each invalid byte is
    UTF-8 with damage (GBK or another legacy encoding decodes as UTF-8 only by
    rare accident): the bad bytes become U+FFFD and a warning names the place,
    instead of the whole record being re-read as mojibake in some other charset.
    """
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    non_ascii = sum(1 for ch in text if ch > "\x7f") - bad
    if bad == 0 or non_ascii < 10 * bad:
        return None
    message = f"{bad} invalid UTF-8 byte sequence(s), first at byte {first_bad}, replaced with U+FFFD"
    _report(ArticleError(where, message, warning=True), on_error)
    return text


def decode_bytes(data: bytes, where: str, declared: str | None = None, on_error: ErrorHandler | None = None) -> str:
    """Decode article bytes: BOM, declared charset, UTF-8 (a few bad bytes replaced and reported), GB18030, detection."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if declared:
        declared = declared.lower().strip()
        if declared in {"gb2312", "gbk", "gb18030", "x-gbk"}:
            declared = "gb18030"  # superset: never fails where gb2312 would
        try:
            return data.decode(declared)
        except (UnicodeDecodeError, LookupError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = _damaged_utf8(data, exc.start, where, on_error)
        if text is not None:
            return text
    try:
        gb_text: str | None = data.decode("gb18030")
    except UnicodeDecodeError:
        gb_text = None
    if gb_text is not None and _looks_simplified(gb_text):
        return gb_text
    # GB18030 decodes almost any double-byte text: Big5 bytes come out as rare characters, not an error
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.encoding is None:
        if gb_text is not None:
            return gb_text
        raise ArticleError(where, "undecodable bytes (not UTF-8, GBK/GB18030 or a detectable charset)")
    return str(best)


def _looks_simplified(text: str) -> bool:
    """Whether most CJK characters of a GB18030 decoding are in GB2312 (common simplified Chinese), as GBK pages are."""
    cjk = "".join(ch for ch in text if "\u4e00" <= ch <= "\u9fff")
    return not cjk or len(cjk.encode("gb2312", errors="ignore")) >= 2 * 0.8 * len(cjk)


def _report(error: ArticleError, on_error: ErrorHandler | None) -> None:
    if on_error is None:
        if error.warning:
            return
        raise error
    on_error(error)


class _StreamLimit(Exception):
    """A decompressed stream went past ``Limits.stream_bytes``."""


def _lines(handle: BinaryIO, limits: Limits) -> Iterator[tuple[bytes | None, int]]:
    """Yield each line (None for a line over ``limits.record_bytes``, never held whole) and its length.

    Stops with ``_StreamLimit`` past ``limits.stream_bytes`` bytes.
    """
    read = 0
    while True:
        line = handle.readline(limits.record_bytes + 1)
        if not line:
            return
        length = len(line)
        too_long = length > limits.record_bytes
        while too_long and not line.endswith(b"\n"):  # skip the rest of the record, a bounded piece at a time
            line = handle.readline(1 << 20)
            length += len(line)
            if not line or read + length > limits.stream_bytes:
                break
        read += length
        if read > limits.stream_bytes:
            raise _StreamLimit(f"stream is over the limit of {_amount(limits.stream_bytes)} (MAX_STREAM_MB)")
        yield (None if too_long else line), length


def read_jsonl(path: Path, on_error: ErrorHandler | None = None, limits: Limits = DEFAULT_LIMITS) -> Iterator[Article]:
    """Yield articles from a JSON Lines file (optionally gzip-compressed)."""
    opener = gzip.open if path.name.endswith(".gz") else open
    lineno = 0
    try:
        with opener(path, "rb") as handle:
            for lineno, (raw, length) in enumerate(_lines(handle, limits), start=1):
                where = f"{path}:{lineno}"
                if raw is None:
                    message = (
                        f"record is {length} bytes, over the limit of {_amount(limits.record_bytes)} (MAX_RECORD_MB)"
                    )
                    _report(ArticleError(where, message), on_error)
                    continue
                if not raw.strip():
                    continue
                try:
                    text = decode_bytes(raw, where, on_error=on_error)
                    try:
                        data = json.loads(text)
                    except json.JSONDecodeError as exc:
                        raise ArticleError(where, f"invalid JSON: {exc.msg} at column {exc.colno}") from None
                    except RecursionError:
                        raise ArticleError(where, "invalid JSON: nested too deeply") from None
                    yield article_from_mapping(data, where)
                except ArticleError as error:
                    _report(error, on_error)
    except _StreamLimit as limit:  # what was read stands
        _report(ArticleError(f"{path}:{lineno + 1}", str(limit)), on_error)
    except (OSError, EOFError, zlib.error) as exc:
        # A truncated or corrupt gzip stream ends the file; what was read stands.
        _report(ArticleError(f"{path}:{lineno + 1}", f"cannot read further: {exc}"), on_error)


def read_bounded(path: Path, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """A whole file's bytes; ``ArticleError`` when it is over ``limits.file_bytes``."""
    with open(path, "rb") as handle:
        data = handle.read(limits.file_bytes + 1)
    if len(data) > limits.file_bytes:
        raise ArticleError(str(path), f"file is over the limit of {_amount(limits.file_bytes)} (MAX_FILE_MB)")
    return data


def read_json(path: Path, on_error: ErrorHandler | None = None, limits: Limits = DEFAULT_LIMITS) -> Iterator[Article]:
    """Yield articles from a JSON file holding one object or an array of them."""
    try:
        data = json.loads(decode_bytes(read_bounded(path, limits), str(path), on_error=on_error))
    except ArticleError as error:
        _report(error, on_error)
        return
    except (json.JSONDecodeError, RecursionError) as exc:
        _report(ArticleError(str(path), f"invalid JSON: {exc}"), on_error)
        return
    records = data if isinstance(data, list) else [data]
    for i, record in enumerate(records, start=1):
        try:
            yield article_from_mapping(record, f"{path}#{i}")
        except ArticleError as error:
            _report(error, on_error)


_CHROME_HEADINGS = ("相关内容", "相关阅读", "相关新闻", "热门资讯", "热点资讯", "推荐阅读", "热门推荐")
_CHROME_HEADINGS += ("相關內容", "相關閱讀", "相關新聞", "熱門資訊", "熱點資訊", "推薦閱讀", "熱門推薦")
_LEAD_HEADING = re.compile(r"^核心提示[:：]?\s*(.*)$")


def parse_text_page(text: str, where: str, article_id: str) -> Article:
    """Parse the plain-text article page a news site exports (see README)."""
    lines = [clean_text(line) for line in text.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        raise ArticleError(where, "empty page")
    title = lines[0]
    i = 1
    source = published = ""
    views = 0
    # Source, time and view count come in this order, each optional.
    if i < len(lines) and not find_date(lines[i]) and len(lines[i]) <= 40:
        source = lines[i]
        i += 1
    if i < len(lines) and (date := find_date(lines[i])) and len(lines[i]) <= 40:
        published = date
        i += 1
    if i < len(lines) and re.fullmatch(r"\d{1,12}", lines[i]):
        views = int(lines[i])
        i += 1
    lead = ""
    if i < len(lines) and (m := _LEAD_HEADING.match(lines[i])):
        lead = m.group(1)
        i += 1
        if not lead and i < len(lines):
            lead = lines[i]
            i += 1
    body_lines: list[str] = []
    for line in lines[i:]:
        if line in _CHROME_HEADINGS:
            break
        body_lines.append(line)
    return make_article(
        where,
        id=article_id,
        title=title,
        source=source,
        published=published or None,
        views=views,
        lead=lead,
        body="\n".join(body_lines),
    )


def read_text_page(
    path: Path, on_error: ErrorHandler | None = None, limits: Limits = DEFAULT_LIMITS
) -> Iterator[Article]:
    """Yield the one article of a plain-text page; its id is the file name."""
    where = str(path)
    try:
        yield parse_text_page(decode_bytes(read_bounded(path, limits), where, on_error=on_error), where, path.stem)
    except ArticleError as error:
        _report(error, on_error)


def read_html_page(
    path: Path, on_error: ErrorHandler | None = None, limits: Limits = DEFAULT_LIMITS
) -> Iterator[Article]:
    """Yield the one article of a crawled HTML page; its id is the file name."""
    from .htmlpage import parse_html_page

    where = str(path)
    try:
        raw = read_bounded(path, limits)
        head = raw[:4096].decode("ascii", errors="ignore")
        match = re.search(r"charset\s*=\s*[\"']?([\w-]+)", head, re.I)
        text = decode_bytes(raw, where, match.group(1) if match else None, on_error)
        yield parse_html_page(text, where, path.stem)
    except ArticleError as error:
        _report(error, on_error)


Reader = Callable[[Path, ErrorHandler | None, Limits], Iterator[Article]]
READERS: tuple[tuple[tuple[str, ...], Reader], ...] = (
    (JSONL_SUFFIXES, read_jsonl),
    (JSON_SUFFIXES, read_json),
    (TEXT_SUFFIXES, read_text_page),
    (HTML_SUFFIXES, read_html_page),
)


def reader_for(path: Path) -> Reader | None:
    """Return the reader for ``path`` by its suffix, or None for other files."""
    name = path.name.lower()
    for suffixes, reader in READERS:
        if name.endswith(suffixes):
            return reader
    return None


def _walk(root: Path, on_error: ErrorHandler | None) -> Iterator[Path]:
    """Every regular file under ``root``, sorted; symbolic links are reported, never followed."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        here = Path(folder)
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in sorted(dirs + files):
            path = here / name
            if name.startswith("."):
                continue
            if path.is_symlink():
                message = "symbolic link skipped: directory walks do not follow links"
                _report(ArticleError(str(path), message, warning=True), on_error)
            elif name in files:
                found.append(path)
    return iter(sorted(found))


def iter_files(paths: Iterable[str | Path], on_error: ErrorHandler | None = None) -> Iterator[Path]:
    """Yield article files under ``paths`` (directories walked recursively, sorted, links not followed)."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in _walk(path, on_error):
                if reader_for(child):
                    yield child
        elif path.exists():
            yield path
        else:
            raise FileNotFoundError(f"no such file or directory: {path}")


def read_articles(
    paths: Iterable[str | Path], on_error: ErrorHandler | None = None, limits: Limits = DEFAULT_LIMITS
) -> Iterator[Article]:
    """Yield every article under ``paths``; bad records and articles over ``limits`` go to ``on_error`` (or raise)."""
    for path in iter_files(paths, on_error):
        reader = reader_for(path)
        if reader is None:
            _report(ArticleError(str(path), "unknown file type (expected .jsonl[.gz], .json, .txt or .html)"), on_error)
            continue
        for article in reader(path, on_error, limits):
            if len(article.body) > limits.body_chars:
                message = (
                    f"article {article.id!r}: body is {len(article.body)} characters, "
                    f"over the limit of {limits.body_chars} (MAX_BODY_CHARS)"
                )
                _report(ArticleError(article.origin or str(path), message), on_error)
                continue
            yield article
