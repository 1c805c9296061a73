from search.snippets import Fragment, fragments, highlight, locate, plain


def test_marks_every_term_in_original_text(analyzer):
    text = "衛生健康委員會發佈通報。疫情防控形勢穩定，聯防聯控機制運轉良好。"
    out = highlight(text, ["卫生", "联防联控"], analyzer.normalizer, width=120, top=2)
    assert out == "<mark>衛生</mark>健康委員會發佈通報。…疫情防控形勢穩定，<mark>聯防聯控</mark>機制運轉良好。"


def test_a_fragment_with_more_distinct_terms_wins(analyzer):
    text = "衡阳衡阳衡阳。今天衡阳召开会议。"
    assert (
        highlight(text, ["衡阳", "会议"], analyzer.normalizer, top=1) == "…今天<mark>衡阳</mark>召开<mark>会议</mark>。"
    )


def test_escapes_article_html(analyzer):
    text = "标题<script>alert(1)</script>里有疫情。"
    assert (
        highlight(text, ["疫情"], analyzer.normalizer)
        == "标题&lt;script&gt;alert(1)&lt;/script&gt;里有<mark>疫情</mark>。"
    )


def test_long_sentence_trimmed_at_clause(analyzer):
    text = "，".join(["无关内容写在这里"] * 30) + "，疫情防控工作有序推进，" + "，".join(["后面还有内容"] * 30) + "。"
    out = highlight(text, ["疫情防控"], analyzer.normalizer, width=40, top=1)
    assert "<mark>疫情防控</mark>" in out and len(plain(out)) <= 44
    assert out.startswith("…") and out.endswith("…")


def test_fallback_to_lead(analyzer):
    assert highlight("正文没有匹配。", ["马拉松"], analyzer.normalizer, width=4, fallback="核心提示内容") == "核心提示…"


def test_locate_prefers_longer_terms(analyzer):
    assert locate("疫情防控", ["疫情", "疫情防控"], analyzer.normalizer) == [(0, 4)]


def test_match_only_in_lead_is_marked_there(analyzer):
    out = highlight(
        "正文没有提到。", ["疫情防控"], analyzer.normalizer, width=40, fallback="核心提示：织密疫情防控网。"
    )
    assert out == "核心提示：织密<mark>疫情防控</mark>网。"


def test_one_fragment_per_sentence_with_a_match(analyzer):
    text = "第一句没有。第二句说衡阳！第三句无关？衡陽第四句；尾巴衡阳和衡阳"
    spans = locate(text, ["衡阳"], analyzer.normalizer)
    assert spans == [(10, 12), (19, 21), (27, 29), (30, 32)]
    assert fragments(text, spans) == [
        Fragment(6, 13, ((10, 12),)),
        Fragment(19, 25, ((19, 21),)),
        Fragment(25, 32, ((27, 29), (30, 32))),  # the text after the last mark is a sentence too
    ]


def test_a_match_across_a_sentence_end_is_in_no_fragment():
    text = "前文。甲！乙后文。"
    assert fragments(text, [(3, 6), (6, 7)]) == [Fragment(5, 9, ((6, 7),))]
