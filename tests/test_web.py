import json
import re
import shutil
import time

import pytest

import search
from search.web import create_app

from .conftest import write_jsonl


@pytest.fixture
def client(engine):
    app = create_app({"INDEX": str(engine.store.root), "TESTING": True})
    return app.test_client()


def assert_error(response, status, code, mentions):
    assert response.status_code == status
    body = response.get_json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    assert mentions in body["error"]["message"]


def test_api_search(client):
    data = client.get("/api/search?q=疫情防控").get_json()
    assert data["query"] == "疫情防控" and data["total"] == 2 and data["page"] == 1 and data["size"] == 10
    assert [h["id"] for h in data["hits"]] == ["a1", "a3"]
    assert data["facets"]["channel"] == {"时政": 1, "交通": 1}
    assert "took_ms" in data


def test_api_search_filters_and_sort(client):
    data = client.get("/api/search?q=衡阳&sort=date&from=2021-01-01&to=2023-12-31").get_json()
    assert [h["id"] for h in data["hits"]] == ["a3", "a2"]
    data = client.get("/api/search?q=大学生&channel=社会").get_json()
    assert [h["id"] for h in data["hits"]] == ["a4"]


@pytest.mark.parametrize(
    "query, param",
    [
        ("page=0", "page"),
        ("size=10000", "size"),
        ("size=abc", "size"),
        ("sort=views", "sort"),
        ("from=yesterday", "from"),
        ("q=" + "长" * 300, "q"),
    ],
)
def test_api_search_bad_parameters(client, query, param):
    assert_error(client.get("/api/search?" + query), 400, "invalid_parameter", param)


def test_api_article_related_hot_health(client):
    assert client.get("/api/articles/a1").get_json()["title"] == "衡阳召开疫情防控工作会议"
    assert_error(client.get("/api/articles/nope"), 404, "not_found", "nope")
    rel = client.get("/api/articles/a1/related?size=3").get_json()
    assert rel["id"] == "a1" and "a1" not in [r["id"] for r in rel["related"]]
    assert_error(client.get("/api/articles/nope/related"), 404, "not_found", "nope")
    hot = client.get("/api/hot?size=2").get_json()
    assert [a["id"] for a in hot["articles"]] == ["a3", "a1"]
    health = client.get("/healthz").get_json()
    assert health["status"] == "ok" and health["doc_count"] == 4
    assert_error(client.get("/api/nothing"), 404, "not_found", "")


def test_healthz_reports_an_index_this_analysis_cannot_search(engine):
    store = engine.store
    meta_path = store.root / store.current() / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta_path.write_text(json.dumps(dict(meta, fingerprint="0123456789abcdef")), encoding="utf-8")
    client = create_app({"INDEX": str(store.root), "TESTING": True}).test_client()
    assert_error(client.get("/healthz"), 503, "index_unavailable", "0123456789abcdef")


def test_pages_escape_and_render(client):
    html = client.get("/search?q=疫情防控").get_data(as_text=True)
    assert "<mark>疫情防控</mark>" in html and "找到约 2 条结果" in html
    assert client.get("/").status_code == 200
    page = client.get("/articles/a1").get_data(as_text=True)
    assert "相关内容" in page and "核心提示" in page
    assert client.get("/articles/nope").status_code == 404
    assert client.get("/search?q=x&page=0").status_code == 400


