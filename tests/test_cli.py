import json

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


def test_index_from_environment(tmp_path, corpus):
    env = {"NEWS_SEARCH_INDEX": str(tmp_path / "envix")}
    assert run("reindex", str(corpus), env=env).exit_code == 0
    assert "4 results" not in run("search", "衡阳", env=env).output
    assert (tmp_path / "envix" / "CURRENT").exists()


def test_failures_exit_nonzero_with_message(tmp_path, corpus):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{oops\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--index", str(tmp_path / "ix"), "reindex", str(corpus), str(bad)])
    assert result.exit_code == 1
    assert f"error: {bad}:1: invalid JSON" in result.output
    result = CliRunner().invoke(cli, ["--index", str(tmp_path / "missing"), "search", "x"])
    assert result.exit_code == 1 and "Error: no index in" in result.output and "Traceback" not in result.output
