"""What the task recipes read: a :class:`Case` is one patient's image (a 3D volume, several co-registered MRI
sequences, or one 2D image stored as a one-slice volume) with boolean masks per target.

Volumes are canonical RAS+ arrays (:mod:`vgmed_data.imaging.nifti`); slices are displayed the radiological way
by :meth:`Case.slice`. :func:`cases_from_records` loads the builders' :class:`~vgmed_data.builders.records.SourceRecord`
references (one case per source case id, every channel of a multi-sequence study together).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vgmed_data.errors import InvalidInputError
from vgmed_data.imaging.nifti import AXES
from vgmed_data.imaging.windowing import Window, apply_window, min_max_window

VOLUME_PERCENTILES = (0.5, 99.5)


def display(array: NDArray[Any], *, plane: str, index: int) -> NDArray[Any]:
    """The displayed 2D slice of a RAS+ array (same rule as ``Volume.slice``)."""
    if plane not in AXES:
        raise InvalidInputError(f"unknown plane {plane!r}", fix=f"use one of: {', '.join(AXES)}")
    return np.take(array, index, axis=AXES[plane]).T[::-1, ::-1]


def volume_from_2d(image: NDArray[Any]) -> NDArray[Any]:
    """A (W, H, 1) array whose axial slice 0 displays as ``image`` (H, W)."""
    return np.asarray(image)[::-1, ::-1].T[:, :, None]


@dataclass(frozen=True, kw_only=True)
class Case:
    """One patient's image and target masks. ``channels``: name -> (x, y, z) array; ``masks``: target -> bool
    (x, y, z) array of the same shape; ``spacing_mm``: (x, y, z)."""

    source: str
    case_id: str
    patient_id: str
    modality: str
    body_part: str
    license: str
    redistributable: bool
    channels: Mapping[str, NDArray[Any]]
    masks: Mapping[str, NDArray[np.bool_]]
    spacing_mm: tuple[float, float, float] = (1.0, 1.0, 1.0)
    image_origin: str = "nifti"
    window: Window | None = None
    record_ids: tuple[str, ...] = ()
    _windows: dict[str, Window] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.channels:
            raise InvalidInputError("a case needs at least one image channel", record=self.case_id)
        shapes = {np.shape(a) for a in self.channels.values()} | {np.shape(m) for m in self.masks.values()}
        if len(shapes) != 1 or len(next(iter(shapes))) != 3:
            raise InvalidInputError(f"channels and masks must share one 3D shape, got {sorted(shapes)}",
                                    record=self.case_id, fix="pair each label volume with its image")

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(v) for v in next(iter(self.channels.values())).shape)  # type: ignore[return-value]

    @property
    def is_volume(self) -> bool:
        return self.shape[2] > 1

    @property
    def channel_names(self) -> tuple[str, ...]:
        return tuple(self.channels)

    def spacing(self, plane: str) -> tuple[float, float]:
        sx, sy, sz = self.spacing_mm
        return {"axial": (sx, sy), "coronal": (sx, sz), "sagittal": (sy, sz)}[plane]

    def slice(self, *, plane: str, index: int, channel: str | None = None) -> NDArray[np.uint8]:
        """An 8-bit displayed slice (the case's window, else the channel's 0.5-99.5 percentile window)."""
        name = channel if channel is not None else self.channel_names[0]
        data = self.channels[name]
        window = self.window or self._windows.get(name)
        if window is None:
            finite = data[np.isfinite(data)] if data.dtype.kind == "f" else data
            window = min_max_window(finite, low_percentile=VOLUME_PERCENTILES[0],
                                    high_percentile=VOLUME_PERCENTILES[1])
            self._windows[name] = window
        return apply_window(display(data, plane=plane, index=index), window)

    def mask_slice(self, target: str, *, plane: str, index: int) -> NDArray[np.bool_]:
        return display(self.masks[target], plane=plane, index=index)


def cases_from_records(records: Iterable[Any], *, license: str, redistributable: bool,
                       window: Window | None = None) -> Iterator[Case]:
    """Load builders' SourceRecords (NIfTI or raster) into cases, grouping channels of one case id.

    Raises the foundation's typed errors for unreadable files; the caller applies the skip policy."""
    from PIL import Image

    from vgmed_data.imaging.nifti import read_label_volume, read_nifti

    groups: dict[tuple[str, str], list[Any]] = {}
    for record in records:
        groups.setdefault((record.source, record.case_id), []).append(record)
    for (source, case_id), items in sorted(groups.items()):
        first = items[0]
        masks: dict[str, NDArray[np.bool_]] = {}
        channels: dict[str, NDArray[Any]] = {}
        if first.image.kind == "nifti":
            volume = read_nifti(first.image.path)
            for record in items:
                name = record.image.channel_name or (str(record.image.channel) if record.image.channel is not None
                                                     else "image")
                data = volume.data if volume.data.ndim == 3 else volume.data[..., record.image.channel or 0]
                channels[name] = np.asarray(data)
            labels: dict[str, NDArray[Any]] = {}
            for region in first.regions:
                if region.mask_path is None:
                    continue
                if region.mask_path not in labels:
                    labels[region.mask_path] = read_label_volume(region.mask_path, image=volume).data
                values = labels[region.mask_path]
                mask = values != 0 if region.mask_value is None else values == region.mask_value
                if mask.any():
                    masks[region.target] = masks.get(region.target, np.zeros_like(mask)) | mask
            spacing = volume.spacing_mm
            origin = "nifti"
        elif first.image.kind == "raster":
            pixels = np.asarray(Image.open(first.image.path).convert("L"))
            channels["image"] = volume_from_2d(pixels)
            for region in first.regions:
                if region.mask_path is None:
                    continue
                values = np.asarray(Image.open(region.mask_path).convert("L"))
                if region.mask_value is not None:
                    mask = values == region.mask_value
                else:
                    mask = values > (region.mask_threshold or 0)
                if mask.any():
                    masks[region.target] = masks.get(region.target, np.zeros((1,), bool)) | volume_from_2d(mask)
            sx, sy = (first.spacing_mm or (1.0, 1.0))[:2]
            spacing = (float(sx), float(sy), 1.0)
            origin = "raster"
        else:
            raise InvalidInputError(f"{first.image.kind} images are not supported by the sequence builder",
                                    record=case_id, fix="use a NIfTI or raster source")
        yield Case(source=source, case_id=case_id, patient_id=first.patient_id, modality=first.modality,
                   body_part=first.body_part, license=license, redistributable=redistributable,
                   channels=channels, masks=masks, spacing_mm=spacing, image_origin=origin, window=window,
                   record_ids=tuple(r.record_id for r in items))