def test_suggest_hot_and_clicks(engine, tmp_path):
    app = create_app({"INDEX": str(engine.store.root), "CLICK_LOG": True, "QUERY_LOG": str(tmp_path / "log.sqlite3")})
    client = app.test_client()
    data = client.get("/api/suggest?q=疫情").get_json()
    assert data["query"] == "疫情" and {"text": "疫情防控", "kind": "word"} in data["suggestions"]
    assert {"text": "疫情", "kind": "pinyin"} in client.get("/api/suggest?q=yiq").get_json()["suggestions"]
    assert_error(client.get("/api/suggest?q=" + "x" * 60), 400, "invalid_parameter", "q")
    for reader in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):  # a hot search needs three readers (HOT_MIN_CLIENTS)
        client.get("/api/search?q=大学生", environ_base={"REMOTE_ADDR": reader})
    client.get("/api/search?q=不存在的词语组合")
    response = client.get("/go/a2?q=大学生")
    assert response.status_code == 302 and response.headers["Location"] == "/articles/a2"
    beacon = client.post("/api/click", data={"id": "a2", "q": "大学生"}, headers={"Sec-Fetch-Site": "same-origin"})
    assert beacon.status_code == 204
    log = app.extensions["querylog"]
    log.flush()
    hot = client.get("/api/hot?size=3").get_json()
    assert hot["searches"] == [{"query": "大学生", "count": 3}]
    assert [(a["id"], a["views"], a["clicks"]) for a in hot["articles"]] == [
        ("a3", 900, 0),
        ("a1", 120, 0),
        ("a4", 45, 0),
    ]
    assert log.clicks_by_article() == {"a2": 1}  # the beacon, not the GET of /go
    assert [r["query"] for r in log.zero_results()] == ["不存在的词语组合"]


def test_clicks_are_not_recorded_unless_turned_on(engine, tmp_path):
    app = create_app({"INDEX": str(engine.store.root), "QUERY_LOG": str(tmp_path / "log.sqlite3")})
    client = app.test_client()
    response = client.get("/go/a2?q=大学生")
    assert response.status_code == 302 and response.headers["Location"].endswith("/articles/a2")
    beacon = client.post("/api/click", data={"id": "a2", "q": "大学生"}, headers={"Sec-Fetch-Site": "same-origin"})
    assert beacon.status_code == 204
    app.extensions["querylog"].flush()
    assert app.extensions["querylog"].clicks_by_article() == {}


def test_metrics(client):
    client.get("/api/search?q=疫情")
    client.get("/api/search?q=page&page=0")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'news_search_requests_total{endpoint="/api/search",status="200"} 1' in text
    assert 'news_search_requests_total{endpoint="/api/search",status="400"} 1' in text
    assert "news_search_request_seconds_bucket" in text and "news_search_zero_result_rate" in text


def test_openapi_matches_routes(client):
    doc = client.get("/api/openapi.json").get_json()
    documented = {p.replace("{article_id}", "<path:article_id>") for p in doc["paths"]}
    app = client.application
    served = {r.rule for r in app.url_map.iter_rules() if r.rule.startswith(("/api/", "/healthz"))}
    assert documented == served


