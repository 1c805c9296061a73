import itertools
import pickle
import re
import shutil
from dataclasses import fields, replace
from datetime import datetime, timedelta

import pytest

import search
from search.candidates import phrase_docs
from search.query import min_match
from search.ranking import RankingConfig
from search.storage import news_terms, term_postings

from .conftest import body_bigrams, held_at_positions, ids, write_jsonl


@pytest.mark.parametrize(
    "query, expected",
    [
        ("疫情防控", ["a1", "a3"]),  # a3 only says 疫情: a partial match filling a thin page, after
        ("疫情", ["a1", "a3"]),  # inside 疫情防控 (sub-word) and COVID-19疫情
        ("冠状病毒", ["a1"]),  # inside 新型冠状病毒肺炎
        ("大学生", ["a4", "a2"]),  # a2 only says 大学生活: found through bigrams
        ("疫", ["a1", "a3"]),  # one character
        ("衛生", []),
        ("聯防聯控", ["a1"]),  # traditional input
        ("ｃ９１９", ["a3"]),  # full-width input
        ("covid", ["a3"]),
        ("COVID-19", ["a3", "a1"]),  # a1 through the synonym 新型冠状病毒
        ("5G", ["a2"]),
        ("周建国", ["a1"]),
        ("蒸湘区", ["a4"]),
    ],
)
def test_recall_cases(engine, query, expected):
    assert ids(engine.search(query)) == expected


def test_all_words_must_match_then_relax(engine):
    assert ids(engine.search("衡阳 疫情防控")) == ["a1", "a3", "a2"]  # full match first; partial ones fill a thin page
    res = engine.search("疫情防控 马拉松")  # nothing has both: any word, then parts of words
    assert ids(res) == ["a1", "a3"]


def test_phrase_exclude_and_filters(engine):
    assert ids(engine.search('"大学生活"')) == ["a2"]
    assert ids(engine.search("大学生 -志愿者")) == ["a2"]
    assert ids(engine.search("title:大学生")) == ["a4"]
    assert ids(engine.search("大学生 source:红网")) == ["a4"]
    assert ids(engine.search("channel:交通")) == ["a3"]
    assert ids(engine.search("author:李华")) == ["a1"]
    assert ids(engine.search("疫情 after:2021-01-01")) == ["a3"]
    assert ids(engine.search("疫情 before:2020-12-31")) == ["a1"]
    assert ids(engine.search("after:2021 before:2022", sort="date")) == ["a2"]  # bounds are inclusive


def test_latin_word_prefix_of_a_longer_latin_word(engine):
    # titles often run latin together (ladybirdbooks…); a latin query word of 4+ characters
    # also finds longer latin words it begins, as weak evidence
    assert ids(engine.search("covi")) == ["a3"]  # covid-19
    assert ids(engine.search("c91")) == []  # too short to expand


def test_latin_word_inside_a_longer_latin_word(store, tmp_path):
    # titles glue latin words together (appleid, iphone6s…): a latin query word of 3+ characters is
    # found inside them too, as the same weak evidence as a prefix; whole words still come first
    docs = [
        {"id": "g1", "title": "如何修改myappleid密码", "body": ""},
        {"id": "g2", "title": "appleid注册教程", "body": ""},
        {"id": "g3", "title": "apple官网", "body": ""},
        {"id": "g4", "title": "jibs1988theeclecticparadigm百度文库", "body": ""},
    ]
    search.reindex(store, [write_jsonl(tmp_path / "glued.jsonl", docs)], full=True, workers=1)
    engine = search.SearchEngine(store)
    assert ids(engine.search("appleid")) == ["g2", "g1"]
    assert ids(engine.search("theeclecticparadigm")) == ["g4"]
    assert ids(engine.search("修改 appleid")) == ["g1", "g2"]
    assert ids(engine.search("ppleid")) == ["g2", "g1"]  # inside either
    assert ids(engine.search("leid")) == ["g2", "g1"]
    assert ids(engine.search("eid")) == ["g2", "g1"]
    assert ids(engine.search("id")) == []  # too short to look inside words
    corpus = engine.corpus(store.searcher())
    assert corpus.expand_infix("title", "apple") == ["myappleid"]  # not the words it begins: prefixes
    assert corpus.expand_infix("title", "1988") == ["jibs1988theeclecticparadigm"]


