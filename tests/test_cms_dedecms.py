"""DedeCMS 5.7 on a real MariaDB: full import, one sync of every kind of change, GBK installs, a killed sync.

The articles are written for these tests. Each test loads its own database
into the session's private ``mariadbd`` (``tests/cms_server.py``) and asserts
the whole set of indexed ids and their fields.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import search
from search.articles import SHANGHAI
from search.cms import Dsn, Options
from tests.cms_server import MariaDB, run

ROOT = Path(__file__).resolve().parents[1]


def ts(text: str) -> int:
    """Unix seconds of a Shanghai wall-clock time (how DedeCMS stores pubdate and senddate)."""
    return int(datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=SHANGHAI).timestamp())


TYPES = [
    # id, typename, typedir, isdefault, namerule
    (1, "新闻中心", "{cmspath}/a/news", 0, "{typedir}/{Y}{M}{D}/{aid}.html"),
    (2, "本地要闻", "{cmspath}/a/local", 0, ""),
    (3, "专题报道", "{cmspath}/a/zt", -1, "{typedir}/{Y}/{aid}.html"),
]


def article(
    aid: int,
    title: str,
    body: str,
    typeid: int = 1,
    arcrank: int = 0,
    channel: int = 1,
    flag: str | None = None,
    writer: str = "",
    source: str = "衡州日报",
    keywords: str = "",
    description: str = "",
    pubdate: str = "2024-03-05 09:30",
    senddate: str = "2024-03-05 09:00",
    click: int = 0,
    filename: str = "",
) -> dict[str, Any]:
    return dict(locals())


ARTICLES = [
    article(
        1,
        "湘江风光带春季花展开幕",
        "<p>本报讯（记者 刘晓燕）湘江风光带春季花展昨日开幕，二十多个品种的郁金香同时开放。</p>"
        "<p>花展持续到四月底。</p>#p#交通提示#e#<p>花展期间沿江路部分路段单向通行，市民可乘坐公交前往。</p>",
        writer="刘晓燕",
        keywords="花展,湘江",
        description="湘江风光带春季花展昨日开幕。",
        click=321,
    ),
    article(2, "城区新增三处停车场", "<p>为缓解老城区停车难，市住建局在解放路新建三处停车场。</p>", typeid=2),
    article(3, "社区食堂开进老旧小区", "<p>蒸湘区首家社区食堂开业，六十岁以上老人就餐可享受优惠。</p>"),
    article(4, "雨季防汛演练在江边举行", "<p>消防、水利等部门开展防汛联合演练。</p>", arcrank=-2),
    article(5, "旧闻：图书馆延长开放时间", "<p>市图书馆周末延长开放至晚上九点。</p>"),
    article(6, "待审：高铁站新增出租车候客区", "<p>高铁站东广场新增出租车候客区。</p>", arcrank=-1),
    article(7, "会员专享：楼市半年报", "<p>上半年全市新建商品房成交面积同比下降。</p>", arcrank=10),
    article(8, "跳转：市政府门户网站", "", flag="j"),
    article(9, "图集：油菜花开", "", channel=2),
    article(10, "专题：乡村振兴在行动", "<p>多个乡镇发展特色种植，农民收入稳步增长。</p>", typeid=3),
    article(
        11,
        "午夜发布的快讯",
        "<p>凌晨发布的消息，地址按上海时间的日期生成。</p>",
        typeid=2,
        senddate="2024-03-06 00:30",
        pubdate="2024-03-06 00:30",
        filename="midnight-news",
    ),
]


def load(mariadb: MariaDB, database: str, articles: list[dict[str, Any]], charset: str = "utf8") -> Any:
    conn = mariadb.create(database, "dedecms", "dede_", charset)
    run(
        conn,
        "INSERT INTO dede_arctype (id, typename, typedir, isdefault, namerule) VALUES (%s, %s, %s, %s, %s)",
        [_encode(t, charset) for t in TYPES],
    )
    for a in articles:
        insert(conn, a, charset)
    return conn


def _encode(row: Any, charset: str) -> Any:
    """latin1 installs hold GBK bytes: send them as bytes so the server stores them unchanged."""
    if charset != "latin1":
        return row
    return [v.encode("gbk") if isinstance(v, str) else v for v in row]


def insert(conn: Any, a: dict[str, Any], charset: str = "utf8") -> None:
    """Write an article the way DedeCMS does: arctiny, archives, addonarticle."""
    run(
        conn,
        "INSERT INTO dede_arctiny (id, typeid, arcrank, channel, senddate, sortrank, mid) VALUES (%s,%s,%s,%s,%s,%s,1)",
        [[a["aid"], a["typeid"], a["arcrank"], a["channel"], ts(a["senddate"]), ts(a["senddate"])]],
    )
    run(
        conn,
        "INSERT INTO dede_archives (id, typeid, sortrank, flag, channel, arcrank, click, title, writer, source, "
        "pubdate, senddate, mid, keywords, description, filename) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,1,%s,%s,%s)",
        [
            _encode(
                [
                    a["aid"],
                    a["typeid"],
                    ts(a["senddate"]),
                    a["flag"],
                    a["channel"],
                    a["arcrank"],
                    a["click"],
                    a["title"],
                    a["writer"],
                    a["source"],
                    ts(a["pubdate"]),
                    ts(a["senddate"]),
                    a["keywords"],
                    a["description"],
                    a["filename"],
                ],
                charset,
            )
        ],
    )
    if a["channel"] == 1:
        run(
            conn,
            "INSERT INTO dede_addonarticle (aid, typeid, body, redirecturl) VALUES (%s,%s,%s,%s)",
            [_encode([a["aid"], a["typeid"], a["body"], "http://www.example.gov.cn/" if a["flag"] else ""], charset)],
        )


def set_rank(conn: Any, aid: int, rank: int) -> None:
    run(conn, f"UPDATE dede_arctiny SET arcrank={rank} WHERE id={aid}")
    run(conn, f"UPDATE dede_archives SET arcrank={rank} WHERE id={aid}")


def hard_delete(conn: Any, aid: int) -> None:
    for table, key in (("dede_arctiny", "id"), ("dede_archives", "id"), ("dede_addonarticle", "aid")):
        run(conn, f"DELETE FROM {table} WHERE {key}={aid}")


def indexed(store: search.IndexStore) -> dict[str, dict[str, Any]]:
    """Every live document's stored fields, by id."""
    ix = store.open()
    with ix.reader() as reader:
        docs = {}
        for _docnum, fields in reader.iter_docs():
            docs[fields["id"]] = fields
    return docs


