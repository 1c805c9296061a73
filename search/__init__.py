"""Site search for Chinese news: jieba analysis into a Whoosh index.

The public API; the CLI and the web app use nothing else
(``tests/test_layers.py`` checks it).
"""

from .analysis import Analyzer
from .articles import Article, ArticleError, Page, parse_published
from .cms import CHARSETS as CMS_CHARSETS
from .cms import READERS as CMS_READERS
from .cms import CmsError, CmsOptions, Dsn, SyncReport, mask_dsn, sync_cms
from .evaluation import evaluate, evaluate_related
from .hits import Hit, SearchResults
from .index import IndexBusyError, IndexError_, IndexMismatchError, IndexStore, NoIndexError
from .indexing import MergePolicy, ReindexReport, delete, optimize, reindex
from .publish import PublishError, PublishResult, publish
from .query import ParsedQuery, parse_date_bound, parse_query
from .querylog import QueryLog, query_log_path
from .ranking import RankingConfig
from .readers import Limits, read_articles
from .recovery import Synonyms
from .related import hot_articles
from .related import related as related_articles  # not ``related``: the module's name
from .rerank import Reranker, load_reranker
from .screening import Denylist, mask_personal, terminal_safe
from .searching import SORTS, QueryError, SearchEngine
from .settings import SETTINGS, SETTINGS_BY_NAME, load_settings, read_groups
from .settings import reference as settings_reference
from .snippets import plain
from .suggest import suggest as suggestions  # not ``suggest``: the module's name
from .wordclass import load as load_word_classes
from .writers import WriterProcessError

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
    "IndexError_",
    "IndexMismatchError",
    "IndexStore",
    "Limits",
    "MergePolicy",
    "NoIndexError",
    "Page",
    "ParsedQuery",
    "PublishError",
    "PublishResult",
    "QueryError",
    "QueryLog",
    "RankingConfig",
    "Reranker",
    "ReindexReport",
    "SETTINGS",
    "SETTINGS_BY_NAME",
    "SORTS",
    "SearchEngine",
    "SearchResults",
    "SyncReport",
    "WriterProcessError",
    "delete",
    "evaluate",
    "evaluate_related",
    "hot_articles",
    "load_reranker",
    "load_settings",
    "load_word_classes",
    "mask_dsn",
    "mask_personal",
    "open_engine",
    "optimize",
    "parse_date_bound",
    "parse_published",
    "parse_query",
    "plain",
    "publish",
    "query_log_path",
    "read_articles",
    "read_groups",
    "reindex",
    "related_articles",
    "suggestions",
    "settings_reference",
    "sync_cms",
    "terminal_safe",
]


def open_engine(settings: dict | None = None) -> SearchEngine:
    """Build the engine for the configured index (settings from ``load_settings``)."""
    groups = read_groups(settings or load_settings())
    index, ranking = groups.index, groups.ranking
    analyzer = Analyzer(index.segmenter, index.paths("userdict"))
    store = IndexStore(index.index, analyzer)
    return SearchEngine(
        store,
        RankingConfig.from_settings(ranking),
        synonyms=Synonyms.load(analyzer.normalizer.text, index.paths("synonyms")),
        snippet_chars=groups.snippets.snippet_chars,
        fragments=groups.snippets.snippet_fragments,
        max_window=ranking.max_result_window,
        reranker=load_reranker(ranking.ranker_model),
    )