def test_phrases_with_latin_words_and_numbers(engine):
    # a latin word takes two bigram positions: the phrase follows the indexed gaps
    assert ids(engine.search('"5G校园网"')) == ["a2"]
    assert ids(engine.search('"国产大飞机C919"')) == ["a3"]
    assert ids(engine.search('"C919首次"')) == ["a3"]
    res = engine.search('"C919大飞机"')  # not in that order anywhere: its words, said so
    assert (ids(res), res.inexact, res.inexact_total) == (["a3"], ["C919大飞机"], 0)
    assert ids(engine.search('"COVID-19疫情"')) == ["a3"]


@pytest.mark.parametrize(
    "query, plain",
    [
        ('"', ""),
        ("-", ""),
        ("title:", ""),
        ("　", ""),
        ('-""', ""),
        ('"疫情', "疫情"),
        ('疫情"', "疫情"),
        ("“疫情", "疫情"),
        ("「疫情", "疫情"),
        ('疫情 "', "疫情"),
        ("衡阳 -", "衡阳"),
        ("衡阳 title:", "衡阳"),
        ("((衡阳", "衡阳"),
        ("衡阳 after:notadate", "衡阳 notadate"),
    ],
)
def test_malformed_syntax_degrades_to_a_plain_query(engine, query, plain):
    got, expected = engine.search(query), engine.search(plain)
    assert (ids(got), got.total) == (ids(expected), expected.total)
    assert (got.total > 0) == (plain != "")  # the words still find what they find


def test_exclusion_of_a_phrase_is_the_characters_in_order(engine):
    assert ids(engine.search("衡阳")) == ["a3", "a1", "a2"]
    # not words of the index: 防控工作 and 军训开始 stand in a1's and a2's bodies only as characters
    assert ids(engine.search('衡阳 -"防控工作"')) == ["a3", "a2"]
    assert ids(engine.search('衡阳 -"军训开始"')) == ["a3", "a1"]
    assert ids(engine.search('衡阳 -"C919"')) == ["a1", "a2"]
    assert ids(engine.search('衡阳 -"防控疫情"')) == ["a3", "a1", "a2"]  # the same characters in another order


def test_sort_by_date(engine):
    assert ids(engine.search("衡阳", sort="date")) == ["a3", "a2", "a1"]


def test_bad_parameters(engine):
    with pytest.raises(search.QueryError, match="page"):
        engine.search("x", page=0)
    with pytest.raises(search.QueryError, match="sort"):
        engine.search("x", sort="views")


def test_hit_fields_and_snippet(engine):
    hit = engine.search("联防联控").hits[0]
    assert hit.to_json() == {
        "id": "a1",
        "title": "衡阳召开疫情防控工作会议",
        "url": "",
        "published": "2020-02-01T09:30:00+08:00",
        "source": "衡阳日报",
        "channel": "时政",
        "score": hit.to_json()["score"],
        "snippet": "…会议要求各区落实<mark>联防联控</mark>措施。",
        "title_html": "衡阳召开疫情防控工作会议",
    }


def test_facets(engine):
    res = engine.search("衡阳", facets=True)
    assert res.facets["year"] == {"2020": 1, "2021": 1, "2023": 1}
    assert res.facets["channel"] == {"交通": 1, "教育": 1, "时政": 1}


def test_deletions_keep_the_codec_array_path(store, corpus):
    """A segment with deletions is read as arrays; the live mask, not a filter, drops deleted documents."""
    search.reindex(store, [corpus], full=True, workers=1)
    engine = search.SearchEngine(store)
    assert ids(engine.search("疫情防控")) == ["a1", "a3"]
    assert search.delete(store, ["a1"], merge=search.MergePolicy(max_deleted=1.0)) == 1  # kept, not merged away
    assert ids(engine.search("疫情防控")) == ["a3"]
    corpus_ = engine.corpus(store.searcher())
    assert corpus_.reader.has_deletions() and int(corpus_.live.sum()) == 3
    (segment, _), *_ = corpus_.segments
    assert news_terms(segment) is not None  # the codec's arrays, not Whoosh's per-posting deletion filter
    a1 = store.open().searcher().document_number(id="a1")
    assert a1 is None and term_postings(segment, "title", "疫情".encode(), None)[0].tolist() == [0]  # deleted a1
    assert term_postings(segment, "title", "没有这个词".encode(), None)[0].tolist() == []
    assert term_postings(segment, "no_such_field", "疫情".encode(), None)[0].tolist() == []