def summary(store: search.IndexStore) -> dict[str, tuple]:
    """id → (title, url, channel, published) of every indexed article."""
    return {
        i: (
            d["title"],
            d["url"],
            d["channel"],
            d["published"].strftime("%Y-%m-%d %H:%M") if d.get("published") else None,
        )
        for i, d in indexed(store).items()
    }


def sync(store: search.IndexStore, dsn: str, **options: Any) -> search.SyncReport:
    charset = options.pop("charset", "auto")
    full = options.pop("full", False)
    return search.sync_cms(store, Dsn.parse(dsn), "dedecms", Options(**options), charset=charset, full=full, workers=1)


def counts(report: search.SyncReport) -> tuple[int, int, int, int, int]:
    return (report.indexed, report.updated, report.deleted, report.skipped, report.failed)


BEFORE = {
    # published is stored in UTC
    "1": ("湘江风光带春季花展开幕", "/a/news/20240305/1.html", "新闻中心", "2024-03-05 01:30"),
    "2": ("城区新增三处停车场", "/a/local/20240305/2.html", "本地要闻", "2024-03-05 01:30"),
    "3": ("社区食堂开进老旧小区", "/a/news/20240305/3.html", "新闻中心", "2024-03-05 01:30"),
    "5": ("旧闻：图书馆延长开放时间", "/a/news/20240305/5.html", "新闻中心", "2024-03-05 01:30"),
    "10": ("专题：乡村振兴在行动", "/plus/view.php?aid=10", "专题报道", "2024-03-05 01:30"),
    "11": ("午夜发布的快讯", "/a/local/20240306/midnight-news.html", "本地要闻", "2024-03-05 16:30"),
}


