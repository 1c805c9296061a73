"""The search pages in a real browser: type, read, page, filter, open, as a person would.

Needs the ``playwright`` package and Debian's Chromium at /usr/bin/chromium (both
installed by ``tests/setup_system.sh``); without either, every test here skips
(and fails under ``CI=true``: ``tests/parts.py``).
Playwright drives the system Chromium through ``executable_path``: we never run
``playwright install``.
"""

from __future__ import annotations

import functools
import http.server
import json
import math
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import search
from search.web import create_app

from .parts import require, require_executable

try:
    from playwright import sync_api
except ImportError:  # the browser fixture says so (skip, or fail under CI)
    sync_api = None
expect = sync_api.expect if sync_api is not None else None

CHROMIUM = os.environ.get("NEWS_SEARCH_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 30_000
PAGE_SIZE = 3
QUERY = "疫情防控"
SCRIPT_TITLE = "<script>alert(1)</script>衡阳新闻"


def article(n: int, title: str, channel: str, body: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"b{n:02d}",
        "title": title,
        "published": f"2022-{(n % 12) + 1:02d}-{(n % 27) + 1:02d} 09:00:00",
        "source": extra.pop("source", "衡阳日报"),
        "channel": channel,
        "body": body,
        "views": 10 * n,
        **extra,
    }


# Eight articles about 疫情防控 in four channels (three result pages at PAGE_SIZE 3),
# one of them with a script tag in its title; seven about other things.
ARTICLES = [
    article(
        1,
        "衡阳召开疫情防控工作会议",
        "时政",
        "1月31日，衡阳市召开疫情防控工作会议，要求各区县落实联防联控措施，严格执行值班制度。",
    ),
    article(
        2,
        "市委常委会研究部署冬春季疫情防控",
        "时政",
        "市委常委会强调，冬春季疫情防控不能松懈，要压实属地责任，做好物资储备和应急演练。",
    ),
    article(
        3,
        "社区志愿者守好疫情防控第一道防线",
        "社会",
        "石鼓区各社区招募志愿者，在小区门口测量体温、登记信息，筑牢疫情防控第一道防线。",
        source="衡阳晚报",
    ),
    article(
        4,
        "菜市场严格落实疫情防控措施",
        "社会",
        "市场监管部门检查各大菜市场，督促商户佩戴口罩、扫码登记，落实疫情防控要求。",
        source="红网",
    ),
    article(
        5,
        "全市中小学开学前开展疫情防控演练",
        "教育",
        "开学在即，全市中小学开展疫情防控应急演练，校医和班主任模拟学生发热后的处置流程。",
    ),
    article(
        6,
        "南华大学实行校园封闭管理加强疫情防控",
        "教育",
        "南华大学发布通知，实行校园封闭管理，学生凭校园卡进出，食堂错峰就餐，做好疫情防控。",
        source="衡阳晚报",
    ),
    article(
        7,
        SCRIPT_TITLE,
        "社会",
        "这是一篇标题里带有脚本标签的测试稿件，内容涉及疫情防控期间的便民服务热线。",
        source="衡阳新闻网",
    ),
    article(
        8,
        "衡阳火车站加强进站旅客疫情防控",
        "交通",
        "春运期间，衡阳火车站设置测温通道，铁路部门加强进站旅客疫情防控，引导旅客有序候车。",
    ),
    article(
        9,
        "国产大飞机首次飞抵南岳机场",
        "交通",
        "国产大飞机今天首次飞抵南岳机场，机场举行了隆重的过水门仪式。",
        source="衡阳新闻网",
    ),
    article(10, "雁峰区油菜花节开幕", "旅游", "雁峰区油菜花节开幕，数万亩油菜花竞相开放，吸引市民周末踏青赏花。"),
    article(
        11, "南岳衡山迎来雾凇景观", "旅游", "受冷空气影响，南岳衡山出现大面积雾凇，游客纷纷登山拍照。", source="红网"
    ),
    article(12, "蒸湘区开展反诈宣传进校园", "社会", "蒸湘区公安分局民警走进校园，用真实案例讲解电信诈骗的常见套路。"),
    article(13, "耒阳油茶喜获丰收", "经济", "耒阳油茶种植基地迎来丰收，农户采摘油茶果，合作社收购价格稳中有升。"),
    article(
        14, "衡南县新建三所乡村学校", "教育", "衡南县今年新建三所乡村学校，配齐多媒体教室和塑胶跑道，改善乡村办学条件。"
    ),
    article(
        15,
        "湘江衡阳段开展禁渔巡查",
        "社会",
        "渔政部门联合公安开展湘江禁渔巡查，查处非法捕捞行为，保护长江鱼类资源。",
        source="衡阳晚报",
    ),
]


# ---------------------------------------------------------------- fixtures


def build_index(root: Path, analyzer: search.Analyzer, articles: list[dict[str, Any]]) -> Path:
    """Index ``articles`` under ``root``; return the index directory."""
    corpus = root / "articles.jsonl"
    corpus.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in articles), encoding="utf-8")
    store = search.IndexStore(root / "index", analyzer)
    report = search.reindex(store, [corpus], full=True, workers=1)
    assert report.ok, report.errors
    return root / "index"


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory, analyzer: search.Analyzer) -> Iterator[str]:
    """Index the inline articles and serve the app with waitress on a free loopback port."""
    root = tmp_path_factory.mktemp("browser")
    index = build_index(root, analyzer, ARTICLES)
    config = {
        "INDEX": str(index),
        "PAGE_SIZE": PAGE_SIZE,
        "CLICK_LOG": True,
        "HOT_TTL_SECONDS": 0,
        "QUERY_LOG": str(root / "log.sqlite3"),
    }
    with serve(create_app(config)) as url:
        yield url


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve ``app`` with waitress on a free loopback port; yield its base URL, stop it after."""
    import waitress
    from waitress import wasyncore

    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)

    def serve() -> None:
        try:
            server.run()
        except OSError:  # the loop saw the listener closed under it at teardown
            pass

    thread = threading.Thread(target=serve, name="waitress-browser-test", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        # The browser is gone by now (its fixture depends on this one), so its
        # keep-alive connections are closed; closing the listener and the
        # trigger empties the socket map and ends the loop.
        server.close()
        server.task_dispatcher.shutdown()
        thread.join(timeout=10)
        wasyncore.close_all(server._map, ignore_all=True)


def launch_chromium() -> Any:
    """Skip (fail under CI) without playwright or Chromium; else a context manager giving playwright."""
    require(sync_api is not None, "playwright is not installed (pip install -e .[dev])")
    require_executable(CHROMIUM, "chromium")
    return sync_api.sync_playwright()


@pytest.fixture(scope="module")
def browser(base_url: str) -> Iterator[Any]:
    with launch_chromium() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=60_000)
        try:
            yield chromium
        finally:
            chromium.close()


class Watched:
    """A page plus what it said behind our back: dialogs and script errors."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        # an inline script or style the Content-Security-Policy refused is an error too
        page.on("console", lambda m: self.errors.append(m.text) if "Content Security Policy" in m.text else None)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()


