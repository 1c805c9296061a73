"""Settings: one table, each setting from the environment as NEWS_SEARCH_<NAME>, typed like its default."""

from pathlib import Path

import pytest

import search
from search.settings import load_settings


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
    code = "\n".join(p.read_text("utf-8") for p in [ROOT / "cli.py", *(ROOT / "search").rglob("*.py")])
    code = code.replace((ROOT / "search" / "settings.py").read_text("utf-8"), "")
    unread = [s.name for s in search.SETTINGS if f'"{s.name}"' not in code and f"'{s.name}'" not in code]
    assert unread == []


def test_synonym_files_from_the_settings(tmp_path, analyzer):
    extra = tmp_path / "syn.txt"
    extra.write_text("# ours\n石鼓书院,石鼓\n", "utf-8")
    engine = search.open_engine(load_settings({}, {"INDEX": str(tmp_path / "ix"), "SYNONYMS": str(extra)}))
    assert engine.synonyms.of("石鼓书院") == ["石鼓"] and engine.synonyms.of("石鼓") == ["石鼓书院"]
    assert search.open_engine(load_settings({}, {"INDEX": str(tmp_path / "ix")})).synonyms.of("石鼓书院") == []
