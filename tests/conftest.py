"""Shared fixtures: one analyzer per session, tiny inline corpora, tmp indexes."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

import search
from tests.cms_server import mariadb  # noqa: F401 - the session's private MariaDB (CMS tests)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"

ARTICLES = [
    {
        "id": "a1",
        "title": "衡阳召开疫情防控工作会议",
        "published": "2020-02-01 09:30:00",
        "source": "衡阳日报",
        "channel": "时政",
        "lead": "市长周建国强调坚持联防联控。",
        "body": "本报讯（记者 李华）1月31日，衡阳市召开新型冠状病毒肺炎疫情防控工作会议。会议要求各区落实联防联控措施。",
        "views": 120,
    },
    {
        "id": "a2",
        "title": "南华大学迎来新生",
        "published": "2021-09-05 10:00:00",
        "source": "衡阳晚报",
        "channel": "教育",
        "body": "新生们的大学生活从军训开始。学校为新生准备了5G校园网和APP。",
        "views": 30,
    },
    {
        "id": "a3",
        "title": "C919首次飞抵衡阳南岳机场",
        "published": "2023-06-01 15:00:00",
        "source": "衡阳新闻网",
        "channel": "交通",
        "body": "国产大飞机C919今天首次飞抵衡阳。COVID-19疫情之后，机场客流持续回升。",
        "views": 900,
    },
    {
        "id": "a4",
        "title": "蒸湘区大学生志愿者走进社区",
        "published": "2024-03-10 08:00:00",
        "source": "红网",
        "channel": "社会",
        "body": "商报消息(通讯员 王小明 记者 陈静)蒸湘区组织大学生志愿者开展反诈宣传。",
        "views": 45,
    },
]


@pytest.fixture(scope="session")
def analyzer() -> search.Analyzer:
    return search.Analyzer()


def body_bigrams(analyzer: search.Analyzer, stored: dict) -> dict[str, set[int]]:
    """A document's body bigrams at their positions, the 核心提示's a line before, as a positions field keeps them."""
    text = f"{stored['lead']}\n{stored['body']}" if stored.get("lead") else stored["body"]
    return {gram: set(at) for gram, at in analyzer.bigram_positions(text).items()}


def held_at_positions(placed: dict[str, set[int]], tokens: list[tuple[str, int]]) -> bool:
    """The reference for an exact phrase: every token at its position relative to the first, somewhere."""
    (first, at), rest = tokens[0], tokens[1:]
    return any(all(p + q - at in placed.get(g, ()) for g, q in rest) for p in placed.get(first, ()))


def write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "articles.jsonl", ARTICLES)


@pytest.fixture
def store(tmp_path: Path, analyzer: search.Analyzer) -> search.IndexStore:
    return search.IndexStore(tmp_path / "index", analyzer)


@pytest.fixture
def engine(store: search.IndexStore, corpus: Path, articles_index: Path) -> search.SearchEngine:
    """A fresh engine over a private copy of the ARTICLES index (built once a session): writable, cold caches."""
    shutil.copytree(articles_index, store.root)
    return search.SearchEngine(store)


@pytest.fixture(scope="session")
def articles_index(tmp_path_factory: pytest.TempPathFactory, analyzer: search.Analyzer) -> Path:
    """The ARTICLES index, built once; tests copy it (``engine``), never write it."""
    root = tmp_path_factory.mktemp("articles")
    store = search.IndexStore(root / "index", analyzer)
    report = search.reindex(store, [write_jsonl(root / "articles.jsonl", ARTICLES)], full=True, workers=1)
    assert report.ok, report.errors
    store.close()
    return store.root


@pytest.fixture(scope="session")
def built_index(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], Path]:
    """``built_index(corpus)``: an index of ``corpus``, built once a session per content (sha256).

    Tasks whose corpora are the same file (news-topics-dev and news/xwlb) share
    one build. Read only: a test that writes copies it (``shutil.copytree``).
    """
    built: dict[str, Path] = {}

    def build(corpus: Path, workers: int | None = None) -> Path:
        digest = hashlib.sha256()
        with open(corpus, "rb") as data:
            for block in iter(lambda: data.read(1 << 20), b""):
                digest.update(block)
        key = f"{digest.hexdigest()}-{workers}"
        if key not in built:
            store = search.IndexStore(tmp_path_factory.mktemp("built") / "index", search.Analyzer())
            report = search.reindex(store, [corpus], full=True, workers=workers)
            assert report.ok, report.errors
            store.close()
            built[key] = store.root
        return built[key]

    return build


SAMPLE = Path(__file__).resolve().parents[1] / "sample"


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory, analyzer: search.Analyzer) -> Path:
    """The project's sample corpus (sample/), indexed once a session with one writer; read only (copy to write)."""
    store = search.IndexStore(tmp_path_factory.mktemp("sample") / "index", analyzer)
    report = search.reindex(store, [SAMPLE], full=True, workers=1)
    assert report.ok, report.errors
    store.close()
    return store.root


def ids(results: search.SearchResults) -> list[str]:
    return [h.id for h in results.hits]


@pytest.fixture(scope="module")
def site(tmp_path_factory, analyzer):
    """The sample articles and articles carrying script and img payloads, indexed and served (``tests/hostile.py``)."""
    from .hostile import Site

    return Site(tmp_path_factory.mktemp("site"), analyzer)