def test_words_scored_sparse_or_dense_score_the_same(engine, monkeypatch):
    """A word with few postings is scored over its own documents; a common one over all, and kept whole
    or for its scored documents only; its bigrams intersected by search or through arrays over every
    document: the same numbers, from a fresh corpus or from the word cache."""
    searcher = engine.store.searcher()
    queries = ["疫情防控", "大学生", "疫", "COVID-19 衡阳 机场", "尚恩有", "南华大学 新生 军训", "衡阳"]
    plans = [engine.plan(search.query.parse_query(q)) for q in queries]

    def scores(share: int, keep: int, corpus=None, lookup: int = search.scoring.DENSE_LOOKUP) -> list:
        monkeypatch.setattr(search.scoring, "SPARSE_SHARE", share)
        monkeypatch.setattr(search.scoring, "DENSE_KEEP", keep)
        monkeypatch.setattr(search.scoring, "DENSE_LOOKUP", lookup)
        fresh = corpus is None or not corpus._words._items
        corpus = corpus or search.scoring.Corpus(searcher)
        out = []
        for plan in plans:
            total, matched, per_word = corpus.score(plan.words)
            words = [[w.at(d) for d in range(corpus.n)] for w in per_word]
            if fresh and share > corpus.n and keep > corpus.n:  # every word over every document, kept whole
                assert all(w.docs is None or not len(w.docs) for w in per_word)
            elif fresh:
                assert all(w.docs is not None for w in per_word)
            out.append((total.tolist(), matched.tolist(), words))
        return out

    corpus = search.scoring.Corpus(searcher)
    dense = scores(10**9, 10**9, corpus)
    assert scores(0, 10**9) == dense  # sparse
    assert scores(10**9, 1) == dense  # dense, kept for the scored documents
    assert scores(0, 10**9, lookup=0) == scores(0, 10**9, lookup=10**9) == dense  # bigrams intersected both ways
    assert scores(0, 1, corpus) == dense  # from the cache
    assert len(corpus._words._items) == len({tuple(w.sources) for plan in plans for w in plan.words})
    assert any(any(total) for total, _, _ in dense) and any(any(m) for _, m, _ in dense)


def test_word_cache_key_tells_every_field_of_a_source():
    """The word cache's key (plain tuples, hashed in C) differs when any field of any source differs."""
    base = search.words.Source("body", ("衡阳",), 1.0)
    other = {"field": "title", "terms": ("衡", "阳"), "weight": 2.0, "prefix": True, "partial": True, "infix": True}
    assert set(other) == {f.name for f in fields(search.words.Source)}
    key = search.scoring._word_key(search.words.WordPlan("衡阳", [base]))
    assert key == search.scoring._word_key(search.words.WordPlan("衡阳", [replace(base)]))
    for name, value in other.items():
        changed = search.words.WordPlan("衡阳", [replace(base, **{name: value})])
        assert search.scoring._word_key(changed) != key, name


SAMPLE_QUERIES = [
    "衡阳", "衡阳 新闻", "衡阳市 发展 经济", "城市 建设 项目 推进 工作 会议", "记者 报道 发展",
    "南华大学 新生 军训", "疫情防控", "COVID-19 衡阳 机场", "5G 基站", "高铁 衡阳 站 开通 运营 旅客",
    "衡阳 -高铁", "title:衡阳 发展", "“衡阳” 发展", "source:衡阳日报 发展", "中国", "市 区 县",
]  # fmt: skip


