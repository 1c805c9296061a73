"""Settings: one table, each setting from the environment as NEWS_SEARCH_<NAME>, typed like its default."""

import pytest

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
