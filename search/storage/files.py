"""Index files: Whoosh file storage read with ``pread`` and written with counted bytes."""

from __future__ import annotations

import os
import pickle
from typing import Any

from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.structfile import StructFile


class PreadFile(StructFile):
    """A read-only index file whose ``get`` is one ``pread``, not a seek and a buffered read."""

    def __init__(self, fileobj: Any, **kwargs: Any) -> None:
        super().__init__(fileobj, **kwargs)
        self.fd = fileobj.fileno()

    def get(self, position: int, length: int) -> bytes:
        return os.pread(self.fd, length, position)


class WriteFile(StructFile):
    """A new index file that counts the bytes written, so ``tell`` is no system call.

    Python's buffered ``tell()`` asks the kernel (``lseek``) every time, and
    Whoosh's writers ask once or twice per term and per stored document: a
    tenth of a full build went there.
    """

    def __init__(self, fileobj: Any, **kwargs: Any) -> None:
        super().__init__(fileobj, **kwargs)
        self.is_real = False  # StructFile then writes arrays through write(), not with tofile()
        self._write = fileobj.write
        self._pos = fileobj.tell()

    def write(self, data: Any) -> int:
        written = self._write(data)  # a buffered writer takes everything: the byte count
        self._pos += written
        return written

    def tell(self) -> int:
        return self._pos

    def seek(self, *args: Any) -> int:
        self._pos = self.file.seek(*args)
        return self._pos

    def write_pickle(self, obj: Any, protocol: int = -1) -> None:  # StructFile's dumps straight to the file
        self.write(pickle.dumps(obj, protocol))


class PreadStorage(FileStorage):
    """Whoosh file storage whose random reads are single ``pread`` calls.

    Whoosh looks a term up and reads stored documents with a seek and a read
    each; through Python's buffered file that is a seek, an 8 KB buffer fill
    and a copy per lookup, hundreds per query. ``pread`` reads just the bytes
    (page cache hits), does not move the file position the other readers use,
    and keeps memory honest (``mmap`` would count the mapped index in every
    worker's RSS). New files count what they write (``WriteFile``).
    """

    def open_file(self, name: str, **kwargs: Any) -> StructFile:
        return PreadFile(open(self.path(name), "rb"), name=name, **kwargs)

    def create_file(self, name: str, excl: bool = False, mode: str = "wb", **kwargs: Any) -> StructFile:
        made = super().create_file(name, excl=excl, mode=mode, **kwargs)
        return WriteFile(made.file, name=name, **kwargs)

    def path(self, name: str) -> str:
        """The path of the file ``name`` in this storage."""
        return self._fpath(name)