def test_deferred_words_rank_as_every_word_scored(sample_index, monkeypatch):
    """Common words scored only where they can reach the top (``Scoring.resolve``, ``ordering.contenders``) give
    the page, total, scores and explained parts that scoring every document gives, on every page and sort."""
    engine = search.open_engine(search.load_settings(overrides={"INDEX": str(sample_index)}))

    def results(defer: int, resolve: int, few: int = 0) -> list:
        monkeypatch.setattr(search.scoring, "DEFER_SHARE", defer)
        monkeypatch.setattr(search.scoring, "DEFER_FROM", 0)  # deferred in a collection of any size
        monkeypatch.setattr(search.ordering, "RESOLVE_SHARE", resolve)
        monkeypatch.setattr(search.ordering, "FEW_CONTENDERS", few)  # bounds tightened down to one window
        monkeypatch.setattr(search.ordering, "CANDIDATES", 4)  # a window (62 for page 1) below the 169 articles
        engine._corpora.clear()
        engine._by_searcher.clear()
        out = []
        for q in SAMPLE_QUERIES:
            for options in ({}, {"page": 2, "size": 5}, {"sort": "date"}, {"explain": True}, {"facets": True}):
                r = engine.search(q, **options)
                out.append((q, r.total, r.facets, [(h.id, h.score, h.explain) for h in r.hits]))
        return out

    resolved, whole = [], []
    real_resolve, real_score_word = search.scoring.Scoring.resolve, search.scoring.Scoring.score_word
    monkeypatch.setattr(search.scoring.Scoring, "resolve", lambda s, d: resolved.append(len(d)) or real_resolve(s, d))
    monkeypatch.setattr(search.scoring.Scoring, "score_word", lambda s, i: whole.append(i) or real_score_word(s, i))
    every = results(0, 1)  # no word deferred
    assert not resolved and not whole
    assert results(10**9, 1) == every  # every word deferred, tightened on the contenders' scores
    assert resolved and max(resolved) < engine.corpus(engine.store.searcher()).n  # the top, not every document
    assert not whole
    assert results(10**9, 10**9) == every  # every word deferred, tightened on every document's scores
    assert whole
    assert results(10**9, 1, few=10**9) == every  # every word deferred, the contenders resolved at once
    assert results(search.scoring.DEFER_SHARE, 16, 4) == every  # the defaults
    assert sum(1 for _, total, _, hits in every if total and hits) > 40


def test_latin_prefixes_expand_as_whoosh_expands_them(store, tmp_path, monkeypatch, sample_index):
    """Latin prefixes expand from the sorted in-memory lexicon exactly as Whoosh's term index over every segment."""
    shutil.copytree(sample_index, store.root)  # the sample corpus, built once a session
    more = [{"id": "x1", "title": "iPhone15与iPad发布", "body": "苹果iphone 15和ipad air，5G-A与5g5a网络，A股"}]
    search.reindex(store, [write_jsonl(tmp_path / "more.jsonl", more)])
    monkeypatch.setattr(search.scoring, "PREFIX_EXPANSION_LIMIT", 5)
    corpus = search.SearchEngine(store).corpus(store.searcher())
    assert len(corpus.segments) == 2
    checked = 0
    for field in ("title", "lead", "body"):
        lexicon = corpus.latin_lexicon(field)
        assert lexicon == sorted(lexicon) and all(t[0].isascii() for t in lexicon)
        for prefix in sorted({t[:n] for t in lexicon for n in (1, 2, 3)} | {"zzz", "0", "~", "a股"}):
            expected = [t.decode("utf-8") for t in itertools.islice(corpus.reader.expand_prefix(field, prefix), 5)]
            assert corpus.expand_prefix(field, prefix) == expected, (field, prefix)
            checked += bool(expected)
    assert checked > 100 and "iphone" in corpus.expand_prefix("body", "iph")


