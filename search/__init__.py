"""Site search for Chinese news: jieba analysis into a Whoosh index.

The public API; the CLI and the web app use nothing else.
"""

from .analysis import Analyzer
from .articles import Article, ArticleError, Page, parse_published
from .index import IndexBusyError, IndexMismatchError, IndexStore, NoIndexError
from .indexing import ReindexReport, WriterProcessError, delete, reindex
from .query import ParsedQuery, parse_query
from .ranking import RankingConfig
from .readers import Limits, read_articles
from .searching import Hit, QueryError, SearchEngine, SearchResults
from .settings import SETTINGS, load_settings

__all__ = [
    "Analyzer",
    "Article",
    "ArticleError",
    "Hit",
    "IndexBusyError",
    "IndexMismatchError",
    "IndexStore",
    "Limits",
    "NoIndexError",
    "Page",
    "ParsedQuery",
    "QueryError",
    "RankingConfig",
    "ReindexReport",
    "SETTINGS",
    "SearchEngine",
    "SearchResults",
    "WriterProcessError",
    "delete",
    "load_settings",
    "open_engine",
    "parse_published",
    "parse_query",
    "read_articles",
    "reindex",
]


def open_engine(settings: dict | None = None) -> SearchEngine:
    """Build the engine for the configured index (settings from ``load_settings``)."""
    settings = settings or load_settings()
    analyzer = Analyzer(settings["SEGMENTER"], [p for p in str(settings["USERDICT"]).split(":") if p])
    store = IndexStore(settings["INDEX"], analyzer)
    return SearchEngine(
        store,
        RankingConfig.from_settings(settings),
        snippet_chars=int(settings["SNIPPET_CHARS"]),
        fragments=int(settings["SNIPPET_FRAGMENTS"]),
        max_window=int(settings["MAX_RESULT_WINDOW"]),
    )
