"""Hot searches and hot articles reflect many readers, not one client (issue 16, finding 2).

A query or an article counts once per client per window, a hot search needs
HOT_MIN_CLIENTS clients and a real match, clicks come only from our own pages,
and both lists pass the deny-list.
"""

import time

import pytest

import search
from search import querylog
from search.querylog import QueryLog
from search.screening import Denylist
from search.web import create_app

SAME_SITE = {"Sec-Fetch-Site": "same-origin"}


@pytest.fixture
def app(engine, tmp_path):
    return create_app({"INDEX": str(engine.store.root), "CLICK_LOG": True, "QUERY_LOG": str(tmp_path / "log.sqlite3")})


def reader(n):
    return {"REMOTE_ADDR": f"10.0.0.{n}"}


def hot(app, size=8):
    app.extensions["querylog"].flush()
    return app.test_client().get(f"/api/hot?size={size}").get_json()


def test_one_client_repeating_a_query_does_not_make_it_hot(app):
    client = app.test_client()
    for _ in range(60):
        client.get("/api/search?q=大学生", environ_base=reader(1))
    client.get("/api/search?q=大学生", environ_base=reader(2))
    assert hot(app)["searches"] == []  # two readers: not yet hot
    client.get("/api/search?q=大学生", environ_base=reader(3))
    assert hot(app)["searches"] == [{"query": "大学生", "count": 3}]


def test_the_same_address_with_another_browser_is_another_client(app):
    client = app.test_client()
    for agent in ("Firefox", "Chrome", "Safari"):
        client.get("/api/search?q=疫情防控", environ_base=reader(1), headers={"User-Agent": agent})
    assert hot(app)["searches"] == [{"query": "疫情防控", "count": 3}]


def test_an_any_word_answer_does_not_make_a_hot_search(app):
    client = app.test_client()
    for n in range(1, 6):
        client.get("/api/search?q=衡阳 飞机 大学", environ_base=reader(n))  # no article has all three words
        client.get("/api/search?q=疫情防控", environ_base=reader(n))
    assert hot(app)["searches"] == [{"query": "疫情防控", "count": 5}]


def test_spam_and_personal_data_never_reach_api_hot(app):
    client = app.test_client()
    for n in range(1, 6):
        for q in ("衡阳 加微信abc123领红包 www.evil.example", "衡阳 13812345678", "衡阳 加 V 领取", "衡阳"):
            client.get("/api/search", query_string={"q": q}, environ_base=reader(n))
    assert hot(app)["searches"] == [{"query": "衡阳", "count": 5}]


def test_a_click_counts_only_when_sent_by_our_own_page(app):
    client = app.test_client()
    for _ in range(60):  # links and <img src=/go/a2> tags on another site
        response = client.get("/go/a2?q=大学生", headers={"Sec-Fetch-Site": "cross-site"})
        assert response.status_code == 302 and response.headers["Location"] == "/articles/a2"
    assert client.get("/go/a2").status_code == 302  # still works without JavaScript
    refused = [
        {},  # no browser said where it came from
        {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "same-site", "Origin": "https://blog.localhost"},
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "none"},
    ]
    for headers in refused:
        response = client.post("/api/click", data={"id": "a2"}, headers=headers)
        assert response.status_code == 403 and response.get_json()["error"]["code"] == "cross_site"
    assert hot(app)["articles"][0]["id"] == "a3" and app.extensions["querylog"].clicks_by_article() == {}
    assert client.post("/api/click", data={"id": "a2"}, headers={"Origin": "http://localhost"}).status_code == 204
    assert client.post("/api/click", json={"id": "a2", "q": "大学生"}, headers=SAME_SITE).status_code == 204
    assert client.post("/api/click", data={"q": "x"}, headers=SAME_SITE).status_code == 400
    assert client.post("/api/click", json=["a2"], headers=SAME_SITE).status_code == 400
    assert client.post("/api/click", data={"id": "a2", "q": "x" * 20_000}, headers=SAME_SITE).status_code == 413
    assert client.post("/api/click", data={"id": "nope"}, headers=SAME_SITE).status_code == 404
    assert client.get("/api/click").status_code == 405
    app.extensions["querylog"].flush()
    assert app.extensions["querylog"].clicks_by_article() == {"a2": 1}  # one client, one window


def test_a_click_counts_as_one_view_once_per_client(app):
    client = app.test_client()
    for n in range(1, 4):
        for _ in range(20):
            client.post("/api/click", data={"id": "a2", "q": "大学生"}, headers=SAME_SITE, environ_base=reader(n))
    articles = hot(app, size=4)["articles"]
    assert [(a["id"], a["views"], a["clicks"]) for a in articles] == [
        ("a3", 900, 0),
        ("a1", 120, 0),
        ("a4", 45, 0),
        ("a2", 30, 3),  # 30 views + 3 clicks: 33
    ]


