import random

import pytest

from search.analysis import Analyzer, Segmenter


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


def test_rjieba_matches_jieba_reference():
    text = "衡阳市召开新型冠状病毒肺炎疫情防控工作会议，要求各区县落实联防联控措施，南华大学附属第一医院院长刘振华介绍救治情况。"
    assert Segmenter("rjieba").cut(text) == Segmenter("jieba").cut(text)


def test_unknown_segmenter():
    with pytest.raises(ValueError, match="unknown segmenter"):
        Segmenter("thulac")