def test_full_import_then_one_sync_of_every_change(mariadb: MariaDB, store: search.IndexStore) -> None:
    conn = load(mariadb, "dede_states", ARTICLES)
    dsn = mariadb.dsn("dede_states")

    report = sync(store, dsn)
    assert (report.mode, counts(report)) == ("full", (6, 0, 0, 5, 0))
    assert report.errors == [] and report.warnings == []
    assert summary(store) == BEFORE
    first = indexed(store)["1"]
    assert first["body"] == (
        "本报讯（记者 刘晓燕）湘江风光带春季花展昨日开幕，二十多个品种的郁金香同时开放。\n花展持续到四月底。\n"
        "交通提示\n花展期间沿江路部分路段单向通行，市民可乘坐公交前往。"
    )
    assert first["pages"] == [["", 50], ["交通提示", 26]]
    assert (first["source"], first["authors"], first["tags"], first["lead"], first["views"]) == (
        "衡州日报",
        ["刘晓燕"],
        ["花展", "湘江"],
        "湘江风光带春季花展昨日开幕。",
        321,
    )

    # nothing changed: nothing to do
    assert counts(sync(store, dsn)) == (0, 0, 0, 0, 0)

    # the day's changes
    run(conn, "UPDATE dede_archives SET click = click + 50 WHERE id = 1")  # views only: not an edit
    run(conn, f"UPDATE dede_archives SET title='城区新增五处停车场', pubdate={ts('2024-03-07 10:00')} WHERE id=2")
    run(conn, "UPDATE dede_addonarticle SET body='<p>解放路和船山路共新建五处停车场。</p>' WHERE aid=2")
    set_rank(conn, 3, -2)  # to the recycle bin
    set_rank(conn, 4, 0)  # restored from it
    hard_delete(conn, 5)
    set_rank(conn, 6, 0)  # approved
    insert(conn, article(12, "新建学校秋季招生", "<p>城东新建的两所小学秋季开始招生。</p>", pubdate="2024-03-08 08:00"))
    insert(conn, article(13, "会员专享：年度经济数据解读", "<p>全年地区生产总值稳步增长。</p>", arcrank=10))
    insert(conn, article(14, "跳转：天气预报", "", flag="j"))

    report = sync(store, dsn)
    assert (report.mode, counts(report)) == ("incremental", (3, 1, 2, 2, 0))
    expected = dict(BEFORE)
    del expected["3"], expected["5"]
    expected["2"] = ("城区新增五处停车场", "/a/local/20240305/2.html", "本地要闻", "2024-03-07 02:00")
    expected["4"] = ("雨季防汛演练在江边举行", "/a/news/20240305/4.html", "新闻中心", "2024-03-05 01:30")
    expected["6"] = ("待审：高铁站新增出租车候客区", "/a/news/20240305/6.html", "新闻中心", "2024-03-05 01:30")
    expected["12"] = ("新建学校秋季招生", "/a/news/20240305/12.html", "新闻中心", "2024-03-08 00:00")
    assert summary(store) == expected
    assert indexed(store)["2"]["body"] == "解放路和船山路共新建五处停车场。"
    assert indexed(store)["1"]["views"] == 321  # a views-only change is not worth a reindex

    # back from the recycle bin; a public article becomes a redirect
    set_rank(conn, 3, 0)
    run(conn, "UPDATE dede_archives SET flag='j' WHERE id=12")
    assert counts(sync(store, dsn)) == (1, 0, 1, 1, 0)
    expected["3"] = BEFORE["3"]
    del expected["12"]
    assert summary(store) == expected

    # member-only articles by option, served by view.php
    report = sync(store, dsn, include_member_only=True)
    assert counts(report) == (2, 0, 0, 0, 0)
    assert {i: summary(store)[i][1] for i in ("7", "13")} == {
        "7": "/plus/view.php?aid=7",
        "13": "/plus/view.php?aid=13",
    }

    # a full rebuild starts the state afresh
    report = sync(store, dsn, full=True)
    assert (report.mode, counts(report)) == ("full", (7, 0, 0, 6, 0))
    assert counts(sync(store, dsn)) == (0, 0, 0, 0, 0)


