"""Settings: one table, each setting from the environment as NEWS_SEARCH_<NAME>, typed like its default."""

import os
from dataclasses import FrozenInstanceError, fields
from pathlib import Path

import pytest

import search
from search.settings import IndexSettings, RankingSettings, ServingSettings, SnippetSettings, load_settings


@pytest.mark.parametrize(
    "raw, value", [("1", True), ("true", True), ("Yes", True), ("on", True), ("0", False), ("", False), ("no", False)]
)
def test_boolean_settings_from_the_environment(raw, value):
    assert load_settings({})["CLICK_LOG"] is False  # off by default
    assert load_settings({"NEWS_SEARCH_CLICK_LOG": raw})["CLICK_LOG"] is value


def test_typed_settings_from_the_environment_and_overrides():
    settings = load_settings(
        {"NEWS_SEARCH_WORKERS": "3", "NEWS_SEARCH_TITLE_WEIGHT": "9.5"}, overrides={"CLICK_LOG": "1"}
    )
    assert (settings["WORKERS"], settings["TITLE_WEIGHT"], settings["CLICK_LOG"]) == (3, 9.5, True)
    with pytest.raises(ValueError, match="NEWS_SEARCH_WORKERS: 'many' is not a valid int"):
        load_settings({"NEWS_SEARCH_WORKERS": "many"})
    with pytest.raises(KeyError, match="unknown setting 'NOPE'"):
        load_settings({}, overrides={"NOPE": 1})


ROOT = Path(__file__).resolve().parents[1]


def test_the_configuration_reference_is_written_from_the_table():
    assert (ROOT / "docs" / "configuration.md").read_text("utf-8") == search.settings_reference()
    assert [line.split(" | ")[0].lstrip("| ") for line in search.settings_reference().splitlines()[7:]] == [
        s.name for s in search.SETTINGS
    ]


def test_every_setting_is_read_somewhere():
    """By its name, or through its field of a typed group (``read_groups``: ``.title_weight``, ``"userdict"``)."""
    code = "\n".join(p.read_text("utf-8") for p in [ROOT / "cli.py", *(ROOT / "search").rglob("*.py")])
    code = code.replace((ROOT / "search" / "settings.py").read_text("utf-8"), "")
    grouped = {
        f.name for group in (IndexSettings, RankingSettings, SnippetSettings, ServingSettings) for f in fields(group)
    }
    assert grouped <= {s.name.lower() for s in search.SETTINGS}  # every field of a group is a setting

    def read(name: str) -> bool:
        field = name.lower()
        return any(f'"{n}"' in code or f"'{n}'" in code for n in (name, field)) or (
            field in grouped and f".{field}" in code
        )

    assert [s.name for s in search.SETTINGS if not read(s.name)] == []


def test_settings_read_into_typed_frozen_groups():
    values = load_settings({"NEWS_SEARCH_TITLE_WEIGHT": "9.5", "NEWS_SEARCH_SYNONYMS": f"a.txt{os.pathsep}b.txt"})
    groups = search.read_groups(values)
    assert groups.ranking == RankingSettings(9.5, 6.0, 1.0, 1.2, 0.6, 0.0, 0.1, "", 1000)
    assert groups.snippets == SnippetSettings(120, 2)
    assert groups.index == IndexSettings("indexes/default", "rjieba", "", f"a.txt{os.pathsep}b.txt", 0, 256, 8, 0.2)
    assert (groups.index.paths("synonyms"), groups.index.paths("userdict")) == (["a.txt", "b.txt"], [])
    assert groups.serving == ServingSettings(256, 10, 100, 200_000, 30.0, 3600.0, 3, "", False, "", 0)
    with pytest.raises(FrozenInstanceError):
        groups.ranking.title_weight = 1.0  # type: ignore[misc]


def test_synonym_files_from_the_settings(tmp_path, analyzer):
    extra = tmp_path / "syn.txt"
    extra.write_text("# ours\n石鼓书院,石鼓\n", "utf-8")
    engine = search.open_engine(load_settings({}, {"INDEX": str(tmp_path / "ix"), "SYNONYMS": str(extra)}))
    assert engine.synonyms.of("石鼓书院") == ["石鼓"] and engine.synonyms.of("石鼓") == ["石鼓书院"]
    assert search.open_engine(load_settings({}, {"INDEX": str(tmp_path / "ix")})).synonyms.of("石鼓书院") == []
