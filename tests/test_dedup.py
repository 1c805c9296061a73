import random

from search.dedup import Sketch, near_duplicates, near_matrix, signature, similarity

STORY = "衡阳南岳机场今天迎来国产大飞机C919的首次验证飞行，飞机在跑道上平稳降落，现场人员热烈鼓掌。机场总经理表示，这次飞行为开通新航线积累了宝贵经验，衡阳市民今后出行将更加便捷。"


def test_reprint_with_small_edits_is_near_duplicate(analyzer):
    a = signature(analyzer.normalizer.text(STORY))
    b = signature(analyzer.normalizer.text("记者从机场获悉，" + STORY.replace("热烈鼓掌", "鼓掌欢迎")))
    other = signature(
        analyzer.normalizer.text(
            "蒸湘区今年启动老旧小区改造，首批十二个项目集中开工，涉及居民三千余户，预计年底前全部完工，改造内容包括管网更新和加装电梯。"
        )
    )
    assert similarity(a, b) > 0.6 and near_duplicates(a, b)
    assert similarity(a, other) < 0.1 and not near_duplicates(a, other)


def test_short_text_has_no_signature():
    assert signature("衡阳新闻") is None
    assert not near_duplicates(None, None)


def test_near_matrix_answers_every_pair_as_sketches_do(analyzer):
    rng = random.Random(7)
    sentences = [s + "。" for s in STORY.split("，")] + ["蒸湘区老旧小区改造首批项目开工。", "南华大学新生军训开始。"]
    texts = ["".join(rng.sample(sentences, rng.randint(2, len(sentences)))) for _ in range(40)]
    signatures = [signature(analyzer.normalizer.text(t)) for t in texts] + [None, signature("衡阳新闻")]
    signatures[3] = signatures[2]
    sketches = [Sketch(s) if s else None for s in signatures]
    expected = [
        [i != j and a is not None and b is not None and a.near(b) for j, b in enumerate(sketches)]
        for i, a in enumerate(sketches)
    ]
    near = near_matrix(signatures).tolist()
    assert near == expected
    assert near[2][3] and 100 < sum(map(sum, near)) < 40 * 39  # both kinds of pairs occur
    assert near_matrix([signatures[0], None]).tolist() == [[False, False], [False, False]]


def test_search_collapses_reprints(store, tmp_path):
    import search

    from .conftest import write_jsonl

    path = write_jsonl(
        tmp_path / "r.jsonl",
        [
            {"id": "r1", "title": "C919首次飞抵衡阳", "source": "衡阳日报", "body": STORY},
            {"id": "r2", "title": "大飞机来了", "source": "红网", "body": "记者从机场获悉，" + STORY},
            {
                "id": "r3",
                "title": "C919航线规划",
                "source": "红网",
                "body": "C919航线规划正在推进，衡阳南岳机场将与航空公司洽谈更多合作。",
            },
        ],
    )
    search.reindex(store, [path], full=True, workers=1)
    res = search.SearchEngine(store).search("C919")
    assert sorted(sorted([h.id] + [d["id"] for d in h.duplicates]) for h in res.hits) == [["r1", "r2"], ["r3"]]
    assert res.total == 2
