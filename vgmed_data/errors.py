"""One exception hierarchy for the whole toolkit.

Every error carries where it happened (a file and/or a record id) and the fix. Each class also inherits the
builtin a caller would naturally catch (``ValueError``, ``FileNotFoundError``, ``ImportError``...), so code that
does not know our hierarchy still behaves. The CLI prints ``str(error)`` as one line and exits non-zero.
"""

from __future__ import annotations

from os import PathLike
from types import ModuleType
from enum import StrEnum
from typing import ClassVar


class SkipReason(StrEnum):
    """The categories a builder counts skipped records under (the build report's ``skip_counts``)."""

    MISSING_FILE = "missing file"
    CORRUPT_FILE = "corrupt file"
    MISSING_SLICE = "missing slice"
    INCONSISTENT_GEOMETRY = "inconsistent geometry"
    IDENTIFYING_DATA = "identifying data"
    UNSUPPORTED_SEGMENTATION = "unsupported segmentation"
    SHAPE_MISMATCH = "shape mismatch"
    LABEL_NOT_IN_MAP = "label not in map"
    EMPTY_MASK = "empty mask"


class VgmedError(Exception):
    """Base class. ``str()`` gives one line: ``<where>: <what>. Fix: <fix>``.

    ``reason``: the short category a skip of this error is counted under (a :class:`SkipReason` or another short
    phrase), given where the error is raised; callers read it from here, never from the message text. Default:
    the class's ``default_reason``, else the class name."""

    default_reason: ClassVar[str | None] = None

    def __init__(
        self,
        message: str,
        *,
        path: str | PathLike[str] | None = None,
        record: str | None = None,
        fix: str | None = None,
        reason: str | None = None,
    ) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        self.record = record
        self.fix = fix
        self.reason = str(reason or self.default_reason or type(self).__name__)
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = " ".join(part for part in (self.path, f"[record {self.record}]" if self.record else None) if part)
        text = f"{where}: {self.message}" if where else self.message
        if self.fix:
            text = f"{text.rstrip('.')}. Fix: {self.fix}"
        return text


class InvalidInputError(VgmedError, ValueError):
    """A value given by the user or read from a file is not acceptable."""


class GeometryError(InvalidInputError):
    """A box, polygon, mask or transform is invalid (outside the image, inverted, empty...)."""


class SchemaError(InvalidInputError):
    """A sample or a dataset folder does not match the declared schema."""


class FileFormatError(InvalidInputError):
    """A file is not what its name says (truncated DICOM, HTML saved as .nii.gz, 16-bit RGB PNG...)."""

    default_reason = "corrupt file"  # SkipReason.CORRUPT_FILE


class SourceNotFoundError(VgmedError, FileNotFoundError):
    """A file or folder that should exist does not."""

    default_reason = "missing file"  # SkipReason.MISSING_FILE


class MissingDependencyError(VgmedError, ImportError):
    """An optional package is needed for this operation; the fix names the pip command."""


class RemoteError(VgmedError, ConnectionError):
    """A server (Label Studio, the Hub) refused or could not be reached; the message names the URL."""


class PublishRefusedError(VgmedError, PermissionError):
    """Publishing was refused by a guard (licence, PHI) or by the server (token)."""


def require(module: str, *, extra: str, purpose: str) -> ModuleType:
    """Import an optional module or raise :class:`MissingDependencyError` with the install hint."""
    import importlib

    from vgmed_data.extras import install_command

    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingDependencyError(
            f"{purpose} needs the '{module}' package ({error})",
            fix=install_command(extra),
        ) from error


def require_extra(extra: str) -> None:
    """Raise :class:`MissingDependencyError` before any work starts when a package of ``extra`` is not installed
    (checked without importing it), naming the packages and the install line."""
    from vgmed_data.extras import install_command, missing_packages

    missing = missing_packages(extra)
    if missing:
        raise MissingDependencyError(f"the [{extra}] extra is not installed (missing: {', '.join(missing)})",
                                     fix=install_command(extra))
