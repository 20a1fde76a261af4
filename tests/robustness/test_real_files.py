"""Real-file sweep: ``vgmed render`` over every test file pydicom and nibabel ship.

Each file gives an image or a one-line error naming it, never a traceback or an internal error. When a decoder
plugin for the file's transfer syntax is installed and decoding still fails, the message says the file could
not be decoded; "pip install" advice appears only when no installed plugin handles the syntax. Runs in-process
through :func:`vgmed_data.cli.main` (the console script's entry point) to stay fast: about 280 files.
"""

from __future__ import annotations

import os
from pathlib import Path

import nibabel
import pydicom
import pydicom.data
import pytest
from PIL import Image

from vgmed_data.cli import main

NIBABEL_DATA = Path(nibabel.__file__).parent / "tests" / "data"
FILES = sorted({*pydicom.data.get_testdata_files(), *(str(p) for p in NIBABEL_DATA.iterdir() if p.is_file())})


def _decoder_installed(path: str) -> bool:
    from pydicom.pixels.decoders.base import get_decoder

    try:
        syntax = pydicom.dcmread(path, stop_before_pixels=True, force=True).file_meta.TransferSyntaxUID
        return bool(get_decoder(syntax).available_plugins)
    except Exception:  # noqa: BLE001 - not DICOM, no file meta, unknown syntax: no installed decoder to blame
        return False


def test_the_sweep_covers_both_packages() -> None:
    assert sum("pydicom" in f for f in FILES) > 150 and sum("nibabel" in f for f in FILES) > 50


@pytest.mark.parametrize("path", FILES, ids=[f"{Path(f).parent.name}/{Path(f).name}" for f in FILES])
def test_render_gives_an_image_or_one_line(path: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.png"
    code = main(["render", path, "--out", str(out)])
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert "Traceback" not in captured.err + captured.out
    errors = [line for line in lines if not line.startswith("vgmed: warning: ")]
    if code == 0:
        assert errors == [], captured.err
        with Image.open(out) as image:
            assert image.width > 0 and image.height > 0
        return
    assert code == 2, captured.err
    assert not out.exists() and os.listdir(tmp_path) == []
    assert len(errors) == 1 and errors[0].startswith("vgmed: error: "), captured.err
    assert Path(path).name in errors[0]
    if _decoder_installed(path):
        assert "pip install" not in errors[0], errors[0]


@pytest.mark.parametrize(("name", "size"), [("CT_small.dcm", (128, 128)), ("MR_small.dcm", (64, 64))])
def test_known_dicom_sizes(name: str, size: tuple[int, int], tmp_path: Path) -> None:
    assert main(["render", pydicom.data.get_testdata_file(name), "--out", str(tmp_path / "x.png")]) == 0
    with Image.open(tmp_path / "x.png") as image:
        assert image.size == size  # Rows x Columns from the files' headers (pydicom's own tests use these)


@pytest.mark.parametrize("name", ["meta_missing_tsyntax.dcm", "nested_priv_SQ.dcm", "JPEG-lossy.dcm"])
def test_named_files_from_the_issue(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's examples: a header without a transfer syntax, a file without BitsAllocated, and a JPEG that
    the installed plugins fail on (the message blames the file, not the installation)."""
    assert main(["render", pydicom.data.get_testdata_file(name), "--out", str(tmp_path / "x.png")]) == 2
    error = [line for line in capsys.readouterr().err.splitlines() if line.startswith("vgmed: error: ")]
    assert len(error) == 1 and name in error[0] and "pip install" not in error[0]
