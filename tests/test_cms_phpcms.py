"""PHPCMS v9 on a real MariaDB: an import and an incremental sync (articles written for these tests)."""

from __future__ import annotations

from typing import Any

import search
from search.cms import Dsn, Options
from tests.cms_server import MariaDB, run
from tests.test_cms_dedecms import counts, indexed, ts

NEWS = (
    "INSERT INTO v9_news (id, catid, typeid, title, keywords, description, url, status, islink, username, "
    "inputtime, updatetime) VALUES (%s, %s, 0, %s, %s, %s, %s, %s, %s, 'admin', %s, %s)"
)
DATA = (
    "INSERT INTO v9_news_data (id, content, groupids_view, paginationtype, maxcharperpage, template, copyfrom) "
    "VALUES (%s, %s, '', 0, 10000, '', %s)"
)


def news(conn: Any, nid: int, catid: int, title: str, content: str, status: int = 99, islink: int = 0) -> None:
    url = f"http://www.hzxw.cn/html/{2024}/news_0305/{nid}.html"
    when = ts("2024-03-05 09:30")
    run(conn, NEWS, [[nid, catid, title, "公交 线路", f"{title}。", url, status, islink, when, when]])
    run(conn, DATA, [[nid, content, "衡州晚报|0"]])


def summary(store: search.IndexStore) -> dict[str, tuple]:
    return {i: (d["title"], d["channel"], d["source"], d["tags"]) for i, d in indexed(store).items()}


def sync(store: search.IndexStore, dsn: str) -> search.SyncReport:
    return search.sync_cms(store, Dsn.parse(dsn), "phpcms", Options(), workers=1)


def test_import_and_incremental_sync(mariadb: MariaDB, store: search.IndexStore) -> None:
    conn = mariadb.create("phpcms", "phpcms", "v9_", "utf8mb4")
    category = (
        "INSERT INTO v9_category (catid, module, modelid, arrparentid, arrchildid, catname, style, image, "
        "description, parentdir, catdir, url, setting, letter, usable_type) "
        "VALUES (%s, 'content', 1, '0', %s, %s, '', '', '', '', %s, '', '', '', '')"
    )
    run(conn, category, [[6, "6", "城市交通", "jiaotong"], [7, "7", "文化旅游", "wenlv"]])
    news(
        conn,
        1,
        6,
        "两条新公交线路开通",
        "<p>新开通的两条公交线路连接高铁站和大学城。</p>[page]站点一览[/page]<p>沿线共设二十个站点。</p>",
    )
    news(conn, 2, 7, "古城墙遗址公园开放", "<p>遗址公园免费向市民开放。</p>")
    news(conn, 3, 7, "待审稿件：博物馆夜场", "<p>博物馆推出夏季夜场。</p>", status=1)
    news(conn, 4, 6, "外链：交通违法查询", "", islink=1)
    dsn = mariadb.dsn("phpcms")

    report = sync(store, dsn)
    assert (report.mode, counts(report)) == ("full", (2, 0, 0, 2, 0))
    assert summary(store) == {
        "1": ("两条新公交线路开通", "城市交通", "衡州晚报", ["公交", "线路"]),
        "2": ("古城墙遗址公园开放", "文化旅游", "衡州晚报", ["公交", "线路"]),
    }
    first = indexed(store)["1"]
    assert (first["url"], first["pages"]) == (
        "http://www.hzxw.cn/html/2024/news_0305/1.html",
        [["", 20], ["站点一览", 10]],
    )

    run(conn, f"UPDATE v9_news SET title='两条新公交线路今起开通', updatetime={ts('2024-03-06 08:00')} WHERE id=1")
    run(conn, "UPDATE v9_news SET status=0 WHERE id=2")  # sent back
    run(conn, "UPDATE v9_news SET status=99 WHERE id=3")  # approved
    news(conn, 5, 6, "出租车起步价调整听证会", "<p>听证会将于下月举行。</p>")
    report = sync(store, dsn)
    assert (report.mode, counts(report)) == ("incremental", (2, 1, 1, 0, 0))
    assert summary(store) == {
        "1": ("两条新公交线路今起开通", "城市交通", "衡州晚报", ["公交", "线路"]),
        "3": ("待审稿件：博物馆夜场", "文化旅游", "衡州晚报", ["公交", "线路"]),
        "5": ("出租车起步价调整听证会", "城市交通", "衡州晚报", ["公交", "线路"]),
    }
    run(conn, "DELETE FROM v9_news WHERE id=5")
    run(conn, "DELETE FROM v9_news_data WHERE id=5")
    assert counts(sync(store, dsn)) == (0, 0, 1, 0, 0)
    assert sorted(indexed(store)) == ["1", "3"]
