"""vgmed_data.userfiles: only regular files are opened, and whole-file reads stop at their limit."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from vgmed_data.errors import FileFormatError, SourceNotFoundError
from vgmed_data.userfiles import check_regular, read_bounded, read_text_bounded


def test_a_regular_file_under_the_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_bytes(b"x" * 100)
    assert read_bounded(path, limit=100) == b"x" * 100
    link = tmp_path / "link.json"
    link.symlink_to(path)  # links are followed: containment is the caller's rule (safepaths)
    assert read_bounded(link, limit=100) == b"x" * 100


@pytest.mark.parametrize("kind", ["pipe", "socket", "device", "folder"])
def test_what_is_not_a_regular_file_is_refused_before_opening(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "data.json"
    if kind == "pipe":
        os.mkfifo(path)  # opening it for reading would block until a writer comes: refused without opening
    elif kind == "socket":
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
    elif kind == "device":
        path.symlink_to("/dev/zero")  # endless: read() would fill the memory
    else:
        path.mkdir()
    expected = {"pipe": "a named pipe", "socket": "a socket", "device": "a character device", "folder": "a folder"}
    with pytest.raises(FileFormatError, match=f"index is {expected[kind]}, not a regular file") as raised:
        read_bounded(path, limit=1000, what="index")
    assert str(path) in str(raised.value) and "\n" not in str(raised.value)


def test_over_the_limit_by_its_size(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with open(path, "wb") as handle:
        handle.truncate(3 << 20)  # sparse: 3 MiB that take no disk
    with pytest.raises(FileFormatError, match=r"larger than the 2 MiB limit for this kind of file \(3 MiB\)"):
        read_bounded(path, limit=2 << 20, what="table")


def test_over_the_limit_while_reading_when_the_size_is_not_known() -> None:
    status = Path("/proc/self/status")  # the kernel reports size 0 for /proc files; the text is ~1 kB
    assert status.stat().st_size == 0 and len(status.read_bytes()) > 64
    with pytest.raises(FileFormatError, match="larger than the 64 bytes limit"):
        read_bounded(status, limit=64)
    assert b"Name:" in read_bounded(status, limit=1 << 20)


def test_missing_and_broken_links_and_undecodable_text(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFoundError, match="card not found"):
        check_regular(tmp_path / "none.md", what="card")
    broken = tmp_path / "broken.md"
    broken.symlink_to(tmp_path / "gone.md")
    with pytest.raises(SourceNotFoundError, match="a link to a missing file"):
        check_regular(broken, what="card")
    text = tmp_path / "latin1.md"
    text.write_bytes(b"caf\xe9")
    with pytest.raises(FileFormatError, match=r"card is not UTF-8 text \(byte 3\)"):
        read_text_bounded(text, limit=100, what="card")
