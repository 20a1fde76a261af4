"""BIDS-style image + derivatives with a centroid file (VerSe's restructured release).

``<release>/rawdata/sub-<id>/<stem>_ct.nii.gz`` is the image; ``<release>/derivatives/sub-<id>/<stem>_seg-vert_msk.nii.gz``
the label volume (one integer per vertebra) and ``<stem>_seg-subreg_ctd.json`` the centroids: a JSON list whose
first item is ``{"direction": [...]}`` (the axis codes the coordinates are given in) and every other item
``{"label": <int>, "X": <float>, "Y": <float>, "Z": <float>}`` in voxels of the image. The centroid file says which
labels the scan holds: each one becomes a region (a label there that is not in the entry's map is bad input; one in
the mask but not in the centroid file is caught when the volume is read). ``<release>`` may be repeated (the
training, validation and test archives extracted side by side).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vgmed_data.errors import FileFormatError, SkipReason, SourceNotFoundError, VgmedError
from vgmed_data.userfiles import read_bounded

from vgmed_data.builders.policy import Skip, handle
from vgmed_data.builders.policy import skip_reason
from vgmed_data.builders.readers.common import relative, visible
from vgmed_data.builders.records import ImageRef, RegionRef, SourceRecord

if TYPE_CHECKING:
    from vgmed_data.builders.entry import SourceEntry

MAX_CENTROID_BYTES = 1 << 20  # a centroid file lists a few dozen points; anything larger is not one


@dataclass(frozen=True, kw_only=True)
class BidsCentroidReader:
    """Images under ``rawdata/sub-*/``; label volume and centroid JSON under ``derivatives/sub-*/``, named by the
    image's stem plus ``mask_suffix`` / ``centroids_suffix``."""

    image_suffix: str = "_ct.nii.gz"
    mask_suffix: str = "_seg-vert_msk.nii.gz"
    centroids_suffix: str = "_seg-subreg_ctd.json"

    def required_paths(self, entry: "SourceEntry") -> tuple[str, ...]:
        return (f"**/rawdata/sub-*/*{self.image_suffix}", f"**/derivatives/sub-*/*{self.mask_suffix}",
                f"**/derivatives/sub-*/*{self.centroids_suffix}")

    def records(self, entry: "SourceEntry", root: Path, *, on_bad: str, skips: list[Skip]) -> Iterator[SourceRecord]:
        images = sorted(visible(list(root.glob(f"**/rawdata/sub-*/*{self.image_suffix}"))))
        if not images:
            raise SourceNotFoundError(f"no rawdata/sub-*/*{self.image_suffix} images", path=root,
                                      fix=f"point --source {entry.key}=PATH at the folder holding the extracted "
                                          "release folders (each with rawdata/ and derivatives/)")
        for image in images:
            stem = image.name[: -len(self.image_suffix)]
            subject = image.parent.name
            derivatives = image.parent.parent.parent / "derivatives" / subject
            mask, centroids = derivatives / (stem + self.mask_suffix), derivatives / (stem + self.centroids_suffix)
            record = relative(image.parent / stem, root)
            try:
                for path in (mask, centroids):
                    if not path.is_file():
                        raise SourceNotFoundError("is missing", path=path,
                                                  fix="extract the release's derivatives/ beside its rawdata/, or "
                                                      "use --on-bad skip")
                levels = read_centroid_labels(centroids)
                regions = []
                for value in levels:
                    label = entry.label(str(value), path=str(centroids), record=record)
                    regions.append(RegionRef(label=str(value), target=label.target, body_part=label.body_part,
                                             kind=label.kind, mask_path=str(mask),
                                             mask_source_path=relative(mask, root), mask_value=value))
            except VgmedError as error:
                handle(error, policy=on_bad, source=entry.key, record=record,
                       reason=skip_reason(error, other=SkipReason.CORRUPT_FILE), log=skips)
                continue
            yield SourceRecord(
                source=entry.key, record_id=record, patient_id=subject, case_id=stem, modality=entry.modality,
                body_part=entry.body_part,
                image=ImageRef(path=str(image), source_path=relative(image, root), kind="nifti"),
                regions=tuple(regions), laterality_known=entry.laterality_known,
                metadata={"labels_in_scan": [entry.labels[str(v)].target for v in levels]})


def read_centroid_labels(path: Path) -> list[int]:
    """The vertebra labels a centroid file lists, in file order (centroids given as NaN are skipped, as the
    release's own reader does)."""
    fix = "re-extract the release's derivatives/ folder"
    data = read_bounded(path, limit=MAX_CENTROID_BYTES, what="centroid file")
    try:
        items: Any = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise FileFormatError(f"is not a JSON centroid list ({error.__class__.__name__})", path=path,
                              fix=fix) from None
    if not isinstance(items, list) or not items or not isinstance(items[0], dict) or "direction" not in items[0]:
        raise FileFormatError("is not a centroid list starting with a {'direction': ...} item", path=path, fix=fix)
    labels = []
    for item in items[1:]:
        if not isinstance(item, dict) or not isinstance(item.get("label"), int) or isinstance(item["label"], bool):
            raise FileFormatError("has a centroid without an integer 'label'", path=path, fix=fix)
        if "nan" in json.dumps(item).lower():
            continue
        labels.append(item["label"])
    if len(set(labels)) != len(labels):
        raise FileFormatError("lists a vertebra label twice", path=path, fix=fix)
    return labels
