"""WordPress on a real MariaDB: an import and an incremental sync (posts written for these tests)."""

from __future__ import annotations

from typing import Any

import search
from search.cms import Dsn, Options
from tests.cms_server import MariaDB, run
from tests.test_cms_dedecms import counts, indexed

POST = (
    "INSERT INTO wp_posts (ID, post_author, post_date, post_date_gmt, post_content, post_title, post_excerpt, "
    "post_status, post_password, post_name, to_ping, pinged, post_modified, post_modified_gmt, "
    "post_content_filtered, guid, post_type) VALUES (%s, 1, %s, %s, %s, %s, '', %s, %s, %s, '', '', %s, %s, '', '', %s)"
)


def post(conn: Any, pid: int, title: str, content: str, status: str = "publish", **more: Any) -> None:
    gmt = more.get("gmt", "2024-03-05 01:30:00")
    row = [
        pid,
        gmt,
        gmt,
        content,
        title,
        status,
        more.get("password", ""),
        f"p{pid}",
        gmt,
        gmt,
        more.get("type", "post"),
    ]
    run(conn, POST, [row])


def summary(store: search.IndexStore) -> dict[str, tuple]:
    return {
        i: (d["title"], d["url"], d.get("channel", ""), d.get("tags", []), d["authors"], d["published"].isoformat())
        for i, d in indexed(store).items()
    }


def sync(store: search.IndexStore, dsn: str) -> search.SyncReport:
    return search.sync_cms(store, Dsn.parse(dsn), "wordpress", Options(), workers=1)


def test_import_and_incremental_sync(mariadb: MariaDB, store: search.IndexStore) -> None:
    conn = mariadb.create("wordpress", "wordpress", "wp_", "utf8mb4")
    run(conn, "INSERT INTO wp_users (ID, user_login, display_name) VALUES (1, 'editor', '编辑部 李明')")
    run(
        conn,
        "INSERT INTO wp_terms (term_id, name, slug) VALUES (%s, %s, %s)",
        [[2, "社会", "shehui"], [3, "志愿服务", "zhiyuan"]],
    )
    run(
        conn,
        "INSERT INTO wp_term_taxonomy (term_taxonomy_id, term_id, taxonomy, description) VALUES (%s, %s, %s, '')",
        [[2, 2, "category"], [3, 3, "post_tag"]],
    )
    post(
        conn,
        10,
        "志愿者走进敬老院",
        "<!-- wp:paragraph --><p>大学生志愿者为老人理发、读报。</p><!-- /wp:paragraph --><!--nextpage--><p>活动持续一整天。</p>",
    )
    post(conn, 11, "草稿：周末天气", "<p>周末有小雨。</p>", status="draft")
    post(conn, 12, "内部：采编会议纪要", "<p>仅限编辑部。</p>", password="secret")
    post(conn, 13, "关于我们", "<p>本站介绍。</p>", type="page")
    run(conn, "INSERT INTO wp_term_relationships (object_id, term_taxonomy_id) VALUES (%s, %s)", [[10, 2], [10, 3]])
    dsn = mariadb.dsn("wordpress")

    report = sync(store, dsn)
    assert (report.mode, counts(report)) == ("full", (1, 0, 0, 2, 0))
    assert summary(store) == {
        "10": ("志愿者走进敬老院", "/?p=10", "社会", ["志愿服务"], ["编辑部 李明"], "2024-03-05T01:30:00"),
    }
    assert indexed(store)["10"]["pages"] == [["", 15], ["", 8]]

    run(conn, "UPDATE wp_posts SET post_status='publish', post_modified_gmt='2024-03-06 00:00:00' WHERE ID=11")
    run(
        conn,
        "UPDATE wp_posts SET post_title='志愿者再次走进敬老院', post_modified_gmt='2024-03-06 00:00:00' WHERE ID=10",
    )
    post(conn, 14, "新春游园会", "<p>公园举办新春游园会。</p>", gmt="2024-03-07 02:00:00")
    report = sync(store, dsn)
    assert (report.mode, counts(report)) == ("incremental", (2, 1, 0, 0, 0))
    assert sorted(summary(store).items()) == [
        ("10", ("志愿者再次走进敬老院", "/?p=10", "社会", ["志愿服务"], ["编辑部 李明"], "2024-03-05T01:30:00")),
        ("11", ("草稿：周末天气", "/?p=11", "", [], ["编辑部 李明"], "2024-03-05T01:30:00")),
        ("14", ("新春游园会", "/?p=14", "", [], ["编辑部 李明"], "2024-03-07T02:00:00")),
    ]

    run(conn, "UPDATE wp_posts SET post_status='trash' WHERE ID=14")
    run(conn, "DELETE FROM wp_posts WHERE ID=11")
    assert counts(sync(store, dsn)) == (0, 0, 2, 0, 0)
    assert sorted(indexed(store)) == ["10"]
