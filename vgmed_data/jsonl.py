"""JSON Lines files: one JSON value per line, read with line numbers; a bad line is named in the error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vgmed_data.errors import FileFormatError


def json_lines(path: Path, *, fix: str | None = None) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` for each non-blank line; :class:`FileFormatError` (with ``fix``) on bad JSON."""
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as error:
                raise FileFormatError(f"line {number} is not JSON ({error.msg})", path=path, fix=fix) from error
            yield number, value
