"""JSON Lines files: one JSON value per line, read with line numbers; a bad line is named in the error."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from vgmed_data.errors import FileFormatError, SourceNotFoundError
from vgmed_data.userfiles import INDEX_LIMIT, JSON_LINE_LIMIT, check_regular, read_bounded, size_text


def parse_json(data: bytes, *, path: Path, where: str = "", fix: str | None = None) -> Any:
    """One JSON value from ``data`` (a whole file, or one line with ``where="line N "``); every way it can fail
    (not UTF-8, not JSON, a number over 4300 digits, nesting deeper than Python's stack) is a
    :class:`FileFormatError` naming ``path`` and ``where``."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise FileFormatError(f"{where}is not UTF-8 text (byte {error.start})", path=path,
                              fix="save the file as UTF-8") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise FileFormatError(f"{where}is not JSON ({error.msg})", path=path, fix=fix) from error
    except (ValueError, RecursionError) as error:
        reason = "nested too deeply" if isinstance(error, RecursionError) else " ".join(str(error).split())[:120]
        raise FileFormatError(f"{where}cannot be read as JSON ({reason})", path=path, fix=fix) from None


def read_json_file(path: str | os.PathLike[str], *, what: str = "file", fix: str | None = None,
                   limit: int = INDEX_LIMIT) -> Any:
    """The one JSON value of a whole file: only a regular file of at most ``limit`` bytes is read
    (:func:`~vgmed_data.userfiles.read_bounded`: a pipe or a device is refused before opening), then
    :func:`parse_json`; every failure is one :class:`FileFormatError` naming the file."""
    return parse_json(read_bounded(path, limit=limit, what=what), path=Path(path), fix=fix)


def json_lines(path: Path, *, fix: str | None = None, torn_tail: bool = False,
               bad_line: Callable[[int, FileFormatError], None] | None = None) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` for each non-blank line; :class:`FileFormatError` (with ``fix``) on bad JSON.

    ``torn_tail``: the file is appended to by a process that may be killed mid-line, so a last line without
    its newline that is not JSON is a torn write and is dropped (a bad line anywhere else is still an error).
    ``bad_line``: called with the number and error of each line that cannot be read, instead of raising;
    reading goes on (``--on-bad warn|skip``)."""
    file = Path(path)
    if file.is_dir():
        raise FileFormatError("is a folder, not a JSON Lines file", path=file, fix="pass the .jsonl file")
    if not file.exists():
        raise SourceNotFoundError("file not found", path=file, fix="check the path")
    check_regular(file)  # a named pipe or a device is refused before it is opened
    with open(file, "rb") as handle:  # bytes: a line that is not UTF-8 is named like any other bad line
        for number, raw in enumerate(iter(lambda: handle.readline(JSON_LINE_LIMIT + 1), b""), start=1):
            if len(raw) > JSON_LINE_LIMIT:
                raise FileFormatError(f"line {number} is longer than the {size_text(JSON_LINE_LIMIT)} limit for one "
                                      "line", path=file, fix="check that this is a JSON Lines file")
            if not raw.decode("utf-8", "replace").strip():  # blank, as text (an undecodable line is not)
                continue
            try:
                value = parse_json(raw, path=file, where=f"line {number} ", fix=fix)
            except FileFormatError as failure:
                if torn_tail and not raw.endswith(b"\n") and isinstance(failure.__cause__, json.JSONDecodeError):
                    return
                if bad_line is None:
                    raise
                bad_line(number, failure)
                continue
            yield number, value


def write_json_lines(path: Path, values: Iterable[Any]) -> None:
    """One JSON value per line, keys sorted."""
    with open(path, "w", encoding="utf-8") as handle:
        for value in values:
            handle.write(json.dumps(value, sort_keys=True) + "\n")
