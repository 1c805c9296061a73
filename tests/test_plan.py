"""Planning (``search.plan``): a parsed query → its words, required clauses, filter, exclusions and preferences."""

from whoosh import query as Q

from search.plan import make_plan
from search.query import parse_query
from search.ranking import Weights


def test_a_plan_holds_each_part_of_the_query(analyzer):
    parsed = parse_query('疫情防控 "大学生活" title:衡阳 source:红网 -马拉松 -"志愿服务"')
    plan = make_plan(analyzer, parsed, Weights(), lambda word: ["新冠"] if word == "疫情" else [])
    assert plan.terms == ["疫情防控", "大学生活", "衡阳"]
    assert [w.word for w in plan.words if w.counts] == ["疫情防控", "大学", "生活", "衡阳"]
    assert [w.word for w in plan.required_words] == ["衡阳"]
    assert {s.field for s in plan.required_words[0].sources} == {"title", "title_bg"}  # the title only
    assert [type(q).__name__ for q in plan.required] == ["Or"]  # the phrase, in title or body
    assert plan.allowed == Q.Or([Q.Term("source", "红网")])
    # -"志愿服务" excludes by its words (with their junction bigram, ranking evidence only) and as a phrase
    assert [[w.word for w in words] for words in plan.exclude] == [["马拉松"], ["志愿", "服务", "愿服"]]
    assert len(plan.exclude_phrases) == 2 and plan.preferred == [] and not plan.strict_preference


def test_synonyms_add_their_terms(analyzer):
    plan = make_plan(analyzer, parse_query("疫情"), Weights(), lambda word: ["新冠"] if word == "疫情" else [])
    assert plan.terms == ["疫情", "新冠"]
    assert make_plan(analyzer, parse_query("疫情"), Weights()).terms == ["疫情"]
