import gzip
import json
from pathlib import Path

import pytest

from search.articles import ArticleError
from search.readers import decode_bytes, parse_text_page, read_articles

PAGE = """衡阳东站改造完工
当代商报社
2020-02-01 00:55:28
1234
核心提示
衡阳东站改造工程正式完工。
商报消息(通讯员 王小明 记者 李华)1月31日，衡阳东站改造工程完工。
#p#二、便民措施#e#
车站新增了自助售票机。
相关内容
衡阳至长沙高铁加密班次 2020-01-30
热门资讯
南岳衡山迎来降雪
"""


def read(paths):
    errors = []
    articles = list(read_articles(paths, errors.append))
    return articles, [str(e) for e in errors]


def test_text_page_fields_and_chrome_removed():
    a = parse_text_page(PAGE, "p.txt", "2001")
    assert (a.id, a.title, a.source, a.views, a.lead) == (
        "2001",
        "衡阳东站改造完工",
        "当代商报社",
        1234,
        "衡阳东站改造工程正式完工。",
    )
    assert a.published.isoformat() == "2020-02-01T00:55:28+08:00"
    assert a.authors == ["通讯员 王小明", "记者 李华"]
    assert (
        a.body
        == "商报消息(通讯员 王小明 记者 李华)1月31日，衡阳东站改造工程完工。\n二、便民措施\n车站新增了自助售票机。"
    )
    assert [p.title for p in a.pages] == ["", "二、便民措施"]
    assert "高铁" not in a.body and "降雪" not in a.body


def test_text_page_without_lead():
    page = "标题\n衡阳日报\n2021-03-01 08:00:00\n10\n正文第一段。\n相关内容\n别的新闻\n"
    a = parse_text_page(page, "p.txt", "9")
    assert (a.lead, a.body, a.views) == ("", "正文第一段。", 10)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_text_page_encodings(tmp_path: Path, encoding: str):
    (tmp_path / "2001.txt").write_bytes(PAGE.encode(encoding))
    articles, errors = read([tmp_path])
    assert errors == []
    assert articles[0].title == "衡阳东站改造完工"
    assert articles[0].source == "当代商报社"


def test_jsonl_bad_records_reported_rest_indexed(tmp_path: Path):
    path = tmp_path / "a.jsonl"
    lines = [
        json.dumps({"id": "1", "title": "好的"}, ensure_ascii=False),
        "{not json",
        json.dumps({"title": "没有编号"}, ensure_ascii=False),
        json.dumps({"id": "3", "title": "", "body": ""}),
        json.dumps({"id": "4", "title": "坏日期", "published": "0000-00-00"}, ensure_ascii=False),
        json.dumps({"id": "5", "body": "只有正文"}, ensure_ascii=False),
    ]
    data = ("\n".join(lines) + "\n").encode() + b"x" + b"\xff\xfe\xfa\n"
    path.write_bytes(data)
    articles, errors = read([path])
    assert [a.id for a in articles] == ["1", "5"]
    assert [e.split(": ")[0] for e in errors] == [f"{path}:{n}" for n in (2, 3, 4, 5, 7)]
    assert "invalid JSON" in errors[0] and "no id" in errors[1] and "neither title nor body" in errors[2]


def test_jsonl_gbk_line_and_bom(tmp_path: Path):
    path = tmp_path / "b.jsonl"
    path.write_bytes(
        b"\xef\xbb\xbf"
        + json.dumps({"id": "1", "title": "衡阳"}, ensure_ascii=False).encode()
        + b"\n"
        + json.dumps({"id": "2", "title": "湘江"}, ensure_ascii=False).encode("gbk")
        + b"\n"
    )
    articles, errors = read([path])
    assert errors == [] and [a.title for a in articles] == ["衡阳", "湘江"]


def test_damaged_utf8_is_repaired_and_warned_gbk_is_not():
    warnings: list[ArticleError] = []
    damaged = "衡阳新闻联播".encode() + b"\xff" + "今天开始播出".encode()
    assert decode_bytes(damaged, "f.jsonl:4", on_error=warnings.append) == "衡阳新闻联播\ufffd今天开始播出"
    assert [(str(w), w.warning) for w in warnings] == [
        ("f.jsonl:4: 1 invalid UTF-8 byte sequence(s), first at byte 18, replaced with U+FFFD", True)
    ]
    warnings.clear()
    gbk = "衡阳新闻联播今天开始播出，市民反响热烈".encode("gbk")
    assert decode_bytes(gbk, "g.jsonl:1", on_error=warnings.append) == "衡阳新闻联播今天开始播出，市民反响热烈"
    assert warnings == []
    # without a handler a warning is not an exception
    assert decode_bytes(damaged, "f.jsonl:4") == "衡阳新闻联播\ufffd今天开始播出"


