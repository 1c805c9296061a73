"""Dependencies point one way: web and CLI → public API → engine stages → analysis and storage.

An import-graph check over the source (``ast``), like the storage boundary
test: the web layer and ``cli.py`` use the package's public API
(``search/__init__.py``) and nothing else of the engine; no engine module
imports the web layer, the CLI or the package's public API; within the
engine, a module imports only modules of its own layer or below
(``LAYERS``, lowest first: the bottom layer, then the stages of a search in
pipeline order, then the rest of the engine).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "search"
BOTTOM = {"search.analysis", "search.articles", "search.settings", "search.storage"}
# The engine's layers, lowest first. Modules not listed (indexing, related, suggest, evaluation,
# publish, querylog, cms…) are the rest of the engine: one layer above these, below the public API.
LAYERS: tuple[set[str], ...] = (
    BOTTOM,
    # formulas and text tools: relevance constants, near-duplicates, word classes, snippets…
    {"search.ranking", "search.dedup", "search.wordclass", "search.snippets", "search.screening"},
    {"search.schema", "search.htmlpage"},
    # query syntax; word plans; the index store; an index version's per-document data
    {"search.query", "search.words", "search.index", "search.readers", "search.corpus"},
    {"search.scoring"},  # BM25F over an index version's arrays
    {"search.plan", "search.recovery", "search.rerank"},  # plan; pinyin and typos; the learned re-ranker
    {"search.candidates"},
    {"search.ordering"},
    {"search.collapse", "search.hits"},
    {"search.facets"},
    {"search.searching"},  # the façade that composes the stages
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` for every import of a ``search`` module in the file, relative ones resolved.

    ``from . import x`` names module ``pkg.x`` when ``x`` is a submodule, else the package itself.
    """
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "search"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "search":
                continue
            if node.module is None:  # from . import x: submodules by name, else the package
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    is_module = (ROOT / Path(*sub.split("."))).with_suffix(".py").exists() or (
                        ROOT / Path(*sub.split("."))
                    ).is_dir()
                    found.append((node.lineno, sub if is_module else target))
            else:
                found.append((node.lineno, target))
    return found


def sources() -> list[Path]:
    return [*sorted(PACKAGE.rglob("*.py")), ROOT / "cli.py"]


def within(module: str, layer: str) -> bool:
    return module == layer or module.startswith(layer + ".")


def layer(module: str) -> int:
    """The module's engine layer (``LAYERS``; unlisted: the rest of the engine, above them all)."""
    return next((i for i, names in enumerate(LAYERS) if any(within(module, n) for n in names)), len(LAYERS))


def violations() -> list[str]:
    found = []
    for path in sources():
        name = module_name(path)
        for line, target in imports(path):
            where = f"{path.relative_to(ROOT)}:{line} imports {target}"
            if name == "cli" or within(name, "search.web"):  # the top: the public API, and the web layer itself
                if target != "search" and not within(target, "search.web"):
                    found.append(where + " (use the public API in search/__init__.py)")
            elif name != "search" and (target == "search" or within(target, "search.web")):
                found.append(where + " (the engine must not import the public API or the web layer)")
            elif name != "search" and layer(target) > layer(name):
                found.append(where + f" (layer {layer(name)} imports layer {layer(target)}: see LAYERS)")
    return found


def test_dependencies_point_one_way():
    assert violations() == []


def test_the_check_finds_what_it_forbids(tmp_path, monkeypatch):
    root = tmp_path
    (root / "search" / "web").mkdir(parents=True)
    (root / "search" / "storage").mkdir()
    files = {
        "cli.py": "import search\nfrom search.querylog import QueryLog\nfrom search.web import create_app\n",
        "search/__init__.py": "from .searching import SearchEngine\n",
        "search/web/__init__.py": "from .. import open_engine\nfrom ..index import NoIndexError\nfrom . import api\n",
        "search/web/api.py": "from .. import related_articles\n",
        "search/searching.py": "from . import ranking\nfrom .web import api\nimport search\n",
        "search/ranking.py": "",
        "search/query.py": "from .ranking import Weights\nfrom .scoring import WordPlan\n",
        "search/candidates.py": "from .plan import Plan\nfrom . import ordering\n",
        "search/related.py": "from .searching import SearchEngine\n",
        "search/ordering.py": "",
        "search/storage/__init__.py": "from ..searching import Corpus\nfrom .codec import NewsCodec\n",
        "search/storage/codec.py": "",
        "search/analysis.py": "from .storage import codec\n",
    }
    for name, text in files.items():
        (root / name).write_text(text, "utf-8")
    monkeypatch.setitem(globals(), "ROOT", root)
    monkeypatch.setitem(globals(), "PACKAGE", root / "search")
    assert [v.split(" (")[0] for v in violations()] == [
        "search/candidates.py:2 imports search.ordering",
        "search/query.py:2 imports search.scoring",
        "search/searching.py:2 imports search.web",
        "search/searching.py:3 imports search",
        "search/storage/__init__.py:1 imports search.searching",
        "search/web/__init__.py:2 imports search.index",
        "cli.py:2 imports search.querylog",
    ]
