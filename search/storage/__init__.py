"""Storage: the only code that knows the index's bytes on disk or Whoosh's internals.

* ``codec``: the news codec (``NewsCodec``), compact numpy-packed postings
  behind Whoosh's codec interface, with ``blocks`` the format of one term's
  postings and ``formats.PackedPositions`` the positions of a posting;
* ``files``: Whoosh file storage read with ``pread`` (``PreadStorage``);
* ``writer``: segment writers and the steps of a build (finish, drop, commit);
* ``reading``: postings, bytes columns and stored fields read as arrays;
* ``merging``: segments merged at the codec's level, and the merge policy.

Everything above sees terms, postings, stored fields and per-document values
through these names; ``tests/test_storage_boundary.py`` checks that nothing
else imports ``whoosh.codec`` or ``whoosh.filedb`` or reads a private
attribute of a Whoosh object.
"""

from .codec import NewsCodec
from .files import PreadStorage, sync_directory
from .formats import PackedPositions
from .merging import MergeReport, SegmentInfo, merge_all, merge_segments, plan_merge, segments_of
from .reading import (
    BytesColumn,
    StoredFields,
    generation_doc_frequencies,
    generation_postings,
    news_terms,
    term_postings,
)
from .writer import NewsSegmentWriter, codec, commit, drop_segment, finish_segment, new_writer

__all__ = [
    "BytesColumn",
    "MergeReport",
    "NewsCodec",
    "NewsSegmentWriter",
    "PackedPositions",
    "PreadStorage",
    "SegmentInfo",
    "StoredFields",
    "codec",
    "generation_doc_frequencies",
    "generation_postings",
    "commit",
    "drop_segment",
    "finish_segment",
    "merge_all",
    "merge_segments",
    "new_writer",
    "news_terms",
    "plan_merge",
    "segments_of",
    "sync_directory",
    "term_postings",
]
