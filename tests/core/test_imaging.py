"""Medical image IO on the real files that pydicom and nibabel ship."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from vgmed_data.errors import FileFormatError
from vgmed_data.imaging import render_file
from vgmed_data.imaging.deid import PHI_KEYWORDS, deidentify, phi_findings, pseudonym
from vgmed_data.imaging.dicom import read_dicom
from vgmed_data.imaging.nifti import read_label_volume, read_nifti
from vgmed_data.imaging.raster import read_raster
from vgmed_data.imaging.windowing import percentiles

DICOM_DIR = Path(pydicom.__file__).parent / "data" / "test_files"
NIFTI_DIR = Path(nib.__file__).parent / "tests" / "data"


def independent_hu(path: Path) -> np.ndarray:
    """Stored values straight from the PixelData bytes, then slope/intercept, without pydicom's pixel code."""
    ds = pydicom.dcmread(path)
    dtype = np.dtype(f"{'<' if ds.is_little_endian else '>'}{'i' if ds.PixelRepresentation else 'u'}"
                     f"{ds.BitsAllocated // 8}")
    raw = np.frombuffer(ds.PixelData, dtype=dtype).reshape(ds.Rows, ds.Columns).astype(np.float64)
    return raw * float(ds.get("RescaleSlope", 1)) + float(ds.get("RescaleIntercept", 0))


def independent_window(values: np.ndarray, center: float, width: float) -> np.ndarray:
    out = np.empty_like(values)
    for index, x in np.ndenumerate(values):
        if x <= center - 0.5 - (width - 1) / 2:
            out[index] = 0
        elif x > center - 0.5 + (width - 1) / 2:
            out[index] = 255
        else:
            out[index] = ((x - (center - 0.5)) / (width - 1) + 0.5) * 255
    return np.rint(out).astype(np.uint8)


def test_ct_small_in_hounsfield_units_and_windowed() -> None:
    path = DICOM_DIR / "CT_small.dcm"
    image = read_dicom(path)
    expected = independent_hu(path)
    np.testing.assert_array_equal(image.values[0], expected)
    assert image.values[0].min() < -800 and image.values[0].max() > 1000  # air and bone in HU
    for window, (center, width) in {"lung": (-600, 1500), "bone": (400, 1800), "-100,700": (-100, 700)}.items():
        rendered = np.asarray(image.render(window=window))
        np.testing.assert_array_equal(rendered, independent_window(expected, center, width))
    ds = pydicom.dcmread(path)
    assert image.pixel_spacing_mm == (float(ds.PixelSpacing[1]), float(ds.PixelSpacing[0]))


def test_mr_small_uses_its_own_window() -> None:
    path = DICOM_DIR / "MR_small.dcm"
    ds = pydicom.dcmread(path)
    rendered = np.asarray(read_dicom(path).render())
    expected = independent_window(independent_hu(path), float(ds.WindowCenter), float(ds.WindowWidth))
    np.testing.assert_array_equal(rendered, expected)


def test_monochrome1_is_inverted(tmp_path: Path) -> None:
    ds = pydicom.dcmread(DICOM_DIR / "CT_small.dcm")
    ds.PhotometricInterpretation = "MONOCHROME1"
    path = tmp_path / "mono1.dcm"
    ds.save_as(path)
    normal = np.asarray(read_dicom(DICOM_DIR / "CT_small.dcm").render(window="soft_tissue")).astype(int)
    inverted = np.asarray(read_dicom(path).render(window="soft_tissue")).astype(int)
    np.testing.assert_array_equal(inverted, 255 - normal)


