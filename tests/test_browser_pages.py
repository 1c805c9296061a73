"""The readers' pages in a real browser, on a phone (390×844, touch) and a desktop (1280×800).

Layout (results first on a phone, nothing scrolls sideways, the search button
on one line, tap targets of 44 px), facets without JavaScript, the landing
page, the plain "no match" answer, the autocomplete combobox with the
keyboard, and axe-core (``axe-playwright-python``, which ships axe.min.js)
over every page. Same Chromium and rules as ``test_browser.py``.

``NEWS_SEARCH_SCREENSHOTS=DIR`` saves each page at each size there.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

import search
from search.web import create_app

from . import test_browser
from .test_browser import (
    ARTICLES,
    Watched,
    article,
    build_index,
    expect,
    serve,
    watched_page,
)

browser = test_browser.browser  # the same Chromium fixture, over this module's base_url

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
SIZES = {"phone": PHONE, "desktop": DESKTOP}
TAP = 44
NONSENSE = "没有这个词xyzzy"
HOT = {"疫情防控": 5, "南岳机场": 4, "油菜花节": 3}  # distinct readers each
# Articles that say 没有 (what the any-word fallback finds for NONSENSE), and
# titles with pinyin neighbours of 疫情 (yiq…) that are function words.
MORE = [
    article(21, "乡村学校没有围墙的课堂", "教育", "这所学校没有围墙，孩子们在田野里上自然课。"),
    article(22, "以前的老街换新颜", "社会", "以前坑洼的老街铺上了沥青，街坊们一起出来散步。"),
    article(23, "一起看油菜花 一期活动报名开始", "旅游", "油菜花节一期活动开始报名，市民可以一起踏青。"),
]
SCREENS = os.environ.get("NEWS_SEARCH_SCREENSHOTS", "")


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory, analyzer: search.Analyzer) -> Iterator[str]:
    """The browser test's articles and a few more, served with hot searches already in the query log."""
    index = build_index(tmp_path_factory.mktemp("pages"), analyzer, ARTICLES + MORE)
    app = create_app({"INDEX": str(index), "PAGE_SIZE": 3})
    log = app.extensions["querylog"]
    for query, times in HOT.items():
        for reader in range(times):  # distinct readers: a hot search needs HOT_MIN_CLIENTS of them
            log.search(query, 3, 1.0, f"reader-{reader}")
    log.flush()
    with serve(app) as url:
        yield url


@contextmanager
def open_page(browser: Any, base_url: str, size: str, **options: Any) -> Iterator[Watched]:
    with watched_page(browser, base_url, **SIZES[size], **options) as w:
        yield w
    assert not w.dialogs and not w.errors, (w.dialogs, w.errors)


@pytest.fixture(params=sorted(SIZES))
def sized(request: pytest.FixtureRequest, browser: Any, base_url: str) -> Iterator[tuple[str, Any]]:
    """A page at each size: (size name, page)."""
    with open_page(browser, base_url, request.param) as w:
        yield request.param, w.page


@pytest.fixture
def phone(browser: Any, base_url: str) -> Iterator[Any]:
    with open_page(browser, base_url, "phone") as w:
        yield w.page


@pytest.fixture
def desktop(browser: Any, base_url: str) -> Iterator[Any]:
    with open_page(browser, base_url, "desktop") as w:
        yield w.page


@pytest.fixture
def phone_without_script(browser: Any, base_url: str) -> Iterator[Any]:
    with open_page(browser, base_url, "phone", java_script_enabled=False) as w:
        yield w.page


# ---------------------------------------------------------------- helpers


def no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the page scrolls sideways: {width[0]} px wide in a {width[1]} px window"


def one_line(page: Any, selector: str) -> None:
    """The element's text is laid out on one line (a wrapped 搜 / 索 gives two rectangles)."""
    lines = page.eval_on_selector(
        selector,
        "el => { const r = document.createRange(); r.selectNodeContents(el);"
        " return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size; }",
    )
    assert lines == 1, f"{selector} wraps onto {lines} lines"


def small_targets(page: Any, selector: str) -> list[str]:
    """Visible elements matching ``selector`` smaller than TAP px either way."""
    return page.eval_on_selector_all(
        selector,
        f"els => els.filter(e => e.offsetParent !== null).map(e => [e.textContent.trim(), e.getBoundingClientRect()])"
        f".filter(([t, r]) => r.width < {TAP} || r.height < {TAP}).map(([t, r]) => t + ' ' + r.width + 'x' + r.height)",
    )


def screenshot(page: Any, name: str) -> None:
    if SCREENS:
        Path(SCREENS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENS) / f"{name}.png"), full_page=True)