def test_cors(engine):
    app = create_app({"INDEX": str(engine.store.root), "CORS_ORIGINS": "https://www.example.cn"})
    response = app.test_client().get("/api/hot", headers={"Origin": "https://www.example.cn"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://www.example.cn"
    other = app.test_client().get("/api/hot", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_landing_page_lists_are_links_and_cached(engine, tmp_path):
    app = create_app({"INDEX": str(engine.store.root), "QUERY_LOG": str(tmp_path / "log.sqlite3"), "TESTING": True})
    client = app.test_client()
    log = app.extensions["querylog"]
    for reader in ("r1", "r2", "r3"):  # a hot search needs HOT_MIN_CLIENTS (3) distinct readers
        log.search("大学生", 2, 1.0, reader)
    log.flush()
    html = client.get("/").get_data(as_text=True)
    assert '<h2 id="hot-searches">热搜</h2>' in html and '<a href="/search?q=%E5%A4%A7%E5%AD%A6%E7%94%9F">' in html
    assert (
        '<h2 id="hot-articles">热门资讯</h2>' in html and '<a href="/articles/a3">C919首次飞抵衡阳南岳机场</a>' in html
    )
    assert '<h3><a href="/search?channel=%E7%A4%BE%E4%BC%9A&amp;sort=date">社会</a></h3>' in html
    assert (
        '<a href="/articles/a4">蒸湘区大学生志愿者走进社区</a> <time datetime="2024-03-10T08:00:00+08:00">2024-03-10</time>'
        in html
    )
    # Cached for HOT_TTL_SECONDS: a new hot search shows up only after that.
    for reader in ("r1", "r2", "r3", "r4", "r5"):
        log.search("衡阳", 4, 1.0, reader)
    log.flush()
    assert "/search?q=%E8%A1%A1%E9%98%B3" not in client.get("/").get_data(as_text=True)
    app.extensions["landing"] = None  # as if the time had passed
    assert "/search?q=%E8%A1%A1%E9%98%B3" in client.get("/").get_data(as_text=True)
    # An old bookmark of /?q= still searches.
    assert "找到约 2 条结果" in client.get("/?q=疫情防控").get_data(as_text=True)


def test_weak_answer_page_says_no_match_and_counts_as_zero(engine, tmp_path):
    app = create_app({"INDEX": str(engine.store.root), "QUERY_LOG": str(tmp_path / "log.sqlite3"), "TESTING": True})
    client = app.test_client()
    html = client.get("/search?q=衡阳 xyzzy").get_data(as_text=True)
    assert "没有找到与“<strong>衡阳 xyzzy</strong>”完全匹配的新闻" in html
    assert '去掉没有结果的词再搜：<a class="shorter" href="/search?q=%E8%A1%A1%E9%98%B3">衡阳</a>' in html
    assert "<mark>" not in html and 'class="hit"' not in html
    # A fair partial answer is shown, saying which word it lacks.
    html = client.get("/search?q=周建国 xyzzy").get_data(as_text=True)
    assert '<p class="missing">结果中不含：<s>xyzzy</s></p>' in html and html.count('class="hit"') == 1
    html = client.get("/search?q=完全不存在").get_data(as_text=True)
    assert "没有找到与“<strong>完全不存在</strong>”完全匹配的新闻" in html and "shorter" not in html
    assert client.get("/api/search?q=衡阳 xyzzy").get_json()["weak"] is True
    log = app.extensions["querylog"]
    log.flush()
    assert sorted(r["query"] for r in log.zero_results()) == ["完全不存在", "衡阳 xyzzy"]


def test_explicit_phrase_without_exact_match_says_so(client):
    data = client.get('/api/search?q="生活大学"').get_json()
    assert (data["inexact"], data["inexact_total"], data["total"] > 0) == (["生活大学"], 0, True)
    html = client.get('/search?q="生活大学"').get_data(as_text=True)
    assert "没有找到含有“生活大学”的结果，以下显示不带引号的结果" in html
    assert "inexact" not in client.get('/api/search?q="大学生活"').get_json()


# --- README promises: filters, the boxes and lines of the pages, the hot-list cache, the error counter ---


def test_api_search_source_and_author_filters(client):
    def found(query):
        return [h["id"] for h in client.get("/api/search?" + query).get_json()["hits"]]

    assert found("q=衡阳") == ["a3", "a1", "a2"]
    assert found("q=衡阳&source=衡阳晚报") == ["a2"]
    assert found("q=衡阳&source=红网") == []
    assert found("q=衡阳&author=李华") == ["a1"]
    assert found("q=志愿者&author=王小明") == ["a4"] and found("q=志愿者&author=李华") == []
    assert found("source=衡阳新闻网") == ["a3"]  # a filter alone lists its articles


def test_article_page_hot_box(client):
    page = client.get("/articles/a2").get_data(as_text=True)
    box = page[page.index('<section class="hot-box" id="hot">') :]
    box = box[: box.index("</section>")]
    assert "<h2>热门资讯</h2>" in box
    assert re.findall(r'<li><a href="/articles/(\w+)">', box) == ["a3", "a1", "a4", "a2"]  # by views: 900, 120, 45, 30


def test_search_page_lines_showing_did_you_mean_and_also_reported(engine, tmp_path, sample_index):
    client = create_app({"INDEX": str(engine.store.root), "TESTING": True}).test_client()
    html = client.get("/search?q=疫请").get_data(as_text=True)
    assert '<p class="rewrite">显示的是 <strong>疫情</strong> 的结果</p>' in html and "找到约 2 条结果" in html
    typo = {"id": "t1", "title": "市民来电", "body": "社区疫请信息更新慢。"}
    search.reindex(engine.store, [write_jsonl(tmp_path / "typo.jsonl", [typo])])
    html = client.get("/search?q=疫请").get_data(as_text=True)
    assert "显示的是" not in html
    assert '<p class="suggest-line">您是不是要找：<a href="/search?q=%E7%96%AB%E6%83%85">疫情</a></p>' in html
    shutil.copytree(sample_index, tmp_path / "sample")
    client = create_app({"INDEX": str(tmp_path / "sample"), "TESTING": True}).test_client()
    html = client.get("/search?q=C919").get_data(as_text=True)
    dups = re.findall(r'<div class="dups">同时报道：(.*?)</div>', html)
    assert len(dups) == 1
    assert re.sub(r'<a href="/articles/\w+">([^<]+)</a>', r"\1", dups[0]) == "衡阳新闻网、湖南日报"


def test_hot_searches_are_reused_for_hot_ttl_seconds(engine, tmp_path):
    def app_with(ttl):
        app = create_app(
            {
                "INDEX": str(engine.store.root),
                "QUERY_LOG": str(tmp_path / f"log{ttl}.sqlite3"),
                "HOT_TTL_SECONDS": ttl,
                "HOT_MIN_CLIENTS": 1,
            }
        )
        return app, app.test_client()

    for ttl, cached in ((3600, True), (0, False)):
        app, client = app_with(ttl)
        log = app.extensions["querylog"]
        client.get("/api/search?q=大学生", headers={"User-Agent": "reader-1"})
        log.flush()  # a flush forgets the reports: the next one reads the log
        assert client.get("/api/hot").get_json()["searches"] == [{"query": "大学生", "count": 1}]
        for reader in ("reader-1", "reader-2"):  # a client's repeat within the window would not count
            client.get("/api/search?q=衡阳", headers={"User-Agent": reader})
        deadline = time.monotonic() + 10  # the writer comes by on its own (no flush: that would forget the report)
        while len(querylog_rows(log.path)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(querylog_rows(log.path)) == 3
        expected = (
            [{"query": "大学生", "count": 1}]
            if cached
            else [{"query": "衡阳", "count": 2}, {"query": "大学生", "count": 1}]
        )
        assert client.get("/api/hot").get_json()["searches"] == expected, ttl
        log.close()


def querylog_rows(path):
    import sqlite3

    with sqlite3.connect(path) as db:
        return db.execute("SELECT query FROM searches").fetchall()


def test_metrics_error_counter_counts_5xx(tmp_path):
    client = create_app({"INDEX": str(tmp_path / "no-index"), "TESTING": True}).test_client()
    assert client.get("/api/search?q=衡阳").status_code == 503
    assert client.get("/api/search?q=x&page=0").status_code == 400  # a client's error, not the service's
    text = client.get("/metrics").get_data(as_text=True)
    assert "news_search_errors_total 1\n" in text
    assert 'news_search_requests_total{endpoint="/api/search",status="503"} 1' in text
    assert client.get("/healthz").status_code == 503
    assert "news_search_errors_total 2\n" in client.get("/metrics").get_data(as_text=True)


def test_the_query_log_is_closed_when_the_worker_stops(engine, tmp_path, monkeypatch):
    at_exit: list = []
    monkeypatch.setattr("atexit.register", at_exit.append)
    app = create_app({"INDEX": str(engine.store.root), "QUERY_LOG": str(tmp_path / "log.sqlite3")})
    log = app.extensions["querylog"]
    assert at_exit == [log.close]
    app.test_client().get("/api/search?q=不存在的词语组合")
    at_exit[0]()  # what the interpreter does when a gunicorn worker exits: the pending search is written
    assert [r["query"] for r in search.QueryLog(tmp_path / "log.sqlite3").zero_results()] == ["不存在的词语组合"]
