"""``vgmed hydrate`` on sequence images that were transformed from their source slice (crop, physical-aspect
resize, pad to square, resize, shift), built with the sequence builders' own frame functions."""

from __future__ import annotations

import io

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vgmed_data.builders.sequences.non_registered_difference import shifted
from vgmed_data.builders.sequences.render import make_frame
from tests.hub.tiny import make_folder
from vgmed_data.errors import InvalidInputError
from vgmed_data.folder import iter_rows
from vgmed_data.geometry import Transform
from vgmed_data.pointers import hydrate, pixel_sha256, strip_images
from vgmed_data.schema import Provenance, SequenceImage, SequenceSample, encode_png, make_sample_id

SLICE = (40, 24)  # width, height of the source slices


def slice_pixels(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, size=(SLICE[1], SLICE[0]), dtype=np.uint8)


def transformed_sample(index: int) -> SequenceSample:
    crop = Transform.identity(SLICE).crop((4, 2, 36, 20))
    first = make_frame(slice_pixels(2 * index), spacing=(1.0, 2.0), size=32, source="seqsrc",
                       source_id=f"s{index}-0", base=crop, image_origin="raster")
    second = shifted(make_frame(slice_pixels(2 * index + 1), spacing=(1.0, 1.0), size=32, source="seqsrc",
                                source_id=f"s{index}-1", image_origin="raster"), 3, -2)
    images = [SequenceImage(image=frame.image(), source="seqsrc", source_id=frame.source_id,
                            transform=frame.transform.to_json(), image_origin="raster") for frame in (first, second)]
    return SequenceSample(
        id=make_sample_id("seqsrc", f"s{index}", "non_registered_difference"), images=images,
        task="non_registered_difference", question="Where did the region change?", answer="image 2",
        target="lesion", answer_image_index=1, answer_box=[1.0, 1.0, 9.0, 9.0],
        provenance=Provenance(modality="CT", body_part="abdomen", source="seqsrc", source_id=f"s{index}",
                              license="LicenseRef-closed", redistributable=False, patient_id=f"p{index}",
                              split="test", metadata={"source_paths": [f"s{index}/{k}.png" for k in range(2)]}))


def write_slices(root: Path, count: int) -> Path:
    for index in range(count):
        for k in range(2):
            (root / f"s{index}").mkdir(parents=True, exist_ok=True)
            Image.fromarray(slice_pixels(2 * index + k), mode="L").save(root / f"s{index}" / f"{k}.png")
    return root


def test_hydrate_reapplies_stored_transforms(tmp_path: Path) -> None:
    samples = [transformed_sample(i) for i in range(2)]
    for sample in samples:  # every image really is a transformed slice, not a copy
        for item in sample.images:
            transform = Transform.from_json(item.transform)
            assert transform.src_size == SLICE and len(transform.steps) >= 3
    folder = make_folder(tmp_path / "built", sequences=samples)
    stripped = strip_images(folder, tmp_path / "stripped")
    assert all(cell is None for row in iter_rows(stripped, config="sequences") for cell in row["images"])

    report = hydrate(stripped, sources={"seqsrc": write_slices(tmp_path / "copy", 2)})
    assert report.restored == {"seqsrc": 4}
    built = {row["id"]: row for row in iter_rows(folder, config="sequences")}
    for row in iter_rows(stripped, config="sequences"):
        original = [pixel_sha256(cell["bytes"]) for cell in built[row["id"]]["images"]]
        assert [pixel_sha256(cell["bytes"]) for cell in row["images"]] == original
        assert all(Image.open(io.BytesIO(cell["bytes"])).mode == "RGB" for cell in row["images"])
    # and what went in is what the builder functions drew: the first image by hand, independently
    expected = Image.fromarray(slice_pixels(0), mode="L").crop((4, 2, 36, 20))
    expected = expected.resize((32, 36), Image.Resampling.BICUBIC)  # 1 x 2 mm pixels: height doubled
    canvas = Image.new("L", (36, 36), 0)
    canvas.paste(expected, (2, 0))
    expected = canvas.resize((32, 32), Image.Resampling.BICUBIC).convert("RGB")
    first = next(r for r in iter_rows(stripped, config="sequences") if r["id"] == samples[0].id)["images"][0]
    assert pixel_sha256(first["bytes"]) == pixel_sha256(encode_png(expected))


def test_hydrate_refuses_a_transformed_image_whose_source_changed(tmp_path: Path) -> None:
    stripped = strip_images(make_folder(tmp_path / "built", sequences=[transformed_sample(0)]), tmp_path / "stripped")
    copy = write_slices(tmp_path / "copy", 1)
    pixels = np.asarray(Image.open(copy / "s0" / "1.png")).copy()
    pixels[10, 20] ^= 0xFF
    Image.fromarray(pixels, mode="L").save(copy / "s0" / "1.png")
    before = sorted(p.read_bytes() for p in stripped.glob("data/*/*.parquet"))
    with pytest.raises(InvalidInputError, match="s0/1.png and transformed differs from the published fingerprint"):
        hydrate(stripped, sources={"seqsrc": copy})
    assert sorted(p.read_bytes() for p in stripped.glob("data/*/*.parquet")) == before  # folder untouched

    Image.fromarray(slice_pixels(1)[:, :30], mode="L").save(copy / "s0" / "1.png")
    with pytest.raises(InvalidInputError, match="renders to 30x24 but the stored transform starts from 40x24"):
        hydrate(stripped, sources={"seqsrc": copy})
