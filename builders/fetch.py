"""``vgmed sources fetch`` and ``verify``: downloads with resume and checksums, layout checks naming what is
missing."""

from __future__ import annotations

import hashlib
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from vgmed_data.errors import InvalidInputError, RemoteError
from vgmed_data.progress import progress

from vgmed_data.builders.entry import Download, SourceEntry


def file_checksum(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_download(download: Download, path: Path) -> bool | None:
    """True/False when a checksum is published, None when none is."""
    if download.checksum is None:
        return None
    algorithm, _, expected = download.checksum.partition(":")
    return file_checksum(path, algorithm) == expected.lower()


def fetch(entry: SourceEntry, dest: Path, *, out: TextIO | None = None, quiet: bool = False) -> list[Path]:
    """Download every direct file of ``entry`` into ``dest`` (resuming partial files with HTTP Range), check the
    checksums; entries without direct downloads print their written steps and fetch nothing."""
    out = out or sys.stdout
    if not entry.downloads:
        print(f"{entry.key} cannot be downloaded automatically. Steps:\n  {entry.instructions}", file=out)
        return []
    dest.mkdir(parents=True, exist_ok=True)
    done = []
    for download in entry.downloads:
        target = dest / download.filename
        partial = target.with_name(target.name + ".part")
        if not target.exists():
            offset = partial.stat().st_size if partial.exists() else 0
            request = urllib.request.Request(download.url, headers={"Range": f"bytes={offset}-"} if offset else {})
            print(f"downloading {download.url}" + (f" (resuming at {offset} bytes)" if offset else ""), file=out)
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    mode = "ab" if offset and response.status == 206 else "wb"
                    length = response.headers.get("Content-Length")
                    total = int(length) + (offset if mode == "ab" else 0) if length and length.isdigit() else None
                    with open(partial, mode) as handle, progress(
                            desc=download.filename, unit="B", unit_scale=True, total=total, quiet=quiet) as bar:
                        bar.update(offset if mode == "ab" else 0)
                        for block in iter(lambda: response.read(1 << 20), b""):
                            handle.write(block)
                            bar.update(len(block))
            except OSError as error:
                kept = ("the partial file is kept for resuming" if partial.exists() and partial.stat().st_size
                        else "nothing was written")
                raise RemoteError(f"download failed ({error}); {kept}",
                                  path=download.url, fix=f"run the command again, or follow: {entry.instructions}") from error
            partial.rename(target)
        verdict = check_download(download, target)
        if verdict is False:
            raise InvalidInputError(f"checksum mismatch for {download.filename} (expected {download.checksum})",
                                    path=target, fix="delete the file and fetch again")
        print(f"{target}: " + ("checksum ok" if verdict else "no published checksum"), file=out)
        done.append(target)
    print(f"next: {entry.instructions}", file=out)
    return done


@dataclass
class VerifyResult:
    missing: list[str] = field(default_factory=list)
    checksums: dict[str, str] = field(default_factory=dict)  # archive path -> ok | MISMATCH | no published checksum
    layout_checked: bool = True  # False when given the archive itself

    @property
    def ok(self) -> bool:
        return not self.missing and "MISMATCH" not in self.checksums.values()


def verify(entry: SourceEntry, root: Path) -> VerifyResult:
    """Check the layout of the extracted folder ``root`` (every required path or glob matches something) and the
    checksum of each of the entry's archives found in ``root`` or beside it (``fetch --dest DIR`` leaves the archive
    in DIR and its extracted folder inside DIR). ``root`` may also be an archive itself: then only its checksum is
    checked. ``checksums`` is keyed by the path checked, so the user sees which file it was."""
    result = VerifyResult()
    archives = {download.filename: download for download in entry.downloads}
    if root.is_file() and root.name in archives:
        result.checksums[str(root)] = _verdict(archives[root.name], root)
        result.layout_checked = False
        return result
    if not root.is_dir():
        result.missing.append(str(root))
        return result
    for pattern in entry.reader.required_paths(entry):
        if not any(True for _ in root.glob(pattern)) and not (root / pattern).exists():
            result.missing.append(pattern)
    for download in entry.downloads:
        for folder in (root, root.parent):
            path = folder / download.filename
            if path.is_file():
                result.checksums[str(path)] = _verdict(download, path)
                break
    return result


def _verdict(download: Download, path: Path) -> str:
    verdict = check_download(download, path)
    return "no published checksum" if verdict is None else "ok" if verdict else "MISMATCH"
