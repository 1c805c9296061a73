import gzip
import json
import re
from pathlib import Path

from click.testing import CliRunner

import search
from cli import cli

from .conftest import ARTICLES, write_jsonl


def run(*args, env=None):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_every_command_has_help():
    for name, command in cli.commands.items():
        assert command.help, name
        assert run(name, "--help").exit_code == 0


def test_reindex_search_stats_delete(tmp_path, corpus):
    index = str(tmp_path / "ix")
    result = run("--index", index, "reindex", str(corpus), "--full")
    assert result.exit_code == 0, result.output
    assert "full reindex: 4 indexed, 0 updated, 0 skipped, 0 failed; 4 articles" in result.output
    result = run("--index", index, "search", "疫情防控", "--json")
    data = json.loads(result.output)
    assert (data["query"], data["total"], [h["id"] for h in data["hits"]][:1]) == ("疫情防控", 2, ["a1"])
    assert set(data["hits"][0]) >= {"id", "title", "url", "published", "source", "channel", "score", "snippet"}
    stats = json.loads(run("--index", index, "stats", "--json").output)
    assert stats["doc_count"] == 4
    assert run("--index", index, "delete", "a1").output == "deleted 1 of 1 articles\n"


def without_ms(output: str) -> str:
    return re.sub(r"\(\d+\.\d ms\)", "(… ms)", output)


def test_index_from_environment(tmp_path, corpus):
    env = {"NEWS_SEARCH_INDEX": str(tmp_path / "envix")}
    assert run("reindex", str(corpus), env=env).exit_code == 0
    result = run("search", "衡阳", env=env)
    assert result.exit_code == 0, result.output
    assert plain(result.output) == (
        "3 results (… ms)\n"
        "  1. C919首次飞抵衡阳南岳机场  [a3] 衡阳新闻网 2023-06-01  score …\n"
        "     国产大飞机C919今天首次飞抵衡阳。…\n"
        "  2. 衡阳召开疫情防控工作会议  [a1] 衡阳日报 2020-02-01  score …\n"
        "     本报讯（记者 李华）1月31日，衡阳市召开新型冠状病毒肺炎疫情防控工作会议。…\n"
        "  3. 南华大学迎来新生  [a2] 衡阳晚报 2021-09-05  score …\n"
        "     新生们的大学生活从军训开始。学校为新生准备了5G校园网和APP。\n"
    )
    assert (tmp_path / "envix" / "CURRENT").exists()