def test_phrase_and_filter_documents_are_kept_per_query(engine, monkeypatch):
    """A phrase or filter is matched once per index version; every attribute of the query keys it."""
    searcher = engine.store.searcher()
    asked, phrased = [], []
    real = type(searcher).docs_for_query
    monkeypatch.setattr(type(searcher), "docs_for_query", lambda self, q, **kw: asked.append(q) or real(self, q, **kw))
    real_phrase = search.scoring.Corpus.phrase_docs
    monkeypatch.setattr(
        search.scoring.Corpus,
        "phrase_docs",
        lambda self, f, phrase, n: phrased.append((f, "+".join(phrase.runs))) or real_phrase(self, f, phrase, n),
    )
    assert ids(engine.search('"疫情防控"')) == ids(engine.search('"疫情防控" 会议')) == ["a1"]
    assert (phrased, asked) == ([("title_bg", "疫情防控"), ("body_bg", "疫情防控")], [])  # once, on normalized texts
    res = engine.search('"防控疫情"')  # the same characters, another order: no exact match, its words instead
    assert (res.inexact, res.inexact_total, len(phrased)) == (["防控疫情"], 0, 4)
    assert ids(engine.search('"5G校园"')) == ["a2"] and ids(engine.search('"5G 校园"')) == ["a2"]
    assert engine.search('"5G园校"').inexact_total == 0
    # a latin word inside: Whoosh lines up the title's positions, the body's text is read
    assert (len(asked), phrased[4:]) == (2, [("body_bg", "5g+校园"), ("body_bg", "5g+园校")])
    assert ids(engine.search("衡阳", channel="教育")) == ["a2"]  # its source, 衡阳晚报
    assert ids(engine.search("衡阳", channel="时政")) == ids(engine.search("会议", channel="时政")) == ["a1"]
    assert len({pickle.dumps(q) for q in asked}) == len(asked) == 4  # none asked twice


def test_phrases_found_on_normalized_texts_as_positions_place_them(store, tmp_path, sample_index):
    """Every CJK phrase of the sample corpus, and tricky ones, match exactly the documents where its tokens stand
    at their positions: Whoosh's on the title's bigrams, the body's (which keeps none) as the analysis places them."""
    shutil.copytree(sample_index, store.root)  # the sample corpus, built once a session
    tricky = [
        {
            "id": "t1",
            "title": "七一，勋章获得者",
            "body": "表彰大会举行。",
        },  # the title's punctuation splits the phrase
        {"id": "t2", "title": "表彰大会", "lead": "七一勋章颁授仪式举行", "body": "仪式在北京举行。"},  # in the lead
        {"id": "t3", "title": "勋章", "body": "七一 勋章获得者\n七一\n勋章"},  # split by a space and a line
        {"id": "t4", "title": "國家情報局成立", "body": "日本擬設國家情報局。"},  # traditional text
        {"id": "t5", "title": "一带一路一带", "body": "共建一带一路倡议，一带一路"},
        # every bigram of 七一勋章, which the title spells only once its punctuation is gone
        {"id": "t6", "title": "七一，勋章与一勋", "body": "无关。"},
        {"id": "t7", "title": "提速", "lead": "城区试验6G", "body": "基站建设提速"},  # across the lead's end
    ]
    search.reindex(store, [write_jsonl(tmp_path / "tricky.jsonl", tricky)])
    engine = search.SearchEngine(store)
    searcher = store.searcher()
    corpus = engine.corpus(searcher)
    assert len(corpus.segments) == 2
    normalize = store.analyzer.normalizer.text
    texts = [normalize(d.get(f) or "") for d in map(corpus.stored, range(corpus.n)) for f in ("title", "lead", "body")]
    runs = {m for t in texts for m in re.findall(r"[\u4e00-\u9fff]{3,}", t)}
    phrases = sorted({r[i : i + n] for r in runs for n in (3, 4, 6) for i in range(len(r) - n + 1)})[::25]
    phrases += ["七一勋章", "國家情報局", "一带一路", "带一路一", "勋章获得者", "获得者表彰", "勋章", "七一", "三农"]
    phrases += ["5G基站", "5G 校园", "C919大飞机", "2024年", "七一，勋章", "一带，一路"]  # runs with gaps between
    placed = [body_bigrams(store.analyzer, corpus.stored(d)) for d in range(corpus.n)]
    found = 0
    for phrase in phrases:
        clause = search.words.phrase_clause(store.analyzer, phrase)
        title, _ = clause.subqueries
        tokens = [(t.text, t.pos) for t in store.analyzer.bigrams(phrase)]
        body = {d for d, grams in enumerate(placed) if held_at_positions(grams, tokens)}
        expected = sorted(body | set(searcher.docs_for_query(title)))
        assert phrase_docs(corpus, searcher, clause, normalize).tolist() == expected, phrase
        found += bool(expected)
    assert len(phrases) > 500 and found > 500
    tricky_ids = {
        p: sorted(
            corpus.stored(d)["id"]
            for d in phrase_docs(corpus, searcher, search.words.phrase_clause(store.analyzer, p), normalize)
        )
        for p in ("七一勋章", "国家情报局", "一带一路", "6G基站")
    }
    assert tricky_ids == {"七一勋章": ["t2"], "国家情报局": ["t4"], "一带一路": ["t5"], "6G基站": ["t7"]}