@contextmanager
def watched_page(browser: Any, base_url: str, **options: Any) -> Iterator[Watched]:
    """A page of a fresh browser context (zh-CN, ``TIMEOUT_MS``), watched for dialogs and script errors; closed after."""
    context = browser.new_context(base_url=base_url, locale="zh-CN", **options)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    try:
        yield Watched(context.new_page())
    finally:
        context.close()


@pytest.fixture
def watched(browser: Any, base_url: str) -> Iterator[Watched]:
    with watched_page(browser, base_url, viewport={"width": 1280, "height": 900}) as w:
        yield w
    assert not w.dialogs, f"a dialog fired: {w.dialogs}"
    assert not w.errors, f"script errors on the page: {w.errors}"


# ---------------------------------------------------------------- helpers


def search_from_home(page: Any, text: str) -> None:
    """Open the home page, type ``text`` into the box, press Enter, wait for results."""
    page.goto("/")
    box = page.locator("#q")
    expect(box).to_be_visible()
    box.fill(text)
    box.press("Enter")
    page.wait_for_url(re.compile(r"/search\?"))
    expect(page.locator(".hit").first).to_be_visible()


def hit_titles(page: Any) -> list[str]:
    return [t.strip() for t in page.locator(".hit a.title").all_inner_texts()]


