"""Output safety: script and img payloads in articles never reach a page or an HTML field of the API unescaped."""

from __future__ import annotations

import html
import re
from urllib.parse import quote

import pytest

from .hostile import IMG, PAYLOADS, SCRIPT, XSS_ARTICLES, assert_safe_html


def assert_no_payload(text: str, where: str) -> None:
    for payload in PAYLOADS:
        assert payload not in text, f"{payload} unescaped in {where}"
    assert "onerror=alert(1)>" not in text and "<script>alert" not in text, where


@pytest.mark.parametrize(
    "url",
    [
        "/search?q=衡阳",
        "/search?q=疫情防控",
        "/search?q=衡阳&sort=date",
        "/search?q=" + quote(SCRIPT),
        "/search?q=" + quote(IMG),
        "/search?q=" + quote(SCRIPT + "长" * 300),  # the 400 page echoes the query
        "/search?q=衡阳&channel=" + quote(SCRIPT),
        "/search?q=衡阳&page=0&sort=" + quote(IMG),
    ],
)
def test_search_page_escapes(site, url):
    response = site.client.get(url)
    assert response.status_code in (200, 400)
    assert_no_payload(response.get_data(as_text=True), url)


def test_search_page_shows_payload_as_text(site):
    page = site.client.get("/search?q=衡阳疫情防控").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page or "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<mark>" in page


@pytest.mark.parametrize("article_id", ["xss-1", "xss-2", "a1", SCRIPT])
def test_article_page_and_related_box_escape(site, article_id):
    response = site.client.get("/articles/" + quote(article_id, safe=""))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert_no_payload(page, f"/articles/{article_id}")
    box = re.search(r'<section class="related-box".*?</section>', page, re.S)
    assert box is not None


def test_related_box_lists_the_hostile_titles_escaped(site):
    # xss-2's related box holds xss-1 and the injected id: the test is not vacuous
    page = site.client.get("/articles/xss-2").get_data(as_text=True)
    box = re.search(r'<section class="related-box".*?</section>', page, re.S).group(0)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in box
    assert_no_payload(box, "related box")
    article = site.client.get("/articles/xss-1").get_data(as_text=True)
    assert "&lt;img src=x onerror=alert(1)&gt;" in article


@pytest.mark.parametrize(
    "url",
    [
        "/api/search?q=衡阳",
        "/api/search?q=疫情防控",
        "/api/search?q=" + quote(SCRIPT),
        "/api/search?q=" + quote("alert(1)"),
        "/api/search?q=" + quote("script"),
        "/api/search?q=" + quote("onerror"),
        "/api/search?q=" + quote("<mark>衡阳</mark>"),
    ],
)
def test_api_html_fields_escape(site, url):
    response = site.client.get(url)
    assert response.status_code == 200 and response.mimetype == "application/json"
    data = response.get_json()
    for hit in data["hits"]:
        assert_safe_html(hit["snippet"])
        assert_safe_html(hit["title_html"])
        # the HTML field shows exactly the plain title
        assert html.unescape(re.sub(r"</?mark>", "", hit["title_html"])) == hit["title"]
        for dup in hit.get("duplicates", []):
            assert isinstance(dup["title"], str)


def test_api_article_and_related_are_json_text(site):
    response = site.client.get("/api/articles/xss-1")
    assert response.mimetype == "application/json"
    data = response.get_json()
    assert data["title"] == XSS_ARTICLES[0]["title"]  # plain text fields stay plain text
    related = site.client.get("/api/articles/xss-2/related").get_json()["related"]
    assert related and all(isinstance(r["title"], str) for r in related)


def test_related_api_never_offers_script_urls(site):
    urls = []
    for article_id in ("xss-1", "xss-2", "a1", "a3"):
        urls += [r["url"] for r in site.client.get(f"/api/articles/{article_id}/related?size=50").get_json()["related"]]
    urls += [h["url"] for h in site.client.get("/api/search?q=" + quote("外链报道")).get_json()["hits"]]
    assert urls
    assert not [u for u in urls if u.strip().lower().startswith(("javascript:", "data:", "vbscript:"))]
