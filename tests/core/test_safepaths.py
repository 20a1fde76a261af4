"""resolve_inside and filename_for_id: paths from data files stay inside their root; ids become safe names."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from vgmed_data.safepaths import PathEscapeError, filename_for_id, resolve_inside, unsafe_id_reason


def test_resolve_inside_accepts_nested_and_normalised_paths(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    assert resolve_inside(tmp_path, "a/b.png", what="image") == tmp_path.resolve() / "a" / "b.png"
    assert resolve_inside(tmp_path, "a/../c.png", what="image") == tmp_path.resolve() / "c.png"


@pytest.mark.parametrize("relative", ["../x.png", "a/../../x.png", "/etc/passwd", "", "a\x00b", 5, None])
def test_resolve_inside_refuses_escapes_and_non_paths(tmp_path: Path, relative: object) -> None:
    with pytest.raises(PathEscapeError) as caught:
        resolve_inside(tmp_path, relative, what="image path of line 3")  # type: ignore[arg-type]
    assert "image path of line 3" in str(caught.value) and "Fix:" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_resolve_inside_refuses_a_link_that_points_out(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(tmp_path, root / "up")
    with pytest.raises(PathEscapeError):
        resolve_inside(root, "up/secret.txt", what="pointer")


def test_filename_for_id_is_safe_deterministic_and_distinct() -> None:
    ids = ["../../x", "a/b", "a_b", "a:b", "CON", "", "..", "é/ü", "x" * 1000, "normal-id_01"]
    names = [filename_for_id(i, suffix=".png") for i in ids]
    assert len(set(names)) == len(ids)
    for sample_id, name in zip(ids, names):
        assert name == filename_for_id(sample_id, suffix=".png")
        assert "/" not in name and "\\" not in name and ":" not in name and name not in (".", "..")
        assert not name.startswith(".") and name.endswith(".png") and len(name) < 120
        # golden: the hash part is the first 10 hex digits of the id's SHA-256, computed here independently
        assert name[:-4].endswith(hashlib.sha256(sample_id.encode()).hexdigest()[:10])
    assert filename_for_id("normal-id_01", suffix=".png").startswith("normal-id_01-")
    assert filename_for_id("CON", suffix=".png").startswith("id_CON-")


def test_unsafe_id_reason() -> None:
    assert unsafe_id_reason("src/patient/1") is None
    for bad in ["../../x", "a/./b", "", "  ", "a\nb", "/abs", "x" * 600]:
        assert unsafe_id_reason(bad), bad