def result_count(page: Any) -> int:
    meta = page.locator(".results .meta").inner_text()
    match = re.search(r"找到约\s*(\d+)\s*条结果", meta)
    assert match, f"no result count in {meta!r}"
    return int(match.group(1))


# ---------------------------------------------------------------- tests


def test_search_highlight_paging_and_channel_facet(watched: Watched, tmp_path: Path) -> None:
    page = watched.page
    search_from_home(page, QUERY)
    expect(page.locator("#q")).to_have_value(QUERY)
    expect(page).to_have_title(re.compile(QUERY))

    # A page of highlighted results and the count a person reads.
    hits = page.locator(".hit")
    expect(hits).to_have_count(PAGE_SIZE)
    marks = page.locator(".hit .snippet mark")
    expect(marks.first).to_be_visible()
    assert any("疫情" in m or "防控" in m for m in marks.all_inner_texts())
    total = result_count(page)
    assert total >= 8, f"expected the eight 疫情防控 articles, the page says {total}"
    pages = math.ceil(total / PAGE_SIZE)
    expect(page.locator(".pager")).to_contain_text(f"第 1 / {pages} 页")
    expect(page.locator("a[rel=prev]")).to_have_count(0)
    page.screenshot(path=str(tmp_path / "results.png"), full_page=True)
    assert (tmp_path / "results.png").stat().st_size > 5_000

    # Next page: different results, the pager moves on.
    first = hit_titles(page)
    page.locator("a[rel=next]").click()
    page.wait_for_url(re.compile(r"[?&]page=2"))
    expect(page.locator(".pager")).to_contain_text(f"第 2 / {pages} 页")
    expect(page.locator("a[rel=prev]")).to_be_visible()
    expect(page.locator("#q")).to_have_value(QUERY)
    second = hit_titles(page)
    assert second and not set(first) & set(second), (first, second)

    # Channel facet: 社会 narrows the results to that channel, back on page 1.
    channel_links = page.locator(".facets h2:text-is('栏目') + ul a")
    link = channel_links.filter(has_text=re.compile(r"^社会 \d+$"))
    expect(link).to_have_count(1)
    facet_count = int(link.locator(".count").inner_text())
    link.click()
    page.wait_for_url(re.compile(r"channel="))
    assert "page=" not in page.url
    expect(page.locator(".hit").first).to_be_visible()
    assert result_count(page) == facet_count
    infos = page.locator(".hit .info").all_inner_texts()
    assert infos and len(infos) == min(facet_count, PAGE_SIZE)
    for info in infos:
        assert info.strip().endswith("· 社会"), info


def test_article_page_has_related_box(watched: Watched) -> None:
    page = watched.page
    search_from_home(page, QUERY)
    title = page.locator(".hit a.title").first
    title_text = title.inner_text().strip()
    title.click()
    page.wait_for_url(re.compile(r"/articles/"))
    expect(page.locator("article h1")).to_have_text(title_text)
    expect(page).to_have_title(re.compile(re.escape(title_text)))
    related = page.locator("#related")
    expect(related).to_be_visible()
    expect(related.locator("h2")).to_have_text("相关内容")
    items = related.locator("li a")
    expect(items.first).to_be_visible()
    assert title_text not in [t.strip() for t in items.all_inner_texts()], "an article is related to itself"

    # Following a related item opens another article page.
    other = items.first.inner_text().strip()
    items.first.click()
    expect(page.locator("article h1")).to_have_text(other)


def test_script_in_title_is_shown_as_text(watched: Watched) -> None:
    page = watched.page
    search_from_home(page, "衡阳新闻")
    hit = page.locator(".hit").filter(has=page.locator("a.title", has_text=SCRIPT_TITLE))
    expect(hit).to_have_count(1)
    expect(page.locator("body")).to_contain_text(SCRIPT_TITLE)
    assert page.locator("main script").count() == 0

    hit.locator("a.title").click()
    page.wait_for_url(re.compile(r"/articles/b07$"))
    expect(page.locator("article h1")).to_have_text(SCRIPT_TITLE)
    expect(page).to_have_title(SCRIPT_TITLE + " - 新闻搜索")
    assert page.locator("main script").count() == 0
    assert "疫情防控" in page.locator("article").inner_text()
    # The dialog check itself runs in the fixture's teardown: no alert() may have fired.


