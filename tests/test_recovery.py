import pytest

from search.recovery import Synonyms, Vocabulary, looks_like_pinyin

from .conftest import ids

VOCAB = Vocabulary({"疫情": 50, "防控": 30, "一晴": 1, "衡阳": 40, "邓雨桐": 5, "疫苗": 20})


def test_pinyin_input():
    assert VOCAB.from_pinyin("yiqing") == "疫情"
    assert VOCAB.from_pinyin("yiqingfangkong") == "疫情 防控"
    assert VOCAB.from_pinyin("hengyang yiqing") == "衡阳 疫情"
    assert VOCAB.from_pinyin("yq") == "疫情"  # initials: the most frequent word
    assert VOCAB.from_pinyin("xyzzy") is None


def test_pinyin_with_apostrophes_hyphens_capitals_and_digits():
    vocab = Vocabulary({"嫦娥": 8, "五号": 6, "西安": 5, "方案": 10, "反感": 3, "神舟": 7, "基站": 4})
    for typed in ("chang'e", "Chang’e", "CHANG'E", "chang e", "chang-e", "change"):
        assert vocab.from_pinyin(typed) == "嫦娥", typed
    assert vocab.from_pinyin("chang'e wuhao") == vocab.from_pinyin("Chang'e-wu-hao") == "嫦娥 五号"
    assert vocab.from_pinyin("xi'an") == "西安"
    # the apostrophe says where syllables break: fang'an is 方案, fan'gan is 反感
    assert (vocab.from_pinyin("fangan"), vocab.from_pinyin("fang'an"), vocab.from_pinyin("fan'gan")) == (
        "方案",
        "方案",
        "反感",
    )
    # a number after a hyphen joins the word in Chinese numerals; letters glued to digits stay
    assert vocab.from_pinyin("Chang'e-5") == "嫦娥五"
    assert vocab.from_pinyin("shenzhou-15") == "神舟十五"
    assert vocab.from_pinyin("5g jizhan") == "5g 基站"
    assert vocab.from_pinyin("iphone 12") is None


def test_homophone_correction_and_completion():
    assert VOCAB.correct("疫请") == "疫情"
    assert VOCAB.correct("疫情") is None
    assert VOCAB.complete("yi") == ["疫情", "疫苗", "一晴"]


def test_looks_like_pinyin():
    assert looks_like_pinyin("yiqing") and looks_like_pinyin("heng yang")
    assert not looks_like_pinyin("C919") and not looks_like_pinyin("疫情") and not looks_like_pinyin("a")
    assert looks_like_pinyin("Chang'e-5") and looks_like_pinyin("xi'an") and looks_like_pinyin("5g jizhan")
    assert not looks_like_pinyin("5g") and not looks_like_pinyin("pm2.5")


def test_synonym_groups(analyzer):
    syn = Synonyms([["新冠", "新型冠状病毒", "COVID-19"]], analyzer.normalizer.text)
    assert syn.of("covid-19") == ["新冠", "新型冠状病毒"]
    assert syn.of("新冠") == ["新型冠状病毒", "covid-19"]
    assert syn.of("疫情") == []


@pytest.mark.parametrize(
    "query, expected, rewritten, reason",
    [
        ("yiqing", ["a1", "a3"], "疫情", "pinyin"),
        ("zhengxiangqu", ["a4"], "蒸湘区", "pinyin"),
        ("聯防聯控", ["a1"], "联防联控", "traditional"),
        ("疫请", ["a1", "a3"], "疫情", "spelling"),
    ],
)
def test_engine_recovery_paths(engine, query, expected, rewritten, reason):
    res = engine.search(query)
    assert (ids(res), res.rewritten, res.rewrite_reason) == (expected, rewritten, reason)


def test_synonyms_find_and_highlight(engine):
    res = engine.search("新冠")  # a1 says 新型冠状病毒, a3 says COVID-19
    assert sorted(ids(res)) == ["a1", "a3"]
    assert any("<mark>COVID-19</mark>" in h.snippet for h in res.hits)