def test_failures_exit_nonzero_with_message(tmp_path, corpus):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{oops\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--index", str(tmp_path / "ix"), "reindex", str(corpus), str(bad)])
    assert result.exit_code == 1
    assert f"error: {bad}:1: invalid JSON" in result.output
    result = CliRunner().invoke(cli, ["--index", str(tmp_path / "missing"), "search", "x"])
    assert result.exit_code == 1 and "Error: no index in" in result.output and "Traceback" not in result.output


# --- README promises: the commands' plain output, related, eval, report -----------------


def plain(output: str) -> str:
    return re.sub(r"score \d+\.\d{3}", "score …", without_ms(output))


def test_search_plain_output_with_also_reported_by(sample_index):
    result = run("--index", str(sample_index), "search", "C919", "--limit", "1")
    assert result.exit_code == 0, result.output
    lines = plain(result.output).splitlines()
    assert lines[0] == "3 results (… ms)"
    assert re.fullmatch(r"  1\. .+  \[1057\] 红网 \d{4}-\d\d-\d\d  score …", lines[1]), lines[1]
    assert lines[3] == "     also reported by: 衡阳新闻网、湖南日报" and len(lines) == 4


def test_search_explain_shows_the_parts_of_each_score(sample_index):
    result = run("--index", str(sample_index), "search", "C919", "--limit", "2", "--explain")
    assert result.exit_code == 0, result.output
    scores = [float(s) for s in re.findall(r"  score (\d+\.\d{3})\n", result.output)]
    explains = [json.loads(line.split("explain: ", 1)[1]) for line in result.output.splitlines() if "explain: " in line]
    assert len(scores) == len(explains) == 2
    for score, parts in zip(scores, explains, strict=True):
        assert {"bm25f", "words", "recency_factor", "proximity_factor", "score"} <= set(parts)
        assert round(parts["score"], 3) == score and "c919" in parts["words"]


def test_search_sort_page_and_limit(tmp_path, corpus):
    index = str(tmp_path / "ix")
    assert run("--index", index, "reindex", str(corpus), "--full").exit_code == 0
    result = run("--index", index, "search", "衡阳", "--sort", "date", "--page", "2", "--limit", "1")
    assert result.exit_code == 0, result.output
    assert plain(result.output) == (
        "3 results (… ms)\n"
        "  2. 南华大学迎来新生  [a2] 衡阳晚报 2021-09-05  score …\n"
        "     新生们的大学生活从军训开始。学校为新生准备了5G校园网和APP。\n"
    )
    data = json.loads(run("--index", index, "search", "衡阳", "--sort", "date", "--limit", "2", "--json").output)
    assert [h["id"] for h in data["hits"]] == ["a3", "a2"] and (data["page"], data["size"]) == (1, 2)
    assert run("--index", index, "search", "衡阳", "--limit", "0").exit_code == 2  # 1..1000


def test_search_showing_results_for_and_did_you_mean(tmp_path, corpus):
    index = str(tmp_path / "ix")
    assert run("--index", index, "reindex", str(corpus), "--full").exit_code == 0
    lines = plain(run("--index", index, "search", "疫请").output).splitlines()
    assert lines[:2] == ["showing results for 疫情 (spelling)", "2 results (… ms)"]
    typo = write_jsonl(tmp_path / "typo.jsonl", [{"id": "t1", "title": "市民来电", "body": "社区疫请信息更新慢。"}])
    assert run("--index", index, "reindex", str(typo)).exit_code == 0
    lines = plain(run("--index", index, "search", "疫请").output).splitlines()
    assert lines[0] == "1 results (… ms)" and lines[-1] == "did you mean: 疫情"


def test_stats_plain_text(tmp_path, corpus):
    index = tmp_path / "ix"
    assert run("--index", str(index), "reindex", str(corpus), "--full").exit_code == 0
    result = run("--index", str(index), "stats")
    assert result.exit_code == 0, result.output
    fields = dict(line.split(None, 1) for line in result.output.splitlines())
    assert list(fields) == [
        "doc_count",
        "built_at",
        "updated_at",
        "sources",
        "schema_version",
        "fingerprint",
        "segmenter",
        "userdict",
        "generation",
        "path",
        "analyzer_in_use",
        "size_bytes",
    ]
    assert fields["doc_count"] == "4" and fields["path"] == str(index.resolve())
    assert fields["generation"] == (index / "CURRENT").read_text().strip() and int(fields["size_bytes"]) > 5_000


def test_related(sample_index):
    from search.related import related

    expected = related(search.open_engine(search.load_settings(overrides={"INDEX": str(sample_index)})), "2008", 3)
    assert len(expected) == 3
    result = run("--index", str(sample_index), "related", "2008", "--limit", "3")
    assert result.exit_code == 0, result.output
    assert result.output == "".join(f"{r['published'][:10]}  {r['title']}  [{r['id']}]\n" for r in expected)
    data = json.loads(run("--index", str(sample_index), "related", "2008", "--limit", "3", "--json").output)
    assert data == {"id": "2008", "related": expected}
    missing = CliRunner().invoke(cli, ["--index", str(sample_index), "related", "no-such-id"])
    assert missing.exit_code == 1 and "no article with id 'no-such-id'" in missing.output


def judged_task(root: Path) -> Path:
    """A tiny judged task over ARTICLES: two queries, graded judgments."""
    task = root / "task"
    task.mkdir()
    with gzip.open(task / "corpus.jsonl.gz", "wt", encoding="utf-8") as out:
        out.writelines(json.dumps(a, ensure_ascii=False) + "\n" for a in ARTICLES)
    (task / "queries.tsv").write_text("q1\t联防联控\nq2\t大学生\nq3\t没有判断的查询\n", encoding="utf-8")
    (task / "qrels.txt").write_text("q1 0 a1 2\nq2 0 a4 2\nq2 0 a2 1\nq2 0 a3 0\n", encoding="utf-8")
    return task


def test_eval_with_run_file_and_kept_index(tmp_path):
    task, kept, run_file = judged_task(tmp_path), tmp_path / "kept", tmp_path / "run.txt"
    args = ["eval", str(task), "--json", "--run", str(run_file), "--keep-index", str(kept)]
    first = run(*args)
    assert first.exit_code == 0, first.output
    result = json.loads(first.output)
    assert result.pop("p50_ms") > 0 and result.pop("index_seconds") is not None  # built into --keep-index
    assert result == {"task": "task", "queries": 2, "ndcg@10": 1.0, "mrr@10": 1.0, "recall@100": 1.0}
    assert (kept / "CURRENT").exists()
    assert run_file.read_text(encoding="utf-8") == (
        "q1 Q0 a1 1 100.0000 news-search\nq2 Q0 a4 1 100.0000 news-search\nq2 Q0 a2 2 99.0000 news-search\n"
    )
    again = json.loads(run(*args).output)
    assert again["index_seconds"] is None and again["ndcg@10"] == 1.0  # the kept index is reused, not rebuilt
    shown = run("eval", str(task))
    assert shown.exit_code == 0 and json.loads(shown.output)["queries"] == 2 and "\n " in shown.output  # indented


def test_report_zero_results(tmp_path, corpus):
    from search.querylog import QueryLog

    index = tmp_path / "ix"
    missing = CliRunner().invoke(cli, ["--index", str(index), "report", "zero-results"])
    assert missing.exit_code == 1 and f"no query log at {index / 'querylog.sqlite3'}" in missing.output
    log = QueryLog(index / "querylog.sqlite3")
    log.search("衡阳", 3, 1.0)
    log.close()
    assert run("--index", str(index), "report", "zero-results").output == "no zero-result searches\n"
    log = QueryLog(index / "querylog.sqlite3")
    for query in ("量子计算", "量子计算", "火星基地", "衡阳"):
        log.search(query, 0 if query != "衡阳" else 3, 1.0)
    log.close()
    result = run("--index", str(index), "report", "zero-results")
    assert result.exit_code == 0, result.output
    assert re.sub(r"\(last \d{4}-\d\d-\d\d \d\d:\d\d\)", "(last …)", result.output) == (
        "     2  量子计算  (last …)\n     1  火星基地  (last …)\n"
    )
    rows = json.loads(run("--index", str(index), "report", "zero-results", "--json", "--limit", "1").output)
    assert [(r["query"], r["count"], r["share_of_searches"]) for r in rows] == [("量子计算", 2, 0.4)]


def test_optimize_merges_the_segments_updates_left(tmp_path, corpus):
    index = str(tmp_path / "ix")
    never = {"NEWS_SEARCH_MERGE_SEGMENTS": "0", "NEWS_SEARCH_MERGE_DELETED": "1"}  # the updates merge nothing
    assert run("--index", index, "reindex", str(corpus), "--full").exit_code == 0
    update = write_jsonl(tmp_path / "update.jsonl", [dict(ARTICLES[0], title="衡阳召开会议 更新版")])
    assert run("--index", index, "reindex", str(update), env=never).exit_code == 0
    assert run("--index", index, "delete", "a2", env=never).exit_code == 0
    report = json.loads(run("--index", index, "optimize", "--json").output)
    assert report | {"seconds": 0} == {
        "segments_before": 2,
        "segments_after": 1,
        "merged": 2,
        "docs": 3,
        "dropped": 2,
        "seconds": 0,
    }
    result = run("--index", index, "optimize")
    assert result.output.startswith("merged 0 of 1 segments into one: 0 articles, 0 deleted dropped, 1 segments left")
    data = json.loads(run("--index", index, "search", "更新版", "--json").output)
    assert [h["id"] for h in data["hits"]] == ["a1"]
