"""Outputs appear whole or not at all: written to a temporary sibling, moved into place only on success.

* :func:`staged_folder`: a new output folder is built as ``.vgmed-staging-<name>-<pid>-<random>`` beside it and
  renamed to its name at the end; on any failure the sibling is removed and nothing is left.
* :func:`new_folder_or_existing`: :func:`staged_folder` for a new folder, the folder itself when it exists (a
  builder adding a configuration to a dataset folder), so a new build appears with its report and manifest.
* :func:`staged_file`: the same for one file (``os.replace``, atomic on one file system).
* :func:`staging_dir`: a scratch folder inside an existing output folder (a dataset folder whose configuration
  is being replaced), named the same way.
* :func:`remove_stale`: a run that was killed (SIGKILL, power loss) cannot clean up; the next run removes the
  staging entries whose process is gone. Entries of a live process (a concurrent run) are left alone.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from vgmed_data.errors import InvalidInputError

PREFIX = ".vgmed-staging-"
_OURS = re.compile(re.escape(PREFIX) + r".*-(\d+)-[A-Za-z0-9_]{8}(?:\.[A-Za-z0-9]+)?$")
# Staging folders of earlier versions (``tempfile.mkdtemp(prefix=".<config>-")`` inside a dataset folder, and
# hydrate's ``.hydrate-``) carry no process id; they are removed once they are older than this.
_LEGACY = re.compile(r"^\.(?:vgmed|sequences|hydrate)-[A-Za-z0-9_]{8}$")
LEGACY_AGE_S = 3600


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (ours, or another user's)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def remove_stale(parent: str | os.PathLike[str]) -> list[Path]:
    """Remove staging entries left in ``parent`` by runs that were killed; return what was removed."""
    folder = Path(parent)
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    now = time.time()
    for entry in folder.iterdir():
        ours = _OURS.match(entry.name)
        if ours is not None:
            stale = not process_alive(int(ours.group(1)))
        elif _LEGACY.match(entry.name) and entry.is_dir():
            stale = now - entry.stat().st_mtime > LEGACY_AGE_S
        else:
            continue
        if stale:
            _remove(entry)
            removed.append(entry)
    return removed


def _prefix(target: Path) -> str:
    return f"{PREFIX}{target.name[:60]}-{os.getpid()}-"


def _writable_parent(target: Path, *, what: str) -> list[Path]:
    """Create ``target``'s missing parent folders; return the ones created (innermost first)."""
    parent = target.parent
    blocking = next((p for p in [parent, *parent.parents] if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise InvalidInputError(f"cannot write the {what}: {blocking} is a file, not a folder", path=target,
                                fix="choose an output path inside a folder")
    created = [p for p in [parent, *parent.parents] if not p.exists()]
    parent.mkdir(parents=True, exist_ok=True)
    remove_stale(parent)
    return created


def _remove_created(created: list[Path]) -> None:
    """Remove folders made for an output that failed (only while empty)."""
    for folder in created:
        try:
            folder.rmdir()
        except OSError:
            return


def staging_dir(folder: str | os.PathLike[str]) -> Path:
    """A new scratch folder inside ``folder`` (an existing output folder); stale ones are removed first. The
    caller removes it (``shutil.rmtree``) when done."""
    root = Path(folder)
    remove_stale(root)
    return Path(tempfile.mkdtemp(prefix=_prefix(root), dir=root))


@contextlib.contextmanager
def staged_folder(target: str | os.PathLike[str], *, what: str = "output folder") -> Iterator[Path]:
    """Yield an empty sibling folder to build ``target`` in; on success it becomes ``target``.

    ``target`` must not exist (callers that update an existing folder use :func:`staging_dir`)."""
    final = Path(target)
    if final.exists() or final.is_symlink():
        raise InvalidInputError(f"the {what} already exists", path=final, fix="choose a new path or remove it")
    created = _writable_parent(final, what=what)
    staging = Path(tempfile.mkdtemp(prefix=_prefix(final), dir=final.parent))
    try:
        yield staging
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        _remove_created(created)
        raise


@contextlib.contextmanager
def new_folder_or_existing(target: str | os.PathLike[str], *, what: str = "output folder") -> Iterator[Path]:
    """A new ``target`` is built in a staged sibling (everything written inside the block appears together, or
    nothing does); an existing folder is yielded as it is (the caller stages what it replaces there)."""
    final = Path(target)
    if final.is_dir():
        yield final
        return
    with staged_folder(final, what=what) as building:
        yield building


@contextlib.contextmanager
def staged_file(target: str | os.PathLike[str], *, what: str = "output file") -> Iterator[Path]:
    """Yield a sibling path to write ``target``'s content to; on success it replaces ``target``."""
    final = Path(target)
    if final.is_dir():
        raise InvalidInputError(f"the {what} is a folder", path=final, fix="give a file path")
    created = _writable_parent(final, what=what)
    handle, name = tempfile.mkstemp(prefix=_prefix(final), suffix=final.suffix[:12], dir=final.parent)
    os.close(handle)
    staging = Path(name)
    try:
        yield staging
        os.replace(staging, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            staging.unlink()
        _remove_created(created)
        raise
