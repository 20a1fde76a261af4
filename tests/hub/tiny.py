"""Tiny dataset folders for the publishing tests, written with the real schema and folder writer.

Images are small deterministic PNGs; each row points back to its source file through ``metadata["source_path"]``
(the pointer convention documented in :mod:`vgmed_data.hub`), and :func:`write_source_copy` writes those files in
a folder laid out like the source, so hydrate can be tested against it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vgmed_data.writer import write_config
from vgmed_data.manifest import Manifest, ManifestSource, write_manifest
from vgmed_data.schema import (GroundingSample, Provenance, Review, SequenceImage, SequenceSample, encode_png,
                               make_sample_id)

SIZE = (24, 16)


def pixels(seed: int, *, size: tuple[int, int] = SIZE) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, size=(size[1], size[0]), dtype=np.uint8), mode="L")


def source_path(source: str, index: int) -> str:
    return f"images/case_{index:03d}/{source}_{index:03d}.png"


def grounding_rows(*, source: str = "opensrc", license: str = "CC-BY-4.0", redistributable: bool = True,
                   count: int = 4, image_origin: str = "raster", metadata: Mapping[str, Any] | None = None,
                   seed: int = 0, with_mask: bool = True) -> list[GroundingSample]:
    rows = []
    for index in range(count):
        mask = np.zeros((SIZE[1], SIZE[0]), dtype=bool)
        mask[2:8, 3:11] = True
        rows.append(GroundingSample(
            id=make_sample_id(source, f"rec{index}", "localization"),
            image=pixels(seed * 100 + index),
            question=f"Where is the lesion number {index}?",
            question_type="localization", answer="upper left", target="lesion",
            boxes=[[3.0, 2.0, 11.0, 8.0]], box_labels=["lesion"],
            mask=encode_png(mask) if with_mask else None,
            image_origin=image_origin, window="40/400" if image_origin != "raster" else "",
            provenance=Provenance(
                modality="CT", body_part="abdomen", source=source, source_id=f"rec{index}", license=license,
                redistributable=redistributable, patient_id=f"{source}-p{index}",
                split="test" if index % 2 == 0 else "validation",
                metadata={"source_path": source_path(source, index), **(metadata or {})},
                review=Review(status="accepted", verdicts=("ok",), annotators=("ann-a", "ann-b"), agreement=0.75)),
        ))
    return rows


def sequence_rows(*, source: str = "opensrc", license: str = "CC-BY-4.0", redistributable: bool = True,
                  count: int = 2, seed: int = 7) -> list[SequenceSample]:
    rows = []
    for index in range(count):
        images = [SequenceImage(image=pixels(seed * 100 + index * 10 + k), source=source,
                                source_id=f"seq{index}-{k}") for k in range(2)]
        rows.append(SequenceSample(
            id=make_sample_id(source, f"seq{index}", "referring"), images=images, task="referring",
            question="Where is the kidney?", answer="image 2", target="kidney", answer_image_index=1,
            answer_box=[1.0, 1.0, 9.0, 9.0],
            provenance=Provenance(
                modality="CT", body_part="abdomen", source=source, source_id=f"seq{index}", license=license,
                redistributable=redistributable, patient_id=f"{source}-s{index}", split="test",
                metadata={"source_paths": [f"seq/{index}/{k}.png" for k in range(2)]}),
        ))
    return rows


def make_folder(folder: Path, *, grounding: Sequence[GroundingSample] = (),
                sequences: Sequence[SequenceSample] = (), manifest: Manifest | None = None) -> Path:
    if grounding:
        write_config(folder, grounding, config="vgmed", shard_rows=3)
    if sequences:
        write_config(folder, sequences, config="sequences")
    if manifest is not None:
        write_manifest(folder, manifest)
    return folder


def write_source_copy(root: Path, samples: Sequence[GroundingSample | SequenceSample]) -> Path:
    """The source's own files, as a researcher with access would have them."""
    for sample in samples:
        meta = sample.provenance.metadata
        if isinstance(sample, GroundingSample):
            pairs = [(meta["source_path"], sample.image)]
        else:
            pairs = list(zip(meta["source_paths"], [item.image for item in sample.images]))
        for relative, image in pairs:
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            assert isinstance(image, Image.Image)
            image.save(target)
    return root


# Written by the same typed record and writer as `vgmed build` (vgmed_data.manifest), never by hand.
MANIFEST = Manifest(
    name="VGMED tiny", command="build vgmed", version="0.1.0", seed=13, created="2026-11-01",
    sources=(ManifestSource(key="opensrc", name="Open Source CT", homepage="https://example.org/open",
                            license="CC-BY-4.0", citation="Doe et al. Open CT. 2024.", redistributable=True),
             ManifestSource(key="closedsrc", name="Closed Source CT", homepage="https://example.org/closed",
                            license="LicenseRef-closed-dua", citation="Roe et al. Closed CT. 2023.",
                            redistributable=False, access="apply for access at https://example.org/closed/dua")),
)
