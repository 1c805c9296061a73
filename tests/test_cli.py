import json
import re

from click.testing import CliRunner

from cli import cli


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
    assert without_ms(result.output) == (
        "3 results (… ms)\n"
        "  1. C919首次飞抵衡阳南岳机场  [a3] 衡阳新闻网 2023-06-01  score 0.983\n"
        "     国产大飞机C919今天首次飞抵衡阳。…\n"
        "  2. 衡阳召开疫情防控工作会议  [a1] 衡阳日报 2020-02-01  score 0.941\n"
        "     本报讯（记者 李华）1月31日，衡阳市召开新型冠状病毒肺炎疫情防控工作会议。…\n"
        "  3. 南华大学迎来新生  [a2] 衡阳晚报 2021-09-05  score 0.412\n"
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