def test_truncated_gzip_keeps_what_was_read(tmp_path: Path):
    path = tmp_path / "c.jsonl.gz"
    raw = "".join(
        json.dumps({"id": str(i), "title": f"第{i}条新闻" * 20}, ensure_ascii=False) + "\n" for i in range(200)
    ).encode()
    path.write_bytes(gzip.compress(raw)[:-300])
    articles, errors = read([path])
    assert 0 < len(articles) < 200
    assert len(errors) == 1 and "cannot read further" in errors[0]


HTML = """<html><head><meta charset="gb2312"><title>衡阳新闻_时政_衡阳新闻网</title></head><body>
<div class="nav"><a>首页</a><a>时政</a></div><h1>蒸湘区老旧小区改造开工</h1>
<div class="info">来源：衡阳日报&nbsp;作者：记者 刘思远&nbsp;发布时间：2019-04-18 09:35:12&nbsp;点击：<span id="hits">2316</span></div>
<div class="summary"><strong>核心提示：</strong>首批12个项目开工。</div>
<div class="content"><p>本报讯（记者 刘思远）4月17日，改造项目开工。</p><script>ad()</script>
#p#第二页#e#
<p>居民&ldquo;点赞&rdquo;。</p></div>
<div class="related"><h3>相关内容</h3><ul><li>别的标题</li></ul></div><div class="footer">ICP备</div></body></html>"""


def test_html_page_gbk(tmp_path: Path):
    (tmp_path / "3001.html").write_bytes(HTML.encode("gbk"))
    articles, errors = read([tmp_path])
    assert errors == []
    a = articles[0]
    assert (a.id, a.title, a.source, a.views, a.lead) == (
        "3001",
        "蒸湘区老旧小区改造开工",
        "衡阳日报",
        2316,
        "首批12个项目开工。",
    )
    assert a.published.isoformat() == "2019-04-18T09:35:12+08:00"
    assert a.body == "本报讯（记者 刘思远）4月17日，改造项目开工。\n第二页\n居民“点赞”。"
    assert a.authors == ["记者 刘思远"]


def test_undecodable_and_unknown_files(tmp_path: Path):
    (tmp_path / "bad.txt").write_bytes(b"\x81\x30\xff\xff\x00\xfe" * 3)
    (tmp_path / "notes.md").write_text("ignored")
    articles, errors = read([tmp_path])
    assert articles == []
    assert len(errors) == 1 and "bad.txt" in errors[0]


def test_errors_raise_without_handler(tmp_path: Path):
    (tmp_path / "a.jsonl").write_text("{oops\n")
    with pytest.raises(ArticleError, match="invalid JSON"):
        list(read_articles([tmp_path / "a.jsonl"]))


def test_directory_walks_skip_symbolic_links(tmp_path):
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("机密配置\n数据库口令 hunter2\n", encoding="utf-8")
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "own.txt").write_text("衡阳新闻\n正文内容。\n", encoding="utf-8")
    (tree / "sub" / "leak.txt").symlink_to(secret)
    (tree / "linked").symlink_to(secret.parent, target_is_directory=True)
    (tree / "inside.txt").symlink_to(tree / "sub" / "own.txt")
    articles, errors = [], []
    articles = list(read_articles([tree], errors.append))
    assert [a.id for a in articles] == ["own"]
    assert [(e.where, e.message, e.warning) for e in errors] == [
        (str(tree / p), "symbolic link skipped: directory walks do not follow links", True)
        for p in ("inside.txt", "linked", "sub/leak.txt")
    ]


