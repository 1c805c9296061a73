"""Index storage: an index this program cannot read is refused with what to do."""

import json

import pytest

import search
from search.index import SCHEMA_VERSION, IndexMismatchError


def test_an_index_of_an_older_schema_is_refused_with_the_rebuild_message(engine, corpus):
    store = engine.store
    meta_path = store.root / store.current() / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    assert meta["schema_version"] == SCHEMA_VERSION
    meta_path.write_text(json.dumps(dict(meta, schema_version=SCHEMA_VERSION - 1)), encoding="utf-8")
    fresh = search.IndexStore(store.root, store.analyzer)
    message = (
        f"index in {store.root} has schema version {SCHEMA_VERSION - 1}, this program needs {SCHEMA_VERSION}: "
        "rebuild it with reindex --full"
    )
    with pytest.raises(IndexMismatchError) as refused:
        search.SearchEngine(fresh).search("衡阳")
    assert str(refused.value) == message
    # and the rebuild it names works
    assert search.reindex(fresh, [corpus], full=True, workers=1).ok
    assert search.SearchEngine(search.IndexStore(store.root, store.analyzer)).search("衡阳").total == 3