def clicks_on(page: Any, base_url: str, article_id: str) -> int:
    hot = page.request.get(base_url + "/api/hot?size=50").json()["articles"]
    return next(a["clicks"] for a in hot if a["id"] == article_id)


def wait_for_clicks(page: Any, base_url: str, article_id: str, want: int) -> int:
    """The query log writes at least once a second: poll until ``want`` clicks show (or 10 s pass)."""
    for _ in range(50):
        got = clicks_on(page, base_url, article_id)
        if got == want:
            return got
        page.wait_for_timeout(200)
    return got


def test_a_click_is_recorded_by_our_page_and_not_by_another_site(
    watched: Watched, base_url: str, tmp_path: Path
) -> None:
    page = watched.page
    search_from_home(page, "油菜花")
    article_id = page.locator(".hit a.title").first.get_attribute("data-click")
    assert article_id
    before = clicks_on(page, base_url, article_id)

    # Another site with images of /go/<id> and a beacon of its own counts nothing. (It is served on
    # loopback too, as http://localhost: Chromium blocks a public page's requests to loopback anyway.)
    hostile = tmp_path / "hostile.html"
    hostile.write_text(
        f'<img src="{base_url}/go/{article_id}"><img src="{base_url}/go/{article_id}?q=x">'
        f'<script>navigator.sendBeacon("{base_url}/api/click", new URLSearchParams({{id: "{article_id}"}}))</script>',
        encoding="utf-8",
    )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    other_site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=other_site.serve_forever, name="other-site", daemon=True)
    thread.start()
    try:
        with page.expect_request(f"{base_url}/api/click") as beacon:
            page.goto(f"http://localhost:{other_site.server_address[1]}/hostile.html")
        assert beacon.value.method == "POST"
        page.wait_for_timeout(2_500)  # the query log writes at least once a second
    finally:
        other_site.shutdown()
        other_site.server_close()
        thread.join(timeout=10)
    assert clicks_on(page, base_url, article_id) == before

    # A click on our own result page: a beacon, then /go/<id> redirects to the article.
    search_from_home(page, "油菜花")
    title = page.locator(".hit a.title").first
    assert title.get_attribute("href").startswith(f"/go/{article_id}?q=")
    title.click()
    page.wait_for_url(re.compile(r"/articles/"))
    assert wait_for_clicks(page, base_url, article_id, before + 1) == before + 1


def test_embed_js_renders_a_related_box_in_a_cms_page(watched: Watched, base_url: str) -> None:
    """The README's drop-in snippet in a CMS article template fills its box with the related articles."""
    import urllib.request

    with urllib.request.urlopen(f"{base_url}/api/articles/b05/related?size=3", timeout=30) as answer:
        expected = json.load(answer)["related"]
    assert len(expected) == 3  # b05 has three related articles
    cms_page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>CMS</title></head><body>"
        "<article><h1>衡阳召开疫情防控工作会议</h1><p>正文。</p></article>"
        '<div id="box" data-news-related="b05" data-size="3"></div>'
        f'<script src="{base_url}/static/embed.js" async></script></body></html>'
    )
    page = watched.page
    page.route(
        f"{base_url}/cms/b05.html", lambda route: route.fulfill(body=cms_page, content_type="text/html; charset=utf-8")
    )
    page.goto(f"{base_url}/cms/b05.html")
    box = page.locator("#box")
    expect(box.locator("h3")).to_have_text("相关内容")
    expect(box.locator("li a")).to_have_count(len(expected))
    assert [t.strip() for t in box.locator("li a").all_inner_texts()] == [r["title"] for r in expected]
    hrefs = [box.locator("li a").nth(i).get_attribute("href") for i in range(len(expected))]
    assert hrefs == [r["url"] or f"{base_url}/articles/{r['id']}" for r in expected]
