"""Only ``search/storage/`` knows the bytes on disk or Whoosh's internals."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STORAGE = ROOT / "search" / "storage"
INTERNAL_IMPORT = re.compile(r"^\s*(from|import)\s+whoosh\.(codec|filedb)\b", re.M)
PRIVATE = re.compile(r"\._(?!_)(\w+)")  # ``x._name``: private unless x is self or cls
OWN = re.compile(r"(?<![\w.])(self|cls)$")
PRIVATE_GETATTR = re.compile(r"getattr\([^,]+,\s*['\"]_(?!_)(\w*)")
ALLOWED = {"replace", "asdict", "fields", "make", "exit"}  # namedtuple's public API, os._exit


def _outside_storage() -> list[Path]:
    files = [p for p in (ROOT / "search").rglob("*.py") if STORAGE not in p.parents]
    return [*files, ROOT / "cli.py"]


def violations(text: str) -> list[str]:
    """The lines of ``text`` that import Whoosh's codec or file layers or read another object's private attribute."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        code = line.split("#", 1)[0]
        private = [m.group(1) for m in PRIVATE.finditer(code) if not OWN.search(code[: m.start()])]
        private += [m.group(1) for m in PRIVATE_GETATTR.finditer(code)]
        if INTERNAL_IMPORT.match(code) or set(private) - ALLOWED:
            found.append(f"{number}: {line.strip()}")
    return found


def test_only_storage_imports_whoosh_internals_or_reads_private_attributes():
    problems = {str(p.relative_to(ROOT)): v for p in _outside_storage() if (v := violations(p.read_text("utf-8")))}
    assert problems == {}


def test_the_check_finds_what_it_forbids():
    text = "\n".join(
        [
            "from whoosh.codec.whoosh3 import W3Codec",
            "import whoosh.filedb.filestore",
            "fd = column._dbfile",
            "reader.readers[0]._terms.matcher()",
            "x = self._stored._parts",
            'perdoc = getattr(seg, "_perdoc", None)',
            "self._cache = {}",
            "t._replace(start=1)",
            "from whoosh import query",
            "os._exit(1)",
        ]
    )
    assert [v.split(":")[0] for v in violations(text)] == ["1", "2", "3", "4", "5", "6"]
