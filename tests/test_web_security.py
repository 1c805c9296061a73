"""What a public web service must get right besides searching (issue 16, finding 7).

Security headers on every answer, pages without inline code (the CSP forbids
it), one 503 for a missing index on every route without the machine's paths,
ids URL-encoded in links, ``safe_url`` refusing scheme-relative tricks and no
redirect built from the ``Host`` header.
"""

import re

import pytest

import search
from search.articles import safe_url
from search.web import create_app

from .conftest import write_jsonl


@pytest.fixture
def client(engine, tmp_path):
    return create_app(
        {"INDEX": str(engine.store.root), "TESTING": True, "QUERY_LOG": str(tmp_path / "log.sqlite3")}
    ).test_client()


PAGES = ["/", "/search?q=疫情防控", "/search?q=x&page=0", "/articles/a1", "/articles/nope", "/nothing"]
JSON = ["/api/search?q=疫情", "/api/hot", "/api/articles/a1/related", "/api/articles/nope", "/healthz", "/api/nothing"]


@pytest.mark.parametrize("path", PAGES + JSON)
def test_every_dynamic_answer_carries_the_security_headers(client, path):
    response = client.get(path)
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cache-Control"] == "no-store"
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    if path in PAGES:
        assert response.mimetype == "text/html"
        assert "script-src 'self'" in csp and "style-src 'self'" in csp and "'unsafe-inline'" not in csp
    else:
        assert response.mimetype == "application/json" and csp.startswith("default-src 'none'")


def test_static_files_are_not_sniffed_and_embed_js_stays_embeddable(client):
    response = client.get("/static/embed.js")
    assert response.status_code == 200 and response.headers["X-Content-Type-Options"] == "nosniff"
    # another site's page loads embed.js: no header of ours may stop it
    assert "Cross-Origin-Resource-Policy" not in response.headers and "X-Frame-Options" not in response.headers
    response.close()


@pytest.mark.parametrize("path", PAGES)
def test_pages_have_no_inline_script_style_or_handler(client, path):
    html = client.get(path).get_data(as_text=True)
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert "<style" not in html and " style=" not in html
    assert re.findall(r"\son[a-z]+\s*=", html) == []


@pytest.fixture
def no_index_client(tmp_path):
    return create_app(
        {"INDEX": str(tmp_path / "nowhere" / "index"), "TESTING": True, "QUERY_LOG": str(tmp_path / "log.sqlite3")}
    ).test_client()


NO_INDEX_JSON = [
    ("GET", "/api/search?q=衡阳"),
    ("GET", "/api/suggest?q=衡阳"),
    ("GET", "/api/hot"),
    ("GET", "/api/articles/a1"),
    ("GET", "/api/articles/a1/related"),
    ("GET", "/healthz"),
    ("POST", "/api/click"),
]


@pytest.mark.parametrize(("method", "path"), NO_INDEX_JSON)
def test_a_missing_index_is_one_503_without_the_path(no_index_client, tmp_path, method, path):
    response = no_index_client.open(path, method=method, data={"id": "a1"}, headers={"Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 503
    assert response.get_json() == {
        "error": {"code": "no_index", "message": "no index (build one with: news-search reindex PATH --full)"}
    }
    assert str(tmp_path) not in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/search?q=衡阳", "/articles/a1", "/go/a1"])
def test_a_missing_index_is_a_503_page(no_index_client, tmp_path, path):
    response = no_index_client.get(path)
    html = response.get_data(as_text=True)
    assert response.status_code == 503 and response.mimetype == "text/html"
    assert "搜索服务暂时不可用" in html and str(tmp_path) not in html and "/nowhere" not in html


def test_an_unusable_index_names_no_path(engine):
    import json

    store = engine.store
    meta_path = store.root / store.current() / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta_path.write_text(json.dumps(dict(meta, fingerprint="0123456789abcdef")), encoding="utf-8")
    body = create_app({"INDEX": str(store.root), "TESTING": True}).test_client().get("/healthz").get_json()
    assert body["error"]["code"] == "index_unavailable" and "0123456789abcdef" in body["error"]["message"]
    assert str(store.root) not in body["error"]["message"] and "/" not in body["error"]["message"]


ODD_ID = "2024/05?x=1#top ../../admin"


@pytest.fixture
def odd_client(tmp_path, analyzer):
    records = [
        {"id": ODD_ID, "title": "衡阳举办油菜花节", "body": "雁峰区油菜花节开幕，市民踏青赏花。", "views": 5},
        {"id": "plain", "title": "衡阳油菜花盛开", "body": "油菜花节期间，雁峰区游客众多。", "views": 1},
    ]
    store = search.IndexStore(tmp_path / "index", analyzer)
    assert search.reindex(store, [write_jsonl(tmp_path / "a.jsonl", records)], full=True, workers=1).ok
    return create_app(
        {"INDEX": str(store.root), "TESTING": True, "QUERY_LOG": str(tmp_path / "log.sqlite3")}
    ).test_client()


def test_article_ids_are_url_encoded_in_links_and_redirects(odd_client):
    encoded = "2024%2F05%3Fx%3D1%23top%20..%2F..%2Fadmin"
    html = odd_client.get("/search?q=油菜花").get_data(as_text=True)
    assert f'href="/go/{encoded}?q=%E6%B2%B9%E8%8F%9C%E8%8A%B1"' in html
    response = odd_client.get(f"/go/{encoded}")
    assert response.status_code == 302 and response.headers["Location"] == f"/articles/{encoded}"
    page = odd_client.get(response.headers["Location"])
    assert page.status_code == 200 and "衡阳举办油菜花节" in page.get_data(as_text=True)
    related = odd_client.get("/articles/plain").get_data(as_text=True)
    assert f'href="/articles/{encoded}"' in related


@pytest.mark.parametrize(
    "url",
    [
        "/\\evil.example/x",
        "/\\/evil.example",
        "//evil.example/x",
        "/\t/evil.example",
        "/\n/evil.example",
        "javascript:x",
    ],
)
def test_safe_url_refuses_links_that_leave_the_site_unannounced(url):
    assert safe_url(url) == ""


@pytest.mark.parametrize("url", ["/news/2024/1.html", "https://www.example.cn/a?b=1", "http://example.cn/%5C"])
def test_safe_url_keeps_plain_links(url):
    assert safe_url(url) == url


@pytest.mark.parametrize("path", ["//evil.example/x", "/articles//a1", "//search", "/go//a1", ""])
def test_no_redirect_is_built_from_the_host_header(client, path):
    # the raw path as a server hands it over (the test client would read //x as a host)
    response = client.get("/", environ_overrides={"PATH_INFO": path}, headers={"Host": "evil.example"})
    assert "evil.example" not in response.headers.get("Location", "")
    assert not response.headers.get("Location", "/").startswith(("//", "/\\"))


def test_the_result_link_redirect_is_a_relative_path(client):
    response = client.get("/go/a1?q=衡阳", headers={"Host": "evil.example"})
    assert response.status_code == 302 and response.headers["Location"] == "/articles/a1"
