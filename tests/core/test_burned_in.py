"""Burned-in annotation: header risks, and the pixel check on a synthetic slice with text drawn by PIL's default
font versus the same slice without it."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from pydicom.dataset import Dataset

from vgmed_data.imaging.burned_in import header_risks, pixel_risks, text_lines


def body_slice(size: int = 256, seed: int = 0) -> np.ndarray:
    """A displayed CT-like slice: dark air, a bright noisy elliptic body, a bone disc and bright specks inside."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:size, :size]
    image = np.full((size, size), 20.0)
    body = ((rows - size / 2) / (0.36 * size)) ** 2 + ((cols - size / 2) / (0.42 * size)) ** 2 <= 1
    image[body] = 170 + rng.normal(0, 25, int(body.sum()))
    image[(rows - 0.6 * size) ** 2 + (cols - size / 2) ** 2 <= (0.05 * size) ** 2] = 255
    for row, col in rng.integers(int(0.3 * size), int(0.7 * size), size=(40, 2)):
        image[row:row + 2, col:col + 2] = 255
    return np.clip(image, 0, 255).astype(np.uint8)


def with_text(image: np.ndarray, text: str, *, at: tuple[int, int]) -> np.ndarray:
    drawn = Image.fromarray(image)
    ImageDraw.Draw(drawn).text(at, text, fill=255, font=ImageFont.load_default())
    return np.asarray(drawn)


def test_text_in_the_border_is_found_and_the_clean_slice_is_not_flagged() -> None:
    clean = body_slice()
    assert text_lines(clean) == [] and pixel_risks(clean) == []
    marked = with_text(clean, "DOE JOHN 1967", at=(4, 4))
    lines = text_lines(marked)
    # 11 glyphs in one line: each is a small component, except where antialiased neighbours touch
    assert len(lines) == 1 and 8 <= lines[0] <= 11
    assert pixel_risks(marked) == [f"text-like marks in the image border ({lines[0]} side by side)"]
    bottom = with_text(clean, "MRN 4821317", at=(150, 240))
    assert text_lines(bottom) and pixel_risks(np.stack([bottom] * 3, axis=2))  # RGB too


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_other_clean_slices_are_not_flagged(seed: int) -> None:
    assert pixel_risks(body_slice(size=192 + 32 * seed, seed=seed)) == []


def _header(**values: object) -> Dataset:
    ds = Dataset()
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return ds


def test_header_risks_name_image_type_sop_class_and_modality() -> None:
    assert header_risks(_header(Modality="CT", ImageType=["ORIGINAL", "PRIMARY", "AXIAL"],
                                SOPClassUID="1.2.840.10008.5.1.4.1.1.2")) == []
    assert header_risks(_header(Modality="CT", ImageType=["DERIVED", "SECONDARY", "SCREEN SAVE"])) == [
        "ImageType SCREEN SAVE"]
    assert header_risks(_header(Modality="OT", SOPClassUID="1.2.840.10008.5.1.4.1.1.7")) == [
        "Secondary Capture image", "modality OT usually carries burned-in text"]
    assert header_risks(_header(Modality="US")) == ["modality US usually carries burned-in text"]
