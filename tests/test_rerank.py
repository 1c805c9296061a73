"""The learned re-ranker's features and how it reorders the head of a ranking (search.rerank)."""

import pytest

from search.rerank import FEATURE_NAMES, FEATURES, Reranker
from tests.conftest import ids


class ByRank:
    """A stand-in model: a row scores its rank feature, so a head comes out reversed."""

    def predict(self, rows, num_threads=1):
        return rows[:, FEATURE_NAMES.index("rank")]


def features(hit):
    return hit.explain["features"]


def test_features_describe_each_candidate_of_the_head(engine):
    engine.reranker = Reranker(None, depth=10)
    res = engine.search("大学生 志愿者", collapse=False, explain=True)
    assert ids(res) == ["a4", "a2"]
    assert [features(h) for h in res.hits] == [
        {
            "rank": 0.0,
            "score_ratio": 1.0,
            "bm25f": 1.837,
            "coverage": 1.0,
            "words_share": 1.0,
            "top_word": 0.6346,
            "proximity": 1.3,  # 大学生志愿者 stands in the title
            "phrase": 0.0,
            "first": 1.0,
            "title_norm": 0.814,
            "body_norm": 1.0649,
            "query_words": 2.0,
            "title_grams": 1.0,
            "body_grams": 1.0,
            "title_in_query": 0.3333,  # 大学 学生 志愿 愿者 of the title's 12 bigrams
        },
        {
            "rank": 1.0,
            "score_ratio": 0.2243,
            "bm25f": 0.9319,
            "coverage": 0.3654,  # 大学生 (part of 大学生活), not 志愿者: the rarer word is missing
            "words_share": 0.5,
            "top_word": 1.0,
            "proximity": 1.0,
            "phrase": 0.0,
            "first": 0.0,  # a thin page's partial match, after the full ones
            "title_norm": 1.129,
            "body_norm": 1.0649,
            "query_words": 2.0,
            "title_grams": 0.25,  # 大学 (南华大学) of 大学 学生 志愿 愿者
            "body_grams": 0.5,  # 大学 学生 (大学生活)
            "title_in_query": 0.1429,
        },
    ]
    assert "learned" not in res.hits[0].explain  # no model: nothing reordered, nothing learned shown


def test_every_feature_is_documented():
    assert len(FEATURE_NAMES) == len(set(FEATURE_NAMES)) == len(FEATURES)
    assert all(help.strip() for _, help in FEATURES)


def test_a_model_reorders_the_head_within_its_tier_and_leaves_the_rest(engine):
    plain = ids(engine.search("衡阳", collapse=False))
    assert len(plain) == 3
    engine.reranker = Reranker(ByRank(), depth=2)
    res = engine.search("衡阳", collapse=False, explain=True)
    assert ids(res) == [plain[1], plain[0], plain[2]]
    assert [h.explain.get("learned") for h in res.hits] == [1.0, 0.0, None]  # the third is beyond the head
    # a partial match (second tier) is never put before a full one
    res = engine.search("大学生 志愿者", collapse=False)
    assert ids(res) == ["a4", "a2"]


def test_a_model_of_other_features_is_refused(tmp_path):
    lightgbm = pytest.importorskip("lightgbm")
    import numpy as np

    rows = np.arange(40, dtype=np.float64).reshape(20, 2)
    model = lightgbm.train(
        {"objective": "lambdarank", "verbose": -1, "min_data_in_leaf": 1},
        lightgbm.Dataset(rows, [0, 1] * 10, group=[10, 10], feature_name=["a", "b"]),
        num_boost_round=2,
    )
    model.save_model(str(tmp_path / "model.txt"))
    with pytest.raises(ValueError, match="features"):
        Reranker.load(tmp_path / "model.txt")


def test_the_setting_names_the_model_open_engine_serves(tmp_path, articles_index):
    lightgbm = pytest.importorskip("lightgbm")
    import shutil

    import numpy as np

    import search

    rows = np.random.default_rng(17).random((40, len(FEATURE_NAMES)))
    model = lightgbm.train(
        {"objective": "lambdarank", "verbose": -1, "min_data_in_leaf": 1, "num_threads": 1},
        lightgbm.Dataset(rows, [0, 1, 2, 0] * 10, group=[20, 20], feature_name=list(FEATURE_NAMES)),
        num_boost_round=3,
    )
    model.save_model(str(tmp_path / "model.txt"))
    shutil.copytree(articles_index, tmp_path / "index")
    settings = search.load_settings(overrides={"INDEX": str(tmp_path / "index")})
    assert settings["RANKER_MODEL"] == ""  # off by default: the hand-tuned order
    assert search.open_engine(settings).reranker.model is None
    engine = search.open_engine({**settings, "RANKER_MODEL": str(tmp_path / "model.txt")})
    assert engine.reranker.model is not None
    res = engine.search("衡阳", explain=True)
    assert res.total == 3 and all(isinstance(h.explain["learned"], float) for h in res.hits)