GBK_ARTICLES = [
    article(21, "衡州老街修缮完工", "<p>百年老街修缮完工，青石板路重新铺设。</p>", writer="周敏"),
    article(22, "镕铖堃：生僻字人名的报道", "<p>记者采访了名叫王堃的非遗传承人。</p>", typeid=2),
]


@pytest.mark.parametrize(
    ("charset", "option"),
    [("gbk", "gbk"), ("gbk", "auto"), ("latin1", "latin1-gbk"), ("latin1", "auto"), ("utf8mb4", "utf8mb4")],
)
def test_gbk_and_latin1_installs(mariadb: MariaDB, store: search.IndexStore, charset: str, option: str) -> None:
    database = f"dede_{charset}_{option.replace('-', '_')}"
    conn = load(mariadb, database, GBK_ARTICLES, charset)
    dsn = mariadb.dsn(database)
    assert counts(sync(store, dsn, charset=option)) == (2, 0, 0, 0, 0)
    assert summary(store) == {
        "21": ("衡州老街修缮完工", "/a/news/20240305/21.html", "新闻中心", "2024-03-05 01:30"),
        "22": ("镕铖堃：生僻字人名的报道", "/a/local/20240305/22.html", "本地要闻", "2024-03-05 01:30"),
    }
    assert indexed(store)["21"]["authors"] == ["周敏"]
    title = "衡州老街修缮完工（图）"
    run(conn, "UPDATE dede_archives SET title=%s WHERE id=21", [_encode([title], charset)])
    report = sync(store, dsn, charset=option)
    assert (counts(report), report.warnings) == ((0, 1, 0, 0, 0), [])
    assert summary(store)["21"][0] == title


def test_undecodable_bytes_are_reported_with_the_article_id(mariadb: MariaDB, store: search.IndexStore) -> None:
    conn = load(mariadb, "dede_badbytes", GBK_ARTICLES, "latin1")
    run(conn, "UPDATE dede_archives SET title=%s WHERE id=22", [[b"\xba\xe2\xd1\xf4\xff\xff"]])  # 衡阳 + junk
    report = sync(store, mariadb.dsn("dede_badbytes"), charset="latin1-gbk")
    assert counts(report) == (2, 0, 0, 0, 0)
    assert report.warnings == ["article 22: title is not valid latin1-gbk (bytes 4-5); undecodable bytes replaced"]
    assert summary(store)["22"][0] == "衡阳\ufffd\ufffd"


def test_read_only_user_and_over_privileged_user(mariadb: MariaDB, store: search.IndexStore) -> None:
    load(mariadb, "dede_grants", GBK_ARTICLES[:1])
    assert sync(store, mariadb.dsn("dede_grants")).warnings == []
    report = sync(store, mariadb.dsn("dede_grants", user="editor"), full=True)
    assert report.warnings == [
        "database user 'editor' has ALL PRIVILEGES on 'dede_grants': the search service only reads the CMS, "
        "so give it a user with SELECT only (GRANT SELECT ON `dede_grants`.* TO ...)"
    ]


# --- a sync killed mid-way ------------------------------------------------------

KILLED_SYNC = """
import os, signal, sys
import search
import search.cms.sync as cms_sync
from search.cms import Dsn, Options

cms_sync.BATCH = 2
cms_sync.FETCH = 3
point, at = sys.argv[3], int(sys.argv[4])

def crash(name, count):
    if name == point and count >= at:
        os.kill(os.getpid(), signal.SIGKILL)

store = search.IndexStore(sys.argv[1], search.Analyzer())
search.sync_cms(store, Dsn.parse(sys.argv[2]), "dedecms", Options(), workers=1, crash_hook=crash)
"""


