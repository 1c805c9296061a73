import gzip
import itertools
import json
import random
import re

import pytest

from search.analysis import Analyzer, PhraseFinder, Segmenter, bigram_tokens

from .conftest import SHARED, held_at_positions
from .parts import require


def words(analyzer, text, index=False):
    return [(t.text, t.pos, text[t.start : t.end]) for t in analyzer.words(text, index=index)]


def test_normalize_full_width_traditional_case(analyzer):
    norm, offsets = analyzer.normalizer("ＣＯＶＩＤ－１９衛生健康委員會")
    assert norm == "covid-19卫生健康委员会"
    assert offsets is None  # one-to-one: offsets are identity


def test_normalize_expanding_characters_keep_offsets(analyzer):
    text = "面积㎡达到①号"
    norm, offsets = analyzer.normalizer(text)
    assert norm == "面积m2达到1号"
    assert [text[i] for i in offsets] == list("面积㎡㎡达到①号")


def test_normalize_offsets_match_character_by_character_mapping(analyzer):
    table = analyzer.normalizer.table
    rng = random.Random(7)
    alphabet = "中文新闻臺灣…㎡①ＡＢ abc\t\n\u200bß²½ﬁ℃—"
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        pieces = [ch.translate(table) for ch in text]
        expected = [i for i, piece in enumerate(pieces) for _ in piece]
        norm, offsets = analyzer.normalizer(text)
        assert norm == "".join(pieces)
        assert (offsets or list(range(len(text)))) == expected, text


def test_word_tokens_positions_offsets_point_into_original(analyzer):
    text = "新冠肺炎疫情防控，ＣＯＶＩＤ－１９和C919以及5G基站2020年"
    assert words(analyzer, text) == [
        ("新冠肺炎", 0, "新冠肺炎"),
        ("疫情防控", 1, "疫情防控"),
        ("covid-19", 2, "ＣＯＶＩＤ－１９"),
        ("和", 3, "和"),
        ("c919", 4, "C919"),
        ("以及", 5, "以及"),
        ("5g", 6, "5G"),
        ("基站", 7, "基站"),
        ("2020年", 8, "2020年"),
    ]


def test_index_mode_adds_parts_at_the_same_position(analyzer):
    toks = [(t.text, t.pos) for t in analyzer.words("疫情防控COVID-19 2020年", index=True)]
    assert toks == [
        ("疫情防控", 0),
        ("疫情", 0),
        ("防控", 0),
        ("covid-19", 1),
        ("covid", 1),
        ("19", 1),
        ("2020年", 2),
        ("2020", 2),
    ]


def test_traditional_text_segments_like_simplified(analyzer):
    assert [t.text for t in analyzer.words("衛生健康委員會發佈疫情通報")] == [
        t.text for t in analyzer.words("卫生健康委员会发布疫情通报")
    ]


def test_bigrams_cover_any_substring(analyzer):
    toks = analyzer.bigrams("大学生活，冠状")
    assert [(t.text, t.pos, t.start, t.end) for t in toks] == [
        ("大学", 0, 0, 2),
        ("学生", 1, 1, 3),
        ("生活", 2, 2, 4),
        ("冠状", 4, 5, 7),  # a gap after punctuation: no phrase spans it
    ]
    assert [t.text for t in analyzer.bigrams("疫")] == ["疫"]
    assert [t.text for t in analyzer.bigrams("5G基站")] == ["5g", "基站"]


def test_user_dictionary_words(analyzer):
    assert [t.text for t in analyzer.words("蒸湘区落实联防联控", index=False)] == ["蒸湘区", "落实", "联防联控"]


def test_fingerprint_changes_with_dictionary(analyzer, tmp_path):
    extra = tmp_path / "dict.txt"
    extra.write_text("湘江新区 100 ns\n", encoding="utf-8")
    other = Analyzer(userdict=[extra])
    assert other.fingerprint != analyzer.fingerprint
    assert Analyzer().fingerprint == analyzer.fingerprint


