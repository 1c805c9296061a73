"""Site search for Chinese news: jieba analysis into a Whoosh index.

The public API; the CLI and the web app use nothing else.
"""

from .analysis import Analyzer
from .articles import Article, ArticleError, Page, parse_published
from .cms import CHARSETS as CMS_CHARSETS
from .cms import READERS as CMS_READERS
from .cms import CmsError, CmsOptions, Dsn, SyncReport, mask_dsn, sync_cms
from .index import IndexBusyError, IndexMismatchError, IndexStore, NoIndexError
from .indexing import MergePolicy, ReindexReport, WriterProcessError, delete, optimize, reindex
from .publish import PublishError, PublishResult, publish
from .query import ParsedQuery, parse_query
from .ranking import RankingConfig
from .readers import Limits, read_articles
from .screening import Denylist, mask_personal, terminal_safe
from .searching import Hit, QueryError, SearchEngine, SearchResults
from .settings import SETTINGS, load_settings

__all__ = [
    "Analyzer",
    "Article",
    "ArticleError",
    "CMS_CHARSETS",
    "CMS_READERS",
    "CmsError",
    "CmsOptions",
    "Denylist",
    "Dsn",
    "Hit",
    "IndexBusyError",
    "IndexMismatchError",
    "IndexStore",
    "Limits",
    "MergePolicy",
    "NoIndexError",
    "Page",
    "PublishError",
    "PublishResult",
    "ParsedQuery",
    "QueryError",
    "RankingConfig",
    "ReindexReport",
    "SETTINGS",
    "SearchEngine",
    "SearchResults",
    "SyncReport",
    "WriterProcessError",
    "delete",
    "load_settings",
    "mask_dsn",
    "mask_personal",
    "open_engine",
    "optimize",
    "parse_published",
    "parse_query",
    "publish",
    "read_articles",
    "reindex",
    "sync_cms",
    "terminal_safe",
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
