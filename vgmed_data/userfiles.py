"""Files a user hands us are opened only when they are regular files, and read whole only under a size bound.

A path in a dataset folder or a source folder can be anything the file system holds: a named pipe (opening it
for reading waits for a writer, forever), a device (``/dev/zero`` never ends), a socket, or a regular file far
larger than its kind ever is. :func:`check_regular` refuses everything but a regular file (links followed)
*before* anything opens it; :func:`read_bounded` also refuses a file over its limit, from its size and again
while reading (a file that grows, or a size the kernel does not know). Each refusal is one line naming the
file, what it is, and the limit.

The limits are per kind of file (:data:`CARD_LIMIT`, :data:`INDEX_LIMIT`, :data:`JSON_LINE_LIMIT`,
:data:`IMAGE_LIMIT`), each far
above the largest real file of that kind, so they only stop what is not one.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from vgmed_data.errors import FileFormatError, SourceNotFoundError

MIB = 1 << 20
CARD_LIMIT = 16 * MIB  # README.md dataset cards (the Hub's cards are kilobytes)
INDEX_LIMIT = 512 * MIB  # a source's index or annotation list read whole: JSON, YAML, CSV
JSON_LINE_LIMIT = 64 * MIB  # one line of a JSON Lines file
IMAGE_LIMIT = 1024 * MIB  # a 2D image file read whole (decoding has its own pixel limit)

_KINDS = ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def kind_of(mode: int) -> str:
    """``"a regular file"``, ``"a folder"``, ``"a named pipe"``... for an ``st_mode``."""
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISDIR(mode):
        return "a folder"
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def check_regular(path: str | os.PathLike[str], *, what: str = "file",
                  record: str | None = None) -> os.stat_result:
    """The ``stat`` of ``path`` (links followed) when it is a regular file; otherwise one-line
    :class:`SourceNotFoundError` (missing, or a link to nothing) or :class:`FileFormatError` (a folder, a pipe,
    a device, a socket). Nothing is opened, so a named pipe cannot block."""
    file = Path(path)
    try:
        info = file.stat()
    except FileNotFoundError:
        broken = " (a link to a missing file)" if file.is_symlink() else ""
        raise SourceNotFoundError(f"{what} not found{broken}", path=file, record=record, fix="check the path") from None
    except OSError as error:  # a loop of links, a name too long, a permission
        raise FileFormatError(f"{what} cannot be read ({error.strerror or error})", path=file, record=record,
                              fix="check the path") from None
    if not stat.S_ISREG(info.st_mode):
        raise FileFormatError(f"{what} is {kind_of(info.st_mode)}, not a regular file", path=file, record=record,
                              fix="replace it with the real file")
    return info


def read_bounded(path: str | os.PathLike[str], *, limit: int, what: str = "file", record: str | None = None) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; :class:`FileFormatError` naming the limit when it
    is larger (checked from its size before reading, and while reading)."""
    file = Path(path)
    info = check_regular(file, what=what, record=record)
    if info.st_size > limit:
        raise _too_large(file, what=what, record=record, limit=limit, size=info.st_size)
    with open(file, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise _too_large(file, what=what, record=record, limit=limit, size=None)
    return data


def read_text_bounded(path: str | os.PathLike[str], *, limit: int, what: str = "file", record: str | None = None,
                      encoding: str = "utf-8") -> str:
    """:func:`read_bounded` decoded; text that is not ``encoding`` is a :class:`FileFormatError` naming the byte."""
    data = read_bounded(path, limit=limit, what=what, record=record)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise FileFormatError(f"{what} is not UTF-8 text (byte {error.start})", path=path, record=record,
                              fix="save the file as UTF-8") from None


def size_text(size: int) -> str:
    return f"{size / MIB:.0f} MiB" if size >= MIB else f"{size} bytes"


def _too_large(file: Path, *, what: str, record: str | None, limit: int, size: int | None) -> FileFormatError:
    actual = f" ({size_text(size)})" if size is not None else ""
    return FileFormatError(f"{what} is larger than the {size_text(limit)} limit for this kind of file{actual}",
                           path=file, record=record, fix="check that this is the right file")