def test_voi_lut_sequence_is_applied(tmp_path: Path) -> None:
    ds = pydicom.dcmread(DICOM_DIR / "MR_small.dcm")
    for keyword in ("WindowCenter", "WindowWidth"):
        delattr(ds, keyword)
    item = pydicom.Dataset()
    first = 0
    lut = np.clip(np.arange(4096) // 4, 0, 1023).astype(np.uint16)  # 10-bit output: stored // 4
    item.LUTDescriptor = [4096, first, 10]
    item.LUTData = lut.astype("<u2").tobytes()
    ds.VOILUTSequence = pydicom.Sequence([item])
    path = tmp_path / "voi.dcm"
    ds.save_as(path)
    stored = independent_hu(DICOM_DIR / "MR_small.dcm").astype(int)
    expected = np.rint(lut[np.clip(stored, 0, 4095)] / 1023 * 255).astype(np.uint8)
    np.testing.assert_array_equal(np.asarray(read_dicom(path).render()), expected)


def test_multiframe_file_has_all_frames() -> None:
    image = read_dicom(DICOM_DIR / "rtdose.dcm")
    assert image.frames == 15 and image.values.shape == (15, 10, 10)
    first, last = np.asarray(image.render(frame=0)), np.asarray(image.render(frame=14))
    assert first.shape == last.shape == (10, 10) and not np.array_equal(first, last)
    with pytest.raises(FileFormatError, match="frame 15"):
        image.render(frame=15)


@pytest.mark.parametrize("name", ["MR_small_RLE.dcm", "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm"])
def test_lossless_compressed_syntaxes_decode_to_the_uncompressed_pixels(name: str) -> None:
    np.testing.assert_array_equal(read_dicom(DICOM_DIR / name).values, read_dicom(DICOM_DIR / "MR_small.dcm").values)


def test_truncated_dicom_and_dicom_without_pixels_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match="truncated"):
        read_dicom(DICOM_DIR / "MR_truncated.dcm")
    cut = tmp_path / "cut.dcm"
    cut.write_bytes((DICOM_DIR / "CT_small.dcm").read_bytes()[:700])
    with pytest.raises(FileFormatError, match=r"cut\.dcm.*(truncated|no pixel data)"):
        read_dicom(cut)
    with pytest.raises(FileFormatError, match="no pixel data"):
        read_dicom(DICOM_DIR / "rtstruct.dcm")


def test_deidentified_output_has_no_phi_of_the_input() -> None:
    original = pydicom.dcmread(DICOM_DIR / "CT_small.dcm")
    present = [k for k in PHI_KEYWORDS if k in original and str(original.get(k) or "").strip()]
    assert {"PatientName", "PatientID", "StudyDate", "InstitutionName"} <= set(present)
    assert phi_findings(original)
    clean = deidentify(original, key="secret")
    assert phi_findings(clean) == []
    text_values = {str(element.value) for element in clean.iterall() if element.VR not in ("OB", "OW", "SQ")}
    for keyword in present:
        assert str(original.get(keyword)) not in text_values, keyword
    assert clean.PatientID == pseudonym(str(original.PatientID), key="secret") != original.PatientID
    assert clean.StudyInstanceUID != original.StudyInstanceUID and clean.StudyInstanceUID.startswith("2.25.")
    assert deidentify(original, key="secret").StudyInstanceUID == clean.StudyInstanceUID  # consistent
    assert clean.SOPClassUID == original.SOPClassUID  # well-known UIDs kept
    assert clean.StudyDate != original.StudyDate and len(clean.StudyDate) == 8
    assert clean.PatientIdentityRemoved == "YES"
    assert not any(element.tag.is_private for element in clean)
    np.testing.assert_array_equal(clean.pixel_array, original.pixel_array)