def test_a_client_counts_again_in_the_next_window(tmp_path, monkeypatch):
    now = [1_700_000_000.0]
    monkeypatch.setattr(querylog.time, "time", lambda: now[0])
    log = QueryLog(tmp_path / "log.sqlite3", flush_seconds=60, window=3600, min_clients=2, report_ttl=0)
    for _hour in range(3):
        for _ in range(5):
            log.search("衡阳", 4, 1.0, client="aaaa")
            log.click("衡阳", "a1", client="aaaa")
        now[0] += 3600
    log.search("衡阳", 4, 1.0, client="bbbb")
    log.flush()
    assert log.hot_searches() == [{"query": "衡阳", "count": 4}]
    assert log.clicks_by_article() == {"a1": 3}
    log.close()


def test_rows_without_a_client_never_count(tmp_path):
    log = QueryLog(tmp_path / "log.sqlite3", flush_seconds=60, min_clients=1)
    for _ in range(10):
        log.search("衡阳", 4, 1.0)
        log.click("衡阳", "a1")
    log.flush()
    assert log.hot_searches() == [] and log.clicks_by_article() == {}
    log.close()


def test_the_denylist_file_and_extra_files(tmp_path):
    extra = tmp_path / "site.txt"
    extra.write_text("# our own\n南华\nre:^test\\d+$\n", encoding="utf-8")
    denylist = Denylist.load([extra])
    blocked = ["加 微 信 领取", "ＶＸ号 888", "看 https://x.cn", "evil.xyz", "QQ群", "南华大学", "test123", "代开发票"]
    allowed = ["疫情防控", "南岳衡山", "test123 衡阳", "C919", "办证大厅", "www"]
    assert [t for t in blocked + allowed if denylist.blocks(t)] == blocked
    with pytest.raises(FileNotFoundError):
        Denylist.load([tmp_path / "missing.txt"])


def test_hot_articles_pass_the_denylist(engine, tmp_path):
    extra = tmp_path / "deny.txt"
    extra.write_text("C919\n", encoding="utf-8")
    app = create_app(
        {"INDEX": str(engine.store.root), "QUERY_LOG": str(tmp_path / "log.sqlite3"), "HOT_DENYLIST": str(extra)}
    )
    assert [a["id"] for a in app.test_client().get("/api/hot?size=3").get_json()["articles"]] == ["a1", "a4", "a2"]
    page = app.test_client().get("/articles/a1").get_data(as_text=True)
    assert "C919" not in page.split('id="hot"')[1]


def test_the_client_key_is_a_daily_salted_hash(tmp_path, monkeypatch):
    log = QueryLog(tmp_path / "log.sqlite3", flush_seconds=60)
    key = log.client_id("10.0.0.1", "Firefox")
    assert len(key) == 16 and "10.0.0.1" not in key
    assert log.client_id("10.0.0.1", "Firefox") == key
    assert QueryLog(tmp_path / "log.sqlite3").client_id("10.0.0.1", "Firefox") == key  # another worker agrees
    assert log.client_id("10.0.0.2", "Firefox") != key and log.client_id("10.0.0.1", "Chrome") != key
    tomorrow = time.gmtime(time.time() + 86400)
    monkeypatch.setattr(querylog.time, "gmtime", lambda *args: tomorrow)
    assert log.client_id("10.0.0.1", "Firefox") != key
    import sqlite3

    with sqlite3.connect(log.path) as db:
        assert [day for (day,) in db.execute("SELECT day FROM salt")] == [time.strftime("%Y-%m-%d", tomorrow)]
    log.close()


def test_behind_a_proxy_the_forwarded_address_is_the_client(engine, tmp_path):
    app = create_app(
        {"INDEX": str(engine.store.root), "QUERY_LOG": str(tmp_path / "log.sqlite3"), "TRUSTED_PROXIES": 1}
    )
    client = app.test_client()
    for n in range(1, 4):  # nginx on 127.0.0.1 appends each reader's address
        client.get("/api/search?q=大学生", headers={"X-Forwarded-For": f"203.0.113.{n}"})
    assert hot(app)["searches"] == [{"query": "大学生", "count": 3}]


def test_hot_articles_leave_out_a_deleted_article_however_clicked(store, corpus):
    search.reindex(store, [corpus], full=True, workers=1)
    engine = search.SearchEngine(store)
    assert [a["id"] for a in search.hot_articles(engine, 8, {"a1": 50})] == ["a3", "a1", "a4", "a2"]
    assert search.delete(store, ["a1"], merge=search.MergePolicy(max_deleted=1.0)) == 1  # kept in its segment
    assert [a["id"] for a in search.hot_articles(engine, 8, {"a1": 50})] == ["a3", "a4", "a2"]