def test_warm_loads_what_a_first_faceted_search_reads(engine, monkeypatch):
    engine.warm()
    built = []
    real = search.scoring.Corpus.column

    def column(self, name, translate=False):
        if name not in self._columns:
            built.append(name)
        return real(self, name, translate)

    monkeypatch.setattr(search.scoring.Corpus, "column", column)
    assert engine.search("衡阳", facets=True).facets["year"] and built == []


def test_weak_answers_are_flagged_and_not_highlighted(engine):
    strong = engine.search("大学生")
    assert (strong.weak, strong.missing) == (False, [])
    assert "<mark>大学生</mark>" in strong.hits[0].snippet
    assert "weak" not in strong.to_json() and "missing" not in strong.to_json()
    # No article holds xyzzy; 周建国 is a fair partial answer: shown, xyzzy reported missing.
    partial = engine.search("周建国 xyzzy")
    assert (partial.weak, partial.missing, ids(partial)) == (False, ["xyzzy"], ["a1"])
    assert partial.hits[0].snippet == "市长<mark>周</mark><mark>建国</mark>强调坚持联防联控。"
    assert partial.to_json()["missing"] == ["xyzzy"] and "weak" not in partial.to_json()
    # 衡阳 is in most articles: on its own it says nothing, the answer is weak and marks nothing.
    weak = engine.search("衡阳 xyzzy")
    assert (weak.weak, weak.missing) == (True, ["xyzzy"]) and weak.total == 3
    assert [h.snippet for h in weak.hits if "<mark>" in h.snippet] == []
    assert weak.to_json()["weak"] is True
    # Only stop words: whatever holds them is not an answer, and 的 is never marked.
    stop = engine.search("的")
    assert stop.weak and ids(stop) == ["a2"] and "<mark>" not in stop.hits[0].snippet
    # A long query with enough of its words (min_match) in one article is not weak.
    assert not engine.search("衡阳 疫情防控 会议 xyzzy").weak


def test_latest_by_channel(engine):
    assert engine.latest(per_channel=1, channels=3) == [
        {
            "channel": "社会",
            "articles": [
                {
                    "id": "a4",
                    "title": "蒸湘区大学生志愿者走进社区",
                    "published": "2024-03-10T08:00:00+08:00",
                    "source": "红网",
                }
            ],
        },
        {
            "channel": "交通",
            "articles": [
                {
                    "id": "a3",
                    "title": "C919首次飞抵衡阳南岳机场",
                    "published": "2023-06-01T15:00:00+08:00",
                    "source": "衡阳新闻网",
                }
            ],
        },
        {
            "channel": "教育",
            "articles": [
                {
                    "id": "a2",
                    "title": "南华大学迎来新生",
                    "published": "2021-09-05T10:00:00+08:00",
                    "source": "衡阳晚报",
                }
            ],
        },
    ]
    # a deleted article leaves the box
    search.delete(engine.store, ["a4"])
    assert [c["channel"] for c in engine.latest(per_channel=1)] == ["交通", "教育", "时政"]


# --- README promises: recovery, recency, field names, quotes, long queries, facets ---


def test_did_you_mean_comes_with_the_results_of_a_typo(engine, tmp_path):
    # t1 has the typo 疫请 in its body: the query finds it, and 疫情 (more frequent, same sound) is suggested
    typo = {"id": "t1", "title": "市民反映社区信息更新慢", "body": "有市民来电反映，社区疫请信息更新慢。"}
    search.reindex(engine.store, [write_jsonl(tmp_path / "typo.jsonl", [typo])])
    res = engine.search("疫请")
    assert (ids(res), res.suggestion, res.rewritten) == (["t1"], "疫情", None)
    assert res.to_json()["suggestion"] == "疫情"
    assert engine.search("疫情").suggestion is None


