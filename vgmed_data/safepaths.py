"""Paths that come from data files: resolved inside their root, and file names made from sample ids.

Anything a data file names (an image path in a JSONL line, a pointer's relative path, a sample id used as a
file name) is untrusted: ``../`` segments, absolute paths and symbolic links can point anywhere. Every such
path goes through :func:`resolve_inside`, which refuses one that leaves its root, and every id that becomes a
file name goes through :func:`filename_for_id`, which can never produce a separator or a reserved name.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from pathlib import Path

from vgmed_data.errors import InvalidInputError

# Characters that some file system refuses in a name (Windows is the strictest), plus the separators.
_UNSAFE_CHARACTERS = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
_STEM_RUN = re.compile(r"[^A-Za-z0-9._-]+")
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
MAX_STEM = 80  # readable part of a generated name; the hash keeps names distinct
MAX_ID_LENGTH = 512


class PathEscapeError(InvalidInputError):
    """A path read from a data file points outside the folder it must stay in."""


def resolve_inside(root: Path, relative: str, *, what: str, path: str | os.PathLike[str] | None = None,
                   record: str | None = None) -> Path:
    """``root / relative`` resolved (symbolic links followed); :class:`PathEscapeError` if it leaves ``root``.

    ``what`` names the value in the message (``"image path of line 3"``, ``"pointer of record x"``); ``path`` and
    ``record`` (the data file that holds the value, and its record) lead the message when given. Absolute
    paths, ``..`` segments that climb out and links that point out are all refused; the path need not exist.
    """
    text = os.fspath(relative) if isinstance(relative, (str, os.PathLike)) else relative
    if not isinstance(text, str) or not text or "\x00" in text:
        raise PathEscapeError(f"{what} {text!r} is not a usable relative path", path=path, record=record,
                              fix="use a non-empty path relative to the folder, without NUL characters")
    if os.path.isabs(text) or Path(text).anchor:
        raise PathEscapeError(f"{what} {text!r} is absolute; it must be relative to {root}", path=path,
                              record=record, fix=f"write the path relative to {root}")
    base = Path(root).resolve()
    resolved = (base / text).resolve()
    if resolved != base and not resolved.is_relative_to(base):
        raise PathEscapeError(f"{what} {text!r} leaves {root}", path=path, record=record,
                              fix=f"keep the path inside {root} (no '..' segments or links that point out)")
    return resolved


def unsafe_id_reason(sample_id: str) -> str | None:
    """Why ``sample_id`` cannot be stored and used for a file name, or ``None`` when it is fine.

    Slashes are allowed (ids such as ``source/patient/slice``); control characters, empty ids, ids that are
    only dots or spaces, ``..`` path segments and very long ids are not.
    """
    if not isinstance(sample_id, str) or not sample_id.strip():
        return "it is empty"
    if len(sample_id) > MAX_ID_LENGTH:
        return f"it is longer than {MAX_ID_LENGTH} characters"
    if re.search(r"[\x00-\x1f\x7f]", sample_id):
        return "it contains control characters"
    if any(part in ("..", ".") for part in re.split(r"[/\\]", sample_id)):
        return "it contains a '.' or '..' path segment"
    if sample_id.startswith(("/", "\\")):
        return "it starts with a path separator"
    return None


def filename_for_id(sample_id: str, *, suffix: str) -> str:
    """A file name for ``sample_id``: a readable sanitised stem, ``-``, 10 hex digits of its SHA-256, ``suffix``.

    Deterministic, never contains a separator, ``..`` or a reserved name, and distinct ids give distinct names
    (the hash covers the full id, so ``a/b`` and ``a_b`` differ). ``suffix`` includes its dot (``".png"``).
    """
    if not suffix.startswith(".") or _UNSAFE_CHARACTERS.search(suffix) or len(suffix) > 16:
        raise ValueError(f"suffix {suffix!r} must start with '.' and be a short file extension")
    digest = hashlib.sha256(sample_id.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    ascii_text = unicodedata.normalize("NFKD", sample_id).encode("ascii", "ignore").decode("ascii")
    stem = _STEM_RUN.sub("_", ascii_text).strip("._-")[:MAX_STEM].rstrip("._-")
    if not stem or stem.lower().split(".")[0] in _WINDOWS_RESERVED:
        stem = f"id_{stem}" if stem else "id"
    return f"{stem}-{digest}{suffix}"