# Phrases written for the project; news_sentences() combines them into sentences of news text.
WHEN = ["1月31日", "今天上午", "2023年6月", "近日", "昨天下午", "本周", "国庆期间", "第三季度", "去年以来", "凌晨3时许"]
WHO = [
    "衡阳市",
    "市委常委会",
    "南华大学",
    "蒸湘区人民政府",
    "市疾控中心",
    "雁峰区",
    "湘江新区管委会",
    "省交通运输厅",
    "南岳机场",
    "衡阳日报社",
    "市场监管局",
    "耒阳市公安局",
    "一名外卖骑手",
    "志愿者服务队",
    "市民王先生",
    "C919机组",
]
DID = ["召开", "部署", "启动", "举行", "发布", "开展", "通报", "推进", "落实", "调研", "表彰", "检查", "签约", "迎来"]
WHAT = [
    "新型冠状病毒肺炎疫情防控工作会议",
    "联防联控措施",
    "反诈宣传进社区活动",
    "5G校园网建设",
    "防汛抗旱应急演练",
    "高铁站改扩建项目",
    "乡村振兴示范点",
    "营商环境优化十条",
    "COVID-19疫苗接种",
    "大学生志愿者招募",
    "新能源汽车消费券",
    "垃圾分类专项整治",
    "APP适老化改造",
    "非物质文化遗产展",
    "食品安全抽检结果",
    "2024年重点民生实事",
]
AFTER = [
    "，要求各区县压实属地责任",
    "，现场签约金额达12.5亿元",
    "，吸引了3000余名市民参与",
    "，确保群众生命财产安全",
    "，相关负责人介绍了有关情况",
    "，为期三天",
    "。",
    "，记者从会上获悉",
    "，取得阶段性成效",
    "，受到广泛好评",
]


def news_sentences(n: int, seed: int = 23) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts = [
            rng.choice(WHEN),
            "，" if rng.random() < 0.3 else "",
            rng.choice(WHO),
            rng.choice(DID),
            rng.choice(WHAT),
        ]
        if rng.random() < 0.4:  # a second clause
            parts += ["，", rng.choice(WHO), rng.choice(DID), rng.choice(WHAT)]
        out.append("".join(parts) + rng.choice(AFTER))
    return out


def assert_same_words(sentences: list[str]) -> None:
    """The analyzer's words (jieba on each normalized CJK run, the newsroom dictionary) under rjieba and jieba."""
    fast, ref = Analyzer("rjieba"), Analyzer("jieba")
    assert (fast.segmenter.engine, ref.segmenter.engine) == ("rjieba", "jieba")
    differ = [s for s in sentences if fast.words(s) != ref.words(s)]
    assert differ == [], f"{len(differ)} of {len(sentences)} sentences cut differently, e.g. {differ[:3]}"


def test_rjieba_matches_jieba_reference():
    """rjieba and jieba 0.42.1 (HMM) cut a few thousand news sentences alike."""
    sentences = news_sentences(3000)
    assert len(set(sentences)) > 2500
    assert_same_words(sentences)


def test_rjieba_matches_jieba_on_a_sample_of_shared_news():
    """The same on 2,000 sentences sampled from xwlb (../shared, read at test time, never copied)."""
    corpus = SHARED / "news" / "xwlb.jsonl.gz"
    require(corpus.exists(), f"{corpus} is not on this machine")
    rng = random.Random(23)
    with gzip.open(corpus, "rt", encoding="utf-8") as lines:
        bodies = [json.loads(line).get("body") or "" for line in itertools.islice(lines, 3000)]
    sentences = [s for body in rng.sample(bodies, 400) for s in re.split(r"(?<=[。！？])", body) if s.strip()]
    assert len(sentences) >= 2000
    assert_same_words(rng.sample(sentences, 2000))


def test_unknown_segmenter():
    with pytest.raises(ValueError, match="unknown segmenter"):
        Segmenter("thulac")


@pytest.mark.parametrize(
    "phrase", ["5g基站", "一带，一路", "一带一路", "的5g", "c9-a 基站", "a 的 b", "基站5g", "一 带"]
)
def test_a_phrase_is_found_on_text_where_its_tokens_stand_at_their_positions(phrase):
    tokens = [(gram, pos) for gram, pos, _, _ in bigram_tokens(phrase)]
    finder = PhraseFinder(tokens)
    rng = random.Random(phrase)
    alphabet = "一带路5g基站，。 ab的-c9"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14))) for _ in range(3000)]
    texts += [phrase, f"x{phrase}x", f"，{phrase}。"]
    found = [t for t in texts if finder(t)]
    assert found == [t for t in texts if held_at_positions(_positions(t), tokens)]
    assert phrase in found


def _positions(text: str) -> dict[str, set[int]]:
    placed: dict[str, set[int]] = {}
    for gram, pos, _, _ in bigram_tokens(text):
        placed.setdefault(gram, set()).add(pos)
    return placed
