"""Index files: Whoosh file storage read with ``pread`` or a map, and written with counted bytes."""

from __future__ import annotations

import contextlib
import functools
import mmap
import os
import pickle
from typing import Any

from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.structfile import StructFile


class PreadFile(StructFile):
    """A read-only index file whose ``get`` is one ``pread``, not a seek and a buffered read.

    ``map`` is the whole file mapped read-only (segment files never change):
    the per-document readers (``reading.BytesColumn``, ``reading.StoredFields``)
    slice their values from it, with no system call a value; ranking reads
    ~75 values a query.
    """

    def __init__(self, fileobj: Any, **kwargs: Any) -> None:
        super().__init__(fileobj, **kwargs)
        self.fd = fileobj.fileno()

    @functools.cached_property
    def map(self) -> mmap.mmap | bytes:
        """The file mapped on first use (most files a searcher opens are never sliced)."""
        return map_file(self.fd)

    def get(self, position: int, length: int) -> bytes:
        return os.pread(self.fd, length, position)

    def close(self) -> None:
        close_map(self.__dict__.get("map"))  # slices are copies: no view of the map outlives it
        super().close()


def map_file(fd: int) -> mmap.mmap | bytes:
    """A whole file mapped read-only (an empty one, which ``mmap`` refuses, as ``b""``)."""
    return mmap.mmap(fd, 0, access=mmap.ACCESS_READ) if os.fstat(fd).st_size else b""


def close_map(data: Any) -> None:
    """Unmap what ``map_file`` mapped (anything else is left alone)."""
    if isinstance(data, mmap.mmap):
        data.close()


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
    (page cache hits) and does not move the file position the other readers
    use; the per-document readers slice a map of the file (``PreadFile.map``).
    New files count what they write (``WriteFile``).

    A commit is durable: Whoosh commits by renaming a new table of contents
    into place, and before that rename every file written since the last
    commit (by this process or a writer process) and the table itself are
    flushed to disk, and after it the directory (``rename_file``). A power cut
    then leaves the old table and its files, or the new ones, complete.
    """

    def open_file(self, name: str, **kwargs: Any) -> StructFile:
        return PreadFile(open(self.path(name), "rb"), name=name, **kwargs)

    def create_file(self, name: str, excl: bool = False, mode: str = "wb", **kwargs: Any) -> StructFile:
        made = super().create_file(name, excl=excl, mode=mode, **kwargs)
        return WriteFile(made.file, name=name, **kwargs)

    def path(self, name: str) -> str:
        """The path of the file ``name`` in this storage."""
        return self._fpath(name)

    def rename_file(self, oldname: str, newname: str, safe: bool = False) -> None:
        committing = newname.endswith(".toc")
        if committing:
            self._sync_written(oldname)
        super().rename_file(oldname, newname, safe=safe)
        if committing:
            sync_directory(self.folder)

    def _sync_written(self, table: str) -> None:
        """``fsync`` the new table of contents and every file changed since the newest table on disk."""
        entries = [e for e in os.scandir(self.folder) if e.is_file()]
        tables = [e.stat().st_mtime_ns for e in entries if e.name.endswith(".toc")]
        since = max(tables, default=0)
        for entry in entries:
            if entry.name == table or entry.stat().st_mtime_ns >= since:
                _fsync(entry.path)


def sync_directory(path: str) -> None:
    """``fsync`` a directory, so that the renames and new files in it survive a power cut."""
    with contextlib.suppress(OSError):  # a file system that cannot sync a directory
        _fsync(path)


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
