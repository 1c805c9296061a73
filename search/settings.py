"""One settings table: every tunable has a name, a default and a help line.

The table feeds the CLI (``--index`` and friends read ``NEWS_SEARCH_*``
environment variables), the web app's config (``create_app`` reads the same
variables, then a test mapping) and the configuration reference,
``docs/configuration.md``, written by ``python cli.py settings``
(``tests/test_settings.py`` checks it is current and that every setting is read).
Nothing here reads the environment at import time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

ENV_PREFIX = "NEWS_SEARCH_"


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str

    @property
    def envvar(self) -> str:
        return ENV_PREFIX + self.name


SETTINGS: tuple[Setting, ...] = (
    Setting("INDEX", "indexes/default", "Index directory (holds CURRENT and its generations)."),
    Setting("SEGMENTER", "rjieba", "Word segmenter: rjieba (fast, default) or jieba (reference)."),
    Setting("USERDICT", "", "Extra user dictionary files for jieba, separated by the OS path separator."),
    Setting(
        "SYNONYMS",
        "",
        "Extra synonym files, separated by the OS path separator: one group per line, its words comma separated "
        "(added to the built-in groups of search/data/synonyms.txt).",
    ),
    Setting("WORKERS", 0, "Processes used to analyse articles while indexing (0 = one per core)."),
    Setting(
        "WRITER_MB",
        256,
        "Postings each index writer process buffers in memory before it writes them as a segment, in MB "
        "(Whoosh's estimate): bounds a build's largest process whatever the corpus size; segments are merged after.",
    ),
    Setting("TITLE_WEIGHT", 8.0, "Ranking weight of the title field."),
    Setting("LEAD_WEIGHT", 6.0, "Ranking weight of the lead (核心提示 or derived opening)."),
    Setting("BODY_WEIGHT", 1.0, "Ranking weight of the body field."),
    Setting("META_WEIGHT", 1.2, "Ranking weight of source, author, channel and tag fields."),
    Setting("BIGRAM_WEIGHT", 0.6, "Weight of character-bigram evidence relative to word evidence."),
    Setting("RECENCY_HALF_LIFE_DAYS", 0.0, "Half-life of the news recency prior in days (0 = off)."),
    Setting("RECENCY_WEIGHT", 0.1, "Largest share of a score the recency prior can add."),
    Setting("SNIPPET_CHARS", 120, "Target length of one snippet fragment, in characters."),
    Setting("SNIPPET_FRAGMENTS", 2, "Maximum snippet fragments per hit."),
    Setting("MAX_QUERY_CHARS", 256, "Longest query accepted; longer input is rejected with a 400."),
    Setting("PAGE_SIZE", 10, "Default hits per page."),
    Setting("MAX_PAGE_SIZE", 100, "Largest page size a caller may ask for."),
    Setting("QUERY_LOG", "", "SQLite query log path (empty = <index>/querylog.sqlite3)."),
    Setting("QUERY_LOG_MAX_ROWS", 200_000, "Rows kept in the query log before the oldest are rotated out."),
    Setting("HOT_TTL_SECONDS", 30.0, "How long hot searches and click counts are reused before the log is read again."),
    Setting("CLICK_LOG", False, "Record clicks on result links (/go/<id>) for hot articles; off by default."),
    Setting("CORS_ORIGINS", "", "Origins allowed to call the API from a browser (comma separated, * for any)."),
    Setting("SERVE_THREADS", 8, "Threads of the production WSGI server."),
    Setting("SERVE_WORKERS", 2, "Worker processes of the production WSGI server."),
    Setting("HOT_MIN_CLIENTS", 3, "Distinct clients that must have searched a query before it is a hot search."),
    Setting(
        "HOT_WINDOW_SECONDS",
        3600.0,
        "A client's repeated search or click counts once per window of this many seconds (at most a day).",
    ),
    Setting("HOT_DENYLIST", "", "Extra deny-list files for hot lists (OS path separator between files)."),
    Setting(
        "TRUSTED_PROXIES",
        0,
        "Proxies in front of the service that append X-Forwarded-For (1 behind one nginx; 0 = use the socket address).",
    ),
    Setting(
        "PUBLISH_KEEP_SECONDS",
        600,
        "How long a replica keeps a generation after it stopped being current (and a stale tmp- copy) "
        "before a publish removes it.",
    ),
    Setting("PUBLISH_RSH", "ssh", "Remote shell for publishing to host:/path replicas (rsync -e and the switch)."),
    Setting(
        "CMS_DSN",
        "",
        "The CMS database `sync` reads, mysql://user:password@host/db (?unix_socket=PATH); never printed.",
    ),
    Setting(
        "MAX_RESULT_WINDOW",
        1000,
        "Results a search pages through: page × size beyond it is rejected with a 400 (deeper results are not paged).",
    ),
    Setting(
        "MAX_FILE_MB", 32, "Largest .json, .txt or .html article file read (larger ones are reported and skipped)."
    ),
    Setting(
        "MAX_STREAM_MB", 2048, "Most bytes read from one JSON Lines file after decompression (the rest is reported)."
    ),
    Setting("MAX_RECORD_MB", 8, "Longest JSON Lines record (line); a longer one is reported with file and line."),
    Setting(
        "MAX_BODY_CHARS", 1_000_000, "Longest article body, in characters; a longer article is reported and skipped."
    ),
    Setting(
        "RANKER_MODEL",
        "",
        "LightGBM model (a file benchmarks/train_ranker.py wrote; needs lightgbm) that reorders the top 30 "
        "candidates of a relevance search; empty = the hand-tuned order (docs/learning-to-rank.md: off, too slow "
        "for its gain).",
    ),
    Setting(
        "MERGE_SEGMENTS",
        8,
        "Segments an incremental reindex or delete may leave; past that the smallest are merged until half "
        "are left. A full build ends as one segment (0 = never merge by count, not even then; `optimize` merges all).",
    ),
    Setting(
        "MERGE_DELETED",
        0.2,
        "Share of deleted articles (0-1) past which an incremental reindex or delete merges a segment, dropping them.",
    ),
)

SETTINGS_BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}


def _coerce(setting: Setting, raw: Any) -> Any:
    """Convert ``raw`` to the type of the setting's default."""
    default = setting.default
    if isinstance(raw, str) and not isinstance(default, str):
        if isinstance(default, bool):
            return raw.strip().lower() in {"1", "true", "yes", "on"}
        try:
            return type(default)(raw.strip())
        except ValueError as exc:
            raise ValueError(f"setting {setting.envvar}: {raw!r} is not a valid {type(default).__name__}") from exc
    return raw