def test_reoriented_nifti_renders_the_same_slices(tmp_path: Path) -> None:
    source = nib.load(NIFTI_DIR / "anatomical.nii")
    data = np.asarray(source.dataobj)
    # Flip the first two axes and swap them, adjusting the affine so world coordinates are unchanged.
    flipped = data[::-1, ::-1, :].transpose(1, 0, 2)
    ni, nj = data.shape[:2]
    index_map = np.array([[0, -1, 0, ni - 1], [-1, 0, 0, nj - 1], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=float)
    moved = nib.Nifti1Image(flipped, source.affine @ index_map)
    path = tmp_path / "moved.nii.gz"
    nib.save(moved, path)
    canonical, reoriented = read_nifti(NIFTI_DIR / "anatomical.nii"), read_nifti(path)
    assert canonical.original_orientation != reoriented.original_orientation
    for plane in ("axial", "coronal", "sagittal"):
        index = canonical.num_slices(plane) // 2
        np.testing.assert_array_equal(canonical.slice(index, plane=plane), reoriented.slice(index, plane=plane))
        a = render_file(NIFTI_DIR / "anatomical.nii", plane=plane, slice_index=index)
        b = render_file(path, plane=plane, slice_index=index)
        np.testing.assert_array_equal(np.asarray(a.image), np.asarray(b.image))


def test_radiological_display_convention(tmp_path: Path) -> None:
    data = np.zeros((4, 5, 6), dtype=np.int16)
    data[3, 0, 2] = 1  # patient's far right? no: RAS+ axis 0 increases to the Right -> index 3 = rightmost
    path = tmp_path / "ras.nii.gz"
    nib.save(nib.Nifti1Image(data, np.eye(4)), path)
    axial = read_nifti(path).slice(2, plane="axial")
    row, col = np.argwhere(axial)[0]
    assert col == 0  # patient's right is shown on the image's left
    assert row == axial.shape[0] - 1  # most posterior voxel (j=0) at the bottom


def test_nifti_bad_inputs(tmp_path: Path) -> None:
    html = tmp_path / "scan.nii.gz"
    html.write_bytes(b"<!DOCTYPE html><html><body>Sign in to download</body></html>")
    with pytest.raises(FileFormatError, match=r"scan\.nii\.gz.*HTML"):
        read_nifti(html)
    image = read_nifti(NIFTI_DIR / "anatomical.nii")
    labels = tmp_path / "labels.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((10, 10, 10), np.uint8), np.eye(4)), labels)
    with pytest.raises(FileFormatError, match="label volume shape"):
        read_label_volume(labels, image=image)


def _png_16bit_rgb(path: Path) -> None:
    width, height = 3, 2
    rows = b"".join(b"\x00" + b"\x12\x34" * 3 * width for _ in range(height))
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows))
                     + chunk(b"IEND", b""))


def test_rasters_8_and_16_bit(tmp_path: Path) -> None:
    gray16 = (np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000)
    Image.fromarray(gray16).save(tmp_path / "g16.png")
    np.testing.assert_array_equal(read_raster(tmp_path / "g16.png"), gray16)
    rgb = np.random.default_rng(0).integers(0, 255, (5, 6, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    Image.fromarray(rgb).save(tmp_path / "rgb.tif")
    np.testing.assert_array_equal(read_raster(tmp_path / "rgb.png"), rgb)
    np.testing.assert_array_equal(read_raster(tmp_path / "rgb.tif"), rgb)
    rendered = render_file(tmp_path / "g16.png")
    assert rendered.image.mode == "L" and np.asarray(rendered.image).max() == 255
    _png_16bit_rgb(tmp_path / "rgb16.png")
    with pytest.raises(FileFormatError, match=r"rgb16\.png.*16-bit RGB"):
        read_raster(tmp_path / "rgb16.png")


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31), size=st.integers(1, 3000), low=st.integers(-3000, 0), span=st.integers(0, 5000),
       q=st.floats(0, 100))
def test_histogram_percentiles_equal_numpy(seed: int, size: int, low: int, span: int, q: float) -> None:
    values = np.random.default_rng(seed).integers(low, low + span + 1, size).astype(np.int16)
    expected = np.percentile(values.astype(np.float64), [q, 0.5, 99.5])
    np.testing.assert_allclose(percentiles(values, (q, 0.5, 99.5)), expected, rtol=0, atol=1e-9)