def test_recency_prior_favours_fresh_news(store, tmp_path):
    recent = (datetime.now() - timedelta(days=3)).strftime("%Y-%m-%d %H:%M:%S")
    docs = [
        {
            "id": "old",
            "title": "湘江大桥维修",
            "body": "湘江大桥维修施工，湘江大桥分时段封闭。",
            "published": "2012-05-01 08:00:00",
        },
        {"id": "new", "title": "湘江大桥维修", "body": "湘江大桥维修施工。", "published": recent},
    ]
    search.reindex(store, [write_jsonl(tmp_path / "bridge.jsonl", docs)], full=True, workers=1)

    def engine_with(**overrides):
        ranking = search.read_groups(search.load_settings(overrides=overrides)).ranking
        return search.SearchEngine(store, RankingConfig.from_settings(ranking))

    off = engine_with().search("湘江大桥", collapse=False, explain=True)
    on = engine_with(RECENCY_HALF_LIFE_DAYS=365).search("湘江大桥", collapse=False, explain=True)
    assert ids(off) == ["old", "new"] and {h.explain["recency_factor"] for h in off.hits} == {1.0}  # off by default
    assert ids(on) == ["new", "old"]
    assert on.hits[0].explain["recency_factor"] > 1.09 and on.hits[1].explain["recency_factor"] < 1.001


@pytest.mark.parametrize(
    "chinese, english, expected",
    [
        ("标题:大学生", "title:大学生", ["a4"]),
        ("来源:衡阳日报", "source:衡阳日报", ["a1"]),
        ("来源：衡阳晚报 大学", "source:衡阳晚报 大学", ["a2"]),
        ("作者:李华", "author:李华", ["a1"]),
        ("栏目:教育", "channel:教育", ["a2"]),
    ],
)
def test_chinese_field_names(engine, chinese, english, expected):
    assert ids(engine.search(chinese)) == ids(engine.search(english)) == expected


@pytest.mark.parametrize("query", ['"大学生活"', "“大学生活”", "「大学生活」"])
def test_a_quoted_phrase_on_its_own_finds_the_exact_phrase(engine, query):
    assert sorted(ids(engine.search("大学生活"))) == ["a2", "a4"]  # a4: 大学生 志愿者, not the phrase
    assert ids(engine.search(query)) == ["a2"]


def test_up_to_three_words_all_must_match_longer_queries_rank_by_bm25f(engine):
    # 3 words: a4 (大学生, 志愿者, 社区) has them all; a2 has only 大学生 and comes after, as a partial match
    assert ids(engine.search("大学生 志愿者 社区")) == ["a4", "a2"]
    res = engine.search("大学生 志愿者 社区", explain=True)
    assert res.hits[0].explain["words"].keys() == {"大学生", "志愿者", "社区"}
    assert min_match(3) == 3 and min_match(4) == 3 and min_match(8) == 6  # planned min-should-match


def test_source_facet_counts_every_match(engine):
    res = engine.search("衡阳", facets=True, size=1)
    assert len(res.hits) == 1
    assert res.facets["source"] == {"衡阳新闻网": 1, "衡阳日报": 1, "衡阳晚报": 1}
    assert res.facets["channel"] == {"交通": 1, "时政": 1, "教育": 1}
    assert ids(engine.search("衡阳", source="衡阳晚报")) == ["a2"]


def test_a_related_box_is_kept_for_its_index_version(engine, tmp_path):
    from search import related as related_module

    first = related_module.related(engine, "a1", 3)
    assert related_module.related(engine, "a1", 3) == first  # kept: the same answer, a copy
    related_module.related(engine, "a1", 3)[0]["title"] = "changed by a caller"
    assert related_module.related(engine, "a1", 3) == first
    extra = {"id": "a9", "title": "衡阳疫情防控联防联控会议召开", "body": "衡阳市召开疫情防控联防联控工作会议。"}
    search.reindex(engine.store, [write_jsonl(tmp_path / "more.jsonl", [extra])])
    assert "a9" in [item["id"] for item in related_module.related(engine, "a1", 3)]  # a new version: made again
    assert len(related_module._ANSWERS) <= related_module.ANSWERS_KEPT