def load_settings(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Return every setting: defaults, then ``NEWS_SEARCH_*`` variables, then ``overrides``."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        value = setting.default
        if setting.envvar in env:
            value = _coerce(setting, env[setting.envvar])
        values[setting.name] = value
    for name, value in (overrides or {}).items():
        if name not in SETTINGS_BY_NAME:
            raise KeyError(f"unknown setting {name!r}")
        values[name] = _coerce(SETTINGS_BY_NAME[name], value)
    return values


def reference() -> str:
    """The configuration reference (``docs/configuration.md``): every setting, its variable, default and help."""
    lines = [
        "# Configuration reference",
        "",
        "Every setting is read from its environment variable (or `create_app`'s mapping in tests).",
        "Written from `search/settings.py` by `python cli.py settings > docs/configuration.md`; do not edit by hand.",
        "",
        "| setting | environment variable | default | meaning |",
        "|---|---|---|---|",
    ]
    for s in SETTINGS:
        default = "" if s.default == "" else f"`{s.default!r}`" if isinstance(s.default, str) else f"`{s.default}`"
        meaning = s.help.replace("|", "\\|")
        lines.append(f"| {s.name} | `{s.envvar}` | {default} | {meaning} |")
    return "\n".join(lines) + "\n"


# --- typed groups ------------------------------------------------------------
# The table read into frozen groups, one field per setting (its name in lower case, typed like its
# default): the engine takes groups rather than coercing dict values at each use.


class _Group:
    def paths(self, name: str) -> list[str]:
        """A setting of files separated by the OS path separator (``userdict``, ``synonyms``…), as a list."""
        return [p for p in str(getattr(self, name)).split(os.pathsep) if p]


@dataclass(frozen=True)
class IndexSettings(_Group):
    """Where the index is and how articles are analysed and written into it."""

    index: str
    segmenter: str
    userdict: str
    synonyms: str
    workers: int
    writer_mb: int
    merge_segments: int
    merge_deleted: float


@dataclass(frozen=True)
class RankingSettings:
    """Field weights, the recency prior, the learned re-ranker and how deep results are paged."""

    title_weight: float
    lead_weight: float
    body_weight: float
    meta_weight: float
    bigram_weight: float
    recency_half_life_days: float
    recency_weight: float
    ranker_model: str
    max_result_window: int


@dataclass(frozen=True)
class SnippetSettings:
    """How snippets are cut."""

    snippet_chars: int
    snippet_fragments: int


@dataclass(frozen=True)
class ServingSettings(_Group):
    """What the web app accepts and how its query log and hot lists behave."""

    max_query_chars: int
    page_size: int
    max_page_size: int
    query_log_max_rows: int
    hot_ttl_seconds: float
    hot_window_seconds: float
    hot_min_clients: int
    hot_denylist: str
    click_log: bool
    cors_origins: str
    trusted_proxies: int


@dataclass(frozen=True)
class Groups:
    """The settings the engine and the web app read, by group (``read_groups``)."""

    index: IndexSettings
    ranking: RankingSettings
    snippets: SnippetSettings
    serving: ServingSettings


def _group(cls: type, values: Mapping[str, Any]) -> Any:
    """A group from ``values`` (``load_settings``): each field from the setting of its name, typed like its default."""
    out = {}
    for f in fields(cls):
        setting = SETTINGS_BY_NAME[f.name.upper()]
        value = _coerce(setting, values.get(setting.name, setting.default))
        out[f.name] = type(setting.default)(value) if setting.default is not None else value
    return cls(**out)


def read_groups(values: Mapping[str, Any] | None = None) -> Groups:
    """The engine's settings as typed, frozen groups (``values``: from ``load_settings``; None: loaded)."""
    values = load_settings() if values is None else values
    return Groups(
        _group(IndexSettings, values),
        _group(RankingSettings, values),
        _group(SnippetSettings, values),
        _group(ServingSettings, values),
    )
