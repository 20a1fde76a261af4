"""The dataset configurations: one :class:`DatasetConfig` per name, the one place that says what a
configuration's rows are (features, validation rule, card text, split unit, what publishing checks and strips).

Code that handles rows of any configuration asks the spec (``dataset_config(name).image_column``,
``.images(row)``, ``.origins(row)``...) instead of testing the name. A new configuration is one more
:class:`DatasetConfig` in :data:`CONFIGS` (docs/architecture.md, "Adding a dataset configuration").
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from datasets import Features

from vgmed_data.errors import SchemaError
from vgmed_data.rowchecks import RowCheck, check_grounding_row, check_sequence_row
from vgmed_data.schema import SEQUENCES_FEATURES, VGMED_FEATURES

Cell = Mapping[str, Any] | None  # an image cell as stored: {"bytes", "path"}


@dataclass(frozen=True, kw_only=True)
class DatasetConfig:
    """What one configuration's rows hold and how the package treats them."""

    name: str
    features: Features  # the schema (datasets Features); written into the card's dataset_info
    check_row: RowCheck  # `vgmed validate`'s rule for one stored row (vgmed_data.rowchecks)
    card_text: str  # what the dataset card says the configuration asks (its default description)
    split_unit: str  # what no two splits share (the row's patient_id holds its id)
    image_column: str  # the column of the images a model sees (the audit fingerprints them)
    multi_image: bool  # image_column holds a list of images (else one image)
    mask_column: str | None  # the column of a region mask, if any
    origin_column: str  # how each image was produced (the PHI guard refuses undeidentified DICOM)
    fingerprint_key: str  # metadata key of the published pixels' sha256 (a list when multi_image)
    pointer_key: str  # metadata key of the path(s) inside the source, for an annotations-only release
    answer: Literal["text", "box"]  # a word or phrase (answer matching) or a box in one of the images (IoU)

    @property
    def image_columns(self) -> tuple[str, ...]:
        """Every column that holds image bytes (the licence and PHI checks of publishing read them)."""
        return (self.image_column,) if self.mask_column is None else (self.image_column, self.mask_column)

    def images(self, row: Mapping[str, Any]) -> list[tuple[int | None, Cell]]:
        """``(index, cell)`` of each image of a stored row; the index is None for a single-image configuration."""
        value = row.get(self.image_column)
        if self.multi_image:
            return list(enumerate(value or []))
        return [(None, value)]

    def origins(self, row: Mapping[str, Any]) -> tuple[str, ...]:
        """How each image of a stored row was produced (``image_origin`` values)."""
        value = row.get(self.origin_column)
        if self.multi_image:
            return tuple((item or {}).get("image_origin") or "" for item in value or [])
        return (value or "",)

    def fingerprints(self, metadata: Mapping[str, Any]) -> list[str | None]:
        """The stored pixel fingerprint of each image (an annotations-only release keeps them in metadata)."""
        value = metadata.get(self.fingerprint_key)
        if self.multi_image:
            return list(value or [])
        return [value]

    def has_pointers(self, row: Mapping[str, Any], metadata: Mapping[str, Any]) -> bool:
        """Whether every image of the row points at its source file (``origin_column`` counts the images)."""
        if self.multi_image:
            return len(metadata.get(self.pointer_key) or []) >= len(row.get(self.origin_column) or [])
        return bool(metadata.get(self.pointer_key))


VGMED = DatasetConfig(
    name="vgmed", features=VGMED_FEATURES, check_row=check_grounding_row,
    card_text="each question names a target in a medical image and the answer is located by boxes (and masks "
              "where the source has them)",
    split_unit="the source's subject (its entry's split unit: patient, volume, image, video or centre)",
    image_column="image", multi_image=False, mask_column="mask", origin_column="image_origin",
    fingerprint_key="image_sha256", pointer_key="source_path", answer="text")

SEQUENCES = DatasetConfig(
    name="sequences", features=SEQUENCES_FEATURES, check_row=check_sequence_row,
    card_text="the `sequences` configuration asks for the target across several images",
    split_unit="patient", image_column="images", multi_image=True, mask_column=None,
    origin_column="image_provenance", fingerprint_key="image_sha256s", pointer_key="source_paths", answer="box")

CONFIGS: dict[str, DatasetConfig] = {spec.name: spec for spec in (VGMED, SEQUENCES)}  # first: the default one


def dataset_config(name: str) -> DatasetConfig:
    """The spec of configuration ``name``; :class:`SchemaError` listing the known ones otherwise."""
    if name not in CONFIGS:
        raise SchemaError(f"unknown configuration {name!r}", fix=f"use one of: {', '.join(CONFIGS)}")
    return CONFIGS[name]


def features_for(config: str) -> Features:
    return dataset_config(config).features


def default_config(names: Container[str]) -> str | None:
    """The configuration a card or example opens by default: the first registered one among ``names``."""
    return next((name for name in CONFIGS if name in names), None)