def killed_sync(root: Path, dsn: str, point: str, at: int) -> None:
    done = subprocess.run(
        [sys.executable, "-c", KILLED_SYNC, str(root), dsn, point, str(at)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]


def snapshot(store: search.IndexStore) -> dict[str, tuple]:
    return {
        i: (d["title"], d["body"], d["url"], d["channel"], d["published"], d.get("authors"), d["views"])
        for i, d in indexed(store).items()
    }


def test_a_killed_sync_resumes_to_the_same_index(mariadb: MariaDB, tmp_path: Path, analyzer: search.Analyzer) -> None:
    many = [
        article(100 + i, f"第{i}号新闻：社区便民服务", f"<p>第{i}篇正文，介绍社区便民服务。</p>") for i in range(12)
    ]
    conn = load(mariadb, "dede_crash", many)
    dsn = mariadb.dsn("dede_crash")
    calm = search.IndexStore(tmp_path / "calm", analyzer)
    crashed = search.IndexStore(tmp_path / "crashed", analyzer)

    # killed during the first import, after two fetches: nothing is published, the rerun imports all
    killed_sync(crashed.root, dsn, "fetched", 6)
    assert not crashed.exists()
    assert counts(sync(crashed, dsn)) == (12, 0, 0, 0, 0)
    assert counts(sync(calm, dsn)) == (12, 0, 0, 0, 0)

    for i in range(0, 6):
        run(conn, f"UPDATE dede_addonarticle SET body='<p>第{i}篇正文已更新。</p>' WHERE aid={100 + i}")
    set_rank(conn, 106, -2)
    hard_delete(conn, 107)
    for i in range(12, 16):
        insert(conn, article(100 + i, f"第{i}号新闻：新开通的公交线路", f"<p>第{i}条线路开通。</p>"))

    # killed after the third batch's index commit, before its state: the rerun redoes that batch
    killed_sync(crashed.root, dsn, "committed", 3)
    resumed = sync(crashed, dsn)
    assert resumed.failed == 0
    assert counts(sync(calm, dsn)) == (4, 6, 2, 0, 0)
    assert snapshot(crashed) == snapshot(calm)
    assert len(snapshot(calm)) == 14
    assert counts(sync(crashed, dsn)) == (0, 0, 0, 0, 0)


def test_cli_sync_masks_the_password_and_exits_1_on_failures(
    mariadb: MariaDB, tmp_path: Path, analyzer: search.Analyzer
) -> None:
    from click.testing import CliRunner

    from cli import cli
    from tests.cms_server import EDITOR_PASSWORD

    conn = load(mariadb, "dede_cli", GBK_ARTICLES)
    insert(conn, article(23, "", "", description=""))  # neither title nor body: a failure
    dsn = mariadb.dsn("dede_cli", user="editor")
    env = {"NEWS_SEARCH_CMS_DSN": dsn, "NEWS_SEARCH_INDEX": str(tmp_path / "ix")}
    args = ["sync", "--cms", "dedecms", "--workers", "1", "--site-url", "https://www.hzxw.cn"]
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 1
    assert EDITOR_PASSWORD not in result.output
    lines = result.output.splitlines()
    assert lines[:2] == [
        "error: dedecms article 23: article '23' has neither title nor body",
        "warning: database user 'editor' has ALL PRIVILEGES on 'dede_cli': the search service only reads the CMS, "
        "so give it a user with SELECT only (GRANT SELECT ON `dede_cli`.* TO ...)",
    ]
    assert lines[2].startswith("full sync: 2 indexed, 0 updated, 0 deleted, 0 skipped, 1 failed; 2 articles in gen-")
    store = search.IndexStore(tmp_path / "ix", analyzer)
    assert summary(store)["21"][1] == "https://www.hzxw.cn/a/news/20240305/21.html"
    result = CliRunner().invoke(cli, ["sync", "--workers", "1"], env=env)  # another address: the state does not fit
    assert result.exit_code == 1
    assert "rebuild it with sync --full" in result.output

    dsn_file = tmp_path / "dsn"
    dsn_file.write_text(dsn.replace("editor-Pw2", "wrong-password") + "\n", encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["sync", "--dsn-file", str(dsn_file)], env={"NEWS_SEARCH_INDEX": env["NEWS_SEARCH_INDEX"]}
    )
    assert (result.exit_code, "wrong-password" in result.output) == (1, False)
    assert result.output.startswith("Error: cannot connect to mysql://editor:***@localhost/dede_cli?unix_socket=")


def test_a_sync_that_would_change_most_articles_imports_anew(
    mariadb: MariaDB, store: search.IndexStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import search.cms.sync as cms_sync

    conn = load(mariadb, "dede_most", GBK_ARTICLES)
    dsn = mariadb.dsn("dede_most")
    generation = sync(store, dsn).generation
    run(conn, "UPDATE dede_arctype SET namerule='{typedir}/{aid}.html'")  # every URL changes
    monkeypatch.setattr(cms_sync, "FULL_AT", 1)
    report = sync(store, dsn)
    assert (report.mode, counts(report), report.warnings) == (
        "full",
        (2, 0, 0, 0, 0),
        ["most articles changed since the last sync: imported everything anew"],
    )
    assert report.generation != generation
    assert {i: s[1] for i, s in summary(store).items()} == {"21": "/a/news/21.html", "22": "/a/local/22.html"}


def test_dsn_parsing_and_masking() -> None:
    dsn = Dsn.parse("mysql://search:s3cr%40t@db.example.com:3307/dedecms")
    assert (dsn.user, dsn.password, dsn.host, dsn.port, dsn.database) == (
        "search",
        "s3cr@t",
        "db.example.com",
        3307,
        "dedecms",
    )
    assert str(dsn) == "mysql://search:***@db.example.com:3307/dedecms"
    assert str(Dsn.parse("mysql://search@localhost/dedecms?unix_socket=/run/mysqld/mysqld.sock")) == (
        "mysql://search@localhost/dedecms?unix_socket=/run/mysqld/mysqld.sock"
    )
    assert search.mask_dsn("cannot reach mysql://a:pw@h/db or mariadb://b:x@y/z") == (
        "cannot reach mysql://a:***@h/db or mariadb://b:***@y/z"
    )
    with pytest.raises(search.CmsError, match=r"names no database \(mysql://user@host/DB\)"):
        Dsn.parse("mysql://search:pw@localhost/")


def test_urls_follow_the_type_name_rule() -> None:
    from search.cms.dedecms import DedeCMS

    reader = DedeCMS(Options())
    when = ts("2024-03-06 00:30")
    assert [
        reader.url(7, 0, when, "{cmspath}/a/news", "", 0, ""),
        reader.url(7, 0, when, "/a/news/", "{typedir}/{Y}/{M}{D}/{timestamp}.html", 0, ""),
        reader.url(7, 0, when, "/a/news", "", 0, "spring"),
        reader.url(7, 0, when, "/a/news", "", -1, ""),
        reader.url(7, 5, when, "/a/news", "", 0, ""),
    ] == [
        "/a/news/20240306/7.html",
        f"/a/news/2024/0306/{when}.html",
        "/a/news/20240306/spring.html",
        "/plus/view.php?aid=7",
        "/plus/view.php?aid=7",
    ]


def test_a_sync_takes_the_one_writer_lock(mariadb: MariaDB, store: search.IndexStore) -> None:
    load(mariadb, "dede_lock", GBK_ARTICLES)
    dsn = mariadb.dsn("dede_lock")
    with store.write_lock(), pytest.raises(search.IndexBusyError, match="being written"):
        sync(store, dsn)
    assert counts(sync(store, dsn)) == (2, 0, 0, 0, 0)