def test_a_record_over_the_limit_is_reported_and_the_rest_read(tmp_path):
    from search.readers import Limits

    limits = Limits(file_bytes=1000, stream_bytes=10_000, record_bytes=300, body_chars=50)
    path = tmp_path / "a.jsonl.gz"
    records = [
        {"id": "ok1", "title": "短新闻", "body": "正文。"},
        {"id": "huge", "title": "超长记录", "body": "长" * 400},  # a line of 1,200+ bytes
        {"id": "long", "title": "长正文", "body": "字" * 60},  # under the record limit, over the body limit
        {"id": "ok2", "title": "又一条", "body": "正文。"},
    ]
    lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in records]
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("".join(lines))
    errors: list[ArticleError] = []
    articles = list(read_articles([path], errors.append, limits))
    assert [a.id for a in articles] == ["ok1", "ok2"]
    assert [str(e) for e in errors] == [
        f"{path}:2: record is {len(lines[1].encode())} bytes, over the limit of 300 bytes (MAX_RECORD_MB)",
        f"{path}:3: article 'long': body is 60 characters, over the limit of 50 (MAX_BODY_CHARS)",
    ]


def test_a_decompressed_stream_stops_at_its_limit(tmp_path):
    from search.readers import Limits

    limits = Limits(file_bytes=1000, stream_bytes=200, record_bytes=100, body_chars=50)
    path = tmp_path / "bomb.jsonl.gz"
    line = json.dumps({"id": "x", "title": "新闻"}, ensure_ascii=False) + "\n"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("".join(line.replace('"x"', f'"x{i:02d}"') for i in range(50)))  # 33 bytes each
    errors: list[ArticleError] = []
    articles = list(read_articles([path], errors.append, limits))
    assert [a.id for a in articles] == ["x00", "x01", "x02", "x03", "x04", "x05"]  # 198 bytes
    assert [str(e) for e in errors] == [f"{path}:7: stream is over the limit of 200 bytes (MAX_STREAM_MB)"]


@pytest.mark.parametrize("name", ["big.json", "big.txt", "big.html"])
def test_whole_file_readers_refuse_a_file_over_the_limit(tmp_path, name):
    from search.readers import Limits

    limits = Limits(file_bytes=1000, stream_bytes=10_000, record_bytes=300, body_chars=5000)
    path = tmp_path / name
    path.write_text("新闻\n" + "正文" * 400, encoding="utf-8")
    errors: list[ArticleError] = []
    assert list(read_articles([path], errors.append, limits)) == []
    assert [str(e) for e in errors] == [f"{path}: file is over the limit of 1000 bytes (MAX_FILE_MB)"]


# --- README promises: .htm and .shtml pages, a Big5 page through charset-normalizer ---


@pytest.mark.parametrize("suffix", [".htm", ".shtml"])
def test_htm_and_shtml_pages_are_html_pages(tmp_path: Path, suffix: str):
    (tmp_path / f"3002{suffix}").write_bytes(HTML.encode("gbk"))
    (tmp_path / "3003.html").write_bytes(HTML.encode("gbk"))
    articles, errors = read([tmp_path])
    assert errors == []
    assert sorted((a.id, a.title, a.views) for a in articles) == [
        ("3002", "蒸湘区老旧小区改造开工", 2316),
        ("3003", "蒸湘区老旧小区改造开工", 2316),
    ]


BIG5_HTML = """<html><head><title>衡陽新聞網</title></head><body><h1>蒸湘區舊城改造工程開工</h1>
<div class="content"><p>本報訊（記者 劉思遠）4月17日，蒸湘區舊城改造工程正式開工，首批十二個項目涉及居民三千餘戶。</p>
<p>市民紛紛表示，這是一件實實在在的民生工程。</p></div></body></html>"""


def test_big5_page_without_a_declared_charset(tmp_path: Path):
    # GB18030 would decode these bytes without an error (as rare characters): charset-normalizer must be asked
    (tmp_path / "4001.html").write_bytes(BIG5_HTML.encode("big5"))
    articles, errors = read([tmp_path])
    assert errors == []
    (a,) = articles
    assert (a.id, a.title) == ("4001", "蒸湘區舊城改造工程開工")
    assert a.body == (
        "本報訊（記者 劉思遠）4月17日，蒸湘區舊城改造工程正式開工，首批十二個項目涉及居民三千餘戶。\n"
        "市民紛紛表示，這是一件實實在在的民生工程。"
    )
    assert (
        decode_bytes("衡阳东站改造工程正式完工。".encode("gbk"), "x") == "衡阳东站改造工程正式完工。"
    )  # GBK stays GBK