def axe_problems(page: Any) -> list[str]:
    """Serious and critical axe-core violations on the page, one line each."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


# ---------------------------------------------------------------- tests


def test_results_layout(sized: tuple[str, Any]) -> None:
    size, page = sized
    page.goto("/search?q=疫情防控")
    first = page.locator(".hit").first
    expect(first).to_be_visible()
    top = first.bounding_box()["y"]
    height = page.evaluate("window.innerHeight")
    assert top < height / 2, f"the first result starts at {top} px of a {height} px screen"
    no_sideways_scroll(page)
    one_line(page, ".box button")
    if size == "phone":
        assert small_targets(page, ".box button, .box input, .sort a, .sort span, .filters summary, .pager a") == []
        expect(page.locator(".facets")).to_be_hidden()
        expect(page.locator(".filters summary")).to_have_text("筛选")
        page.locator("a[rel=next]").scroll_into_view_if_needed()
        assert small_targets(page, ".pager a, .pager .off") == []
    else:
        expect(page.locator(".facets")).to_be_visible()
        expect(page.locator(".filters")).to_be_hidden()
        facets, results = page.locator(".facets").bounding_box(), page.locator(".results").bounding_box()
        assert facets["x"] + facets["width"] <= results["x"], "the facets are beside the results, on the left"


def test_facets_open_and_apply_on_a_phone_without_javascript(phone_without_script: Any) -> None:
    page = phone_without_script
    page.goto("/search?q=疫情防控")
    expect(page.locator("#q")).not_to_have_attribute("role", "combobox")  # search.js did not run
    social = page.locator(".filters a", has_text=re.compile(r"^社会 \d+$"))
    expect(social).to_be_hidden()
    page.locator(".filters summary").tap()
    expect(social).to_be_visible()
    assert small_targets(page, ".filters a") == []
    count = int(social.locator(".count").inner_text())
    social.tap()
    page.wait_for_url(re.compile(r"channel="))
    assert parse_qs(urlsplit(page.url).query)["channel"] == ["社会"]
    infos = page.locator(".hit .info").all_inner_texts()
    assert len(infos) == min(count, 3) and all(i.strip().endswith("· 社会") for i in infos), infos
    expect(page.locator(".chosen")).to_contain_text("社会")
    no_sideways_scroll(page)


def test_landing_page(sized: tuple[str, Any]) -> None:
    size, page = sized
    page.goto("/")
    hot = page.locator(".hot-searches a")
    assert [t.split("\n")[-1].strip() for t in hot.all_inner_texts()] == list(HOT)
    assert [re.sub(r"^\d+", "", t) for t in hot.all_text_contents()] == list(HOT)
    hot_articles = page.locator(".hot-articles a")
    expect(hot_articles).to_have_count(8)
    assert hot_articles.first.inner_text() == max(ARTICLES + MORE, key=lambda a: a["views"])["title"]
    channels = page.locator(".channel h3").all_inner_texts()
    assert len(channels) >= 4 and "社会" in channels, channels
    newest = page.locator(".channel").first.locator("li a").first.inner_text()
    assert newest in {a["title"] for a in ARTICLES + MORE}
    no_sideways_scroll(page)
    one_line(page, ".box button")
    if size == "phone":
        assert small_targets(page, ".hot-searches a, .channel h3 a") == []
    hot.first.click()
    page.wait_for_url(re.compile(r"/search\?q="))
    expect(page.locator(".hit").first).to_be_visible()


def test_nonsense_query_says_no_match(sized: tuple[str, Any]) -> None:
    _, page = sized
    page.goto("/search?q=" + NONSENSE)
    expect(page.locator(".nomatch-title")).to_have_text(f"没有找到与“{NONSENSE}”完全匹配的新闻")
    expect(page.locator("mark")).to_have_count(0)
    expect(page.locator(".hit")).to_have_count(0)
    shorter = page.locator("a.shorter")
    expect(shorter).to_have_count(1)
    assert "xyzzy" not in shorter.inner_text()
    assert page.locator(".nomatch .chips a").all_inner_texts() == list(HOT)
    no_sideways_scroll(page)


def test_autocomplete_with_the_keyboard(desktop: Any) -> None:
    page = desktop
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/suggest" in r.url else None)
    page.goto("/")
    box = page.locator("#q")
    expect(box).to_have_attribute("role", "combobox")
    expect(box).to_have_attribute("aria-expanded", "false")
    box.focus()
    # Three keystrokes within the debounce (in one task, whatever the machine's load): one request.
    page.evaluate(
        "() => { const q = document.getElementById('q');"
        " for (const v of ['y', 'yi', 'yiq']) { q.value = v; q.dispatchEvent(new Event('input')); } }"
    )
    listbox = page.locator("#q-suggestions")
    expect(listbox).to_be_visible()
    expect(box).to_have_attribute("aria-expanded", "true")
    options = listbox.locator("[role=option]")
    texts = options.all_inner_texts()
    assert set(texts[:2]) == {"疫情", "疫情防控"}, texts
    assert not {"以前", "一起", "一期"} & set(texts), texts
    assert len(asked) == 1, asked
    box.press("ArrowDown")
    first_id = options.first.get_attribute("id")
    expect(box).to_have_attribute("aria-activedescendant", first_id)
    expect(options.first).to_have_attribute("aria-selected", "true")
    box.press("ArrowDown")
    box.press("ArrowUp")
    expect(box).to_have_attribute("aria-activedescendant", first_id)
    box.press("Escape")
    expect(listbox).to_be_hidden()
    expect(box).to_have_attribute("aria-expanded", "false")
    expect(box).not_to_have_attribute("aria-activedescendant", re.compile("."))
    box.press("ArrowDown")  # opens it again on the first option
    expect(box).to_have_attribute("aria-activedescendant", first_id)
    box.press("Enter")
    page.wait_for_url(re.compile(r"/search\?q="))
    assert parse_qs(urlsplit(page.url).query)["q"] == [texts[0]]
    expect(page.locator(".hit").first).to_be_visible()


@pytest.mark.parametrize("path", ["/", "/search?q=疫情防控", "/search?q=" + NONSENSE, "/articles/b01"])
def test_axe_finds_no_serious_violations(sized: tuple[str, Any], path: str) -> None:
    size, page = sized
    page.goto(path)
    expect(page.locator("main")).to_be_visible()
    name = {"/": "landing", "/articles/b01": "article"}.get(path, "zero" if NONSENSE in path else "results")
    screenshot(page, f"{name}-{size}")
    assert axe_problems(page) == []
