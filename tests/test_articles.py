from datetime import datetime, timedelta, timezone

import pytest

from search.articles import ArticleError, Page, make_article, parse_byline, parse_published, split_pages


def test_parse_byline_roles_and_names():
    assert parse_byline("商报消息(通讯员 王小明 记者 李华)昨日") == ["通讯员 王小明", "记者 李华"]
    assert parse_byline("本报讯（记者 陈静 何敏 通讯员 欧阳雪）1月") == ["记者 陈静", "记者 何敏", "通讯员 欧阳雪"]
    assert parse_byline("今天天气很好（记者 李华）") == []


def test_split_pages_keeps_titles_drops_markers():
    body, pages = split_pages("第一页。\n#p#二、全面推进#e#\n第二页。")
    assert body == "第一页。\n二、全面推进\n第二页。"
    assert pages == [Page("", "第一页。"), Page("二、全面推进", "第二页。")]


def test_parse_published_naive_is_shanghai():
    dt = parse_published("2020-02-01 00:55:28")
    assert dt == datetime(2020, 2, 1, 0, 55, 28, tzinfo=timezone(timedelta(hours=8)))
    assert parse_published("2022-09-24T19:00:00+08:00").utcoffset() == timedelta(hours=8)
    assert parse_published("2020年2月1日") == datetime(2020, 2, 1, tzinfo=timezone(timedelta(hours=8)))
    assert parse_published("") is None


@pytest.mark.parametrize("value", ["yesterday", "0000-01-01", "9999-12-31 00:00:00", "2020-13-45"])
def test_parse_published_rejects(value):
    with pytest.raises(ValueError):
        parse_published(value)


def test_make_article_validates_and_names_the_record():
    with pytest.raises(ArticleError, match="f.jsonl:3: record has no id"):
        make_article("f.jsonl:3", title="x")
    with pytest.raises(ArticleError, match="neither title nor body"):
        make_article("f.jsonl:4", id="7", title=" ", body="")
    with pytest.raises(ArticleError, match="unparseable date"):
        make_article("f.jsonl:5", id="8", title="x", published="soon")
    article = make_article("f:1", id=9, title="标题", body="本报讯（记者 李华）正文", views="12", tags="a,b")
    assert (article.id, article.authors, article.views, article.tags) == ("9", ["记者 李华"], 12, ["a", "b"])
