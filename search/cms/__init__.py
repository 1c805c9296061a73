"""Straight from the CMS database: readers for DedeCMS, PHPCMS and WordPress, and the sync.

``base`` holds what every reader shares (the DSN, the connection, the
charset decoder, the ``CmsReader`` interface); ``dedecms``, ``phpcms`` and
``wordpress`` are the mappings; ``sync`` imports and keeps the index in step.
A new CMS is one more mapping module registered in ``sync.READERS``
(see docs/dedecms.md, "Another CMS").
"""

from .base import CHARSETS, CmsError, CmsReader, Decoder, Dsn, Options, mask_dsn
from .base import Options as CmsOptions
from .sync import READERS, SyncReport
from .sync import sync as sync_cms

__all__ = [
    "CHARSETS",
    "READERS",
    "CmsError",
    "CmsOptions",
    "CmsReader",
    "Decoder",
    "Dsn",
    "Options",
    "SyncReport",
    "mask_dsn",
    "sync_cms",
]
