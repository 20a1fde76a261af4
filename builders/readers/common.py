"""Small helpers shared by the readers."""

from __future__ import annotations

import re
from pathlib import Path

from vgmed_data.errors import SourceNotFoundError


def require(root: Path, relative: str, *, source: str) -> Path:
    """``root / relative``, or :class:`SourceNotFoundError` naming what is missing and the fix."""
    path = root / relative
    if not path.exists():
        raise SourceNotFoundError(f"{relative} is missing from the {source} folder", path=root,
                                  fix=f"point --source {source}=PATH at the extracted folder "
                                      f"(run `vgmed sources verify {source} PATH` to see what is expected)")
    return path


def relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def visible(paths: list[Path]) -> list[Path]:
    """Drop macOS AppleDouble files (``._name``), which the MSD archives really contain, and hidden files."""
    return [p for p in paths if not p.name.startswith(".")]


def nifti_stem(name: str) -> str:
    return re.sub(r"\.nii(\.gz)?$", "", name)
