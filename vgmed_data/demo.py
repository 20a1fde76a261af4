"""``vgmed demo``: the main job on data that needs no download.

It builds a small ``vgmed`` dataset from real files that ship inside the installed pydicom and nibabel
packages, validates it, loads it back with ``datasets.load_dataset``, prints a summary table and writes preview
PNGs with the boxes drawn. Later stages (annotation dry run, evaluation with a tiny random model) run when their
packages are present.

How the demo's regions are derived (documented, deterministic, and *not* expert anatomy labels):

* ``CT_small.dcm`` (pydicom; an axial CT slice through a vertebra, Hounsfield units after the Modality LUT):
  target "vertebra" = the largest 8-connected component of HU >= 250 (bone), rendered with the soft-tissue
  window (40/400) and again with the bone window (400/1800).
* ``MR_small.dcm`` (pydicom; an MR slice): target "hyperintense region" = the largest component of signal above
  the 95th percentile of the slice, rendered with the file's own window.
* ``anatomical.nii`` (nibabel; a 2 mm T1 brain MRI): target "hyperintense tissue" = the largest component of
  intensity above the 75th percentile of the volume, on the middle axial, coronal and sagittal slices (radiological display, see
  :mod:`vgmed_data.imaging.nifti`).

Each region gets a ``localization`` question (which part of the image holds the named target, from the box
centre) and an ``attribute`` question (size class from the mask area in cm² using the pixel spacing).
DICOM headers are de-identified (PS3.15 basic profile subset) before any metadata is kept.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from vgmed_data.errors import SourceNotFoundError
from vgmed_data.extras import install_command
from vgmed_data.geometry.shapes import label_components, mask_to_boxes
from vgmed_data.imaging.windowing import apply_window
from vgmed_data.schema import GroundingSample, Provenance, encode_png, make_sample_id

DEMO_KEY = "vgmed-demo-deidentification-key"  # demo only: a real build takes its key from the user
POSITIONS = ("upper left", "upper right", "lower left", "lower right", "center")
SIZES = ("small (under 1 cm²)", "medium (1 to 10 cm²)", "large (over 10 cm²)")


@dataclass(frozen=True)
class DemoRegion:
    source: str
    source_id: str
    image: Image.Image
    mask: NDArray[np.bool_]
    target: str
    modality: str
    body_part: str
    license: str
    patient_id: str
    spacing: tuple[float, float] | None
    plane: str
    slice_index: int | None
    window: str
    image_origin: str
    metadata: dict[str, object]


def largest_component(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    labels, count = label_components(mask)
    if count == 0:
        return mask
    sizes = np.bincount(labels.ravel())[1:]
    return labels == (int(np.argmax(sizes)) + 1)


def position_of(box: NDArray[np.float64], size: tuple[int, int]) -> str:
    """Which part of the image holds the box centre: the central third of both axes is "center"."""
    cx, cy = (box[0] + box[2]) / 2 / size[0], (box[1] + box[3]) / 2 / size[1]
    if 1 / 3 <= cx <= 2 / 3 and 1 / 3 <= cy <= 2 / 3:
        return "center"
    return f"{'upper' if cy < 0.5 else 'lower'} {'left' if cx < 0.5 else 'right'}"


def size_class(area_cm2: float) -> str:
    return SIZES[0] if area_cm2 < 1 else SIZES[1] if area_cm2 <= 10 else SIZES[2]


def _pydicom_file(name: str) -> str:
    """The path of a file pydicom ships with its test data (never downloaded)."""
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name, download=False)
    if not isinstance(path, str):
        raise SourceNotFoundError(f"pydicom's test file {name} is not installed",
                                  fix="reinstall pydicom (pip install --force-reinstall pydicom)")
    return path


def _dicom_regions() -> Iterator[DemoRegion]:
    from vgmed_data.imaging.deid import deidentify
    from vgmed_data.imaging.dicom import read_dicom, safe_metadata

    ct = read_dicom(_pydicom_file("CT_small.dcm"))
    header = deidentify(ct.header, key=DEMO_KEY)
    bone = largest_component(ct.values[0] >= 250)
    for window in ("soft_tissue", "bone"):
        yield DemoRegion("pydicom-testdata", f"CT_small.dcm#{window}", ct.render(window=window), bone, "vertebra",
                         "CT", "spine", "MIT", str(header.PatientID), ct.pixel_spacing_mm, "axial", None, window,
                         "dicom-deidentified", {"source_path": "CT_small.dcm", "frame": 0, **safe_metadata(header)})
    mr = read_dicom(_pydicom_file("MR_small.dcm"))
    header = deidentify(mr.header, key=DEMO_KEY)
    pixels = mr.values[0]
    bright = largest_component(pixels > np.percentile(pixels, 95))
    yield DemoRegion("pydicom-testdata", "MR_small.dcm", mr.render(), bright, "hyperintense region", "MR",
                     "unknown", "MIT", str(header.PatientID), mr.pixel_spacing_mm, "", None,
                     mr.window_label(None), "dicom-deidentified",
                     {"source_path": "MR_small.dcm", "frame": 0, **safe_metadata(header)})


def _nifti_regions() -> Iterator[DemoRegion]:
    import nibabel

    from vgmed_data.imaging.nifti import read_nifti
    from vgmed_data.imaging.render import volume_window

    path = Path(nibabel.__file__).parent / "tests" / "data" / "anatomical.nii"
    volume = read_nifti(path)
    window = volume_window(volume.data)
    bright = volume.data > np.percentile(volume.data, 75)
    for plane in ("axial", "coronal", "sagittal"):
        index = volume.num_slices(plane) // 2
        mask = largest_component(np.take(bright, index, axis={"sagittal": 0, "coronal": 1, "axial": 2}[plane]).T[::-1, ::-1])
        image = Image.fromarray(apply_window(volume.slice(index, plane=plane), window), mode="L")
        yield DemoRegion("nibabel-testdata", f"anatomical.nii#{plane}{index}", image, mask, "hyperintense tissue", "MR", "brain",
                         "MIT", "anatomical", volume.slice_spacing(plane), plane, index, window.label(), "nifti",
                         {"source_path": "anatomical.nii", "plane": plane, "slice_index": index,
                          "original_orientation": volume.original_orientation})


def _questions(region: DemoRegion, box: NDArray[np.float64]) -> list[tuple[str, str, str, tuple[str, ...]]]:
    size = region.image.size
    spacing = region.spacing or (1.0, 1.0)
    area_cm2 = float(region.mask.sum()) * spacing[0] * spacing[1] / 100.0
    return [
        ("localization", f"In which part of the image is the {region.target}?", position_of(box, size), POSITIONS),
        ("attribute", f"How large is the {region.target} in this image?", size_class(area_cm2), SIZES),
    ]


def demo_samples() -> list[GroundingSample]:
    """The demo's samples, in a fixed order (ids and bytes are reproducible)."""
    samples = []
    for region in [*_dicom_regions(), *_nifti_regions()]:
        boxes, _ = mask_to_boxes(region.mask, min_pixels=4)
        box = boxes[0]
        split = "test" if region.modality == "CT" else "validation" if region.source_id.startswith("MR") else "train"
        provenance = Provenance(modality=region.modality, body_part=region.body_part, source=region.source,
                                source_id=region.source_id, license=region.license, redistributable=True,
                                patient_id=region.patient_id, split=split,
                                metadata={**region.metadata, "region_rule": region.target})
        for question_type, question, answer, options in _questions(region, box):
            samples.append(GroundingSample(
                id=make_sample_id(region.source, region.source_id, 0, question_type),
                image=encode_png(region.image), question=question, question_type=question_type, answer=answer,
                options=options, target=region.target, boxes=[box.tolist()], box_labels=[region.target],
                mask=encode_png(region.mask), provenance=provenance, pixel_spacing_mm=region.spacing,
                plane=region.plane, slice_index=region.slice_index, window=region.window,
                image_origin=region.image_origin,
            ))
    return samples


def _table(rows: list[dict[str, object]], columns: list[str]) -> str:
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    line = lambda values: "  ".join(str(v).ljust(widths[c]) for c, v in zip(columns, values))  # noqa: E731
    return "\n".join([line(columns), line(["-" * widths[c] for c in columns]),
                      *(line([r[c] for c in columns]) for r in rows)])


def run_demo(out: Path, *, with_eval: bool = True) -> dict[str, object]:
    from datasets import load_dataset

    from vgmed_data.writer import write_config
    from vgmed_data.preview import draw_boxes
    from vgmed_data.schema import VGMED_FEATURES
    from vgmed_data.validate import validate_folder

    dataset_dir = out / "dataset"
    samples = demo_samples()
    summary = write_config(dataset_dir, samples, config="vgmed")
    print(f"[1/4] built {sum(summary.rows['vgmed'].values())} samples into {dataset_dir} "
          f"(splits: {json.dumps(summary.rows['vgmed'], sort_keys=True)})")
    problems = validate_folder(dataset_dir)
    if problems:
        raise SystemExit("demo dataset failed validation:\n" + "\n".join(map(str, problems)))
    print("[2/4] vgmed validate: no problems")
    # A fresh cache: datasets fingerprints local files by path and time, and a rebuilt folder must not be
    # answered from an earlier build's cache.
    cache = tempfile.mkdtemp(prefix="vgmed-demo-cache-")
    loaded = {split: load_dataset(str(dataset_dir), "vgmed", split=split, cache_dir=cache)
              for split in sorted(summary.rows["vgmed"])}
    for split, ds in loaded.items():
        if ds.features != VGMED_FEATURES:
            raise SystemExit(f"load_dataset returned different features for split {split}")
    print(f"[3/4] load_dataset: {', '.join(f'{s}={len(d)}' for s, d in loaded.items())} rows; features match the schema")
    rows = []
    previews = out / "previews"
    previews.mkdir(parents=True, exist_ok=True)
    for split, ds in loaded.items():
        for row in ds:
            box = row["boxes"][0]
            rows.append({"split": split, "id": row["id"], "modality": row["modality"], "target": row["target"],
                         "type": row["question_type"], "answer": row["answer"],
                         "size": f"{row['width']}x{row['height']}",
                         "box": "[" + ", ".join(f"{v:g}" for v in box) + "]"})
            if row["question_type"] == "localization":
                mask = np.asarray(row["mask"]) > 127 if row["mask"] is not None else None
                draw_boxes(row["image"], row["boxes"], labels=row["box_labels"], mask=mask, scale=4).save(
                    previews / f"{row['id']}.png")
    print(_table(rows, ["split", "id", "modality", "target", "type", "answer", "size", "box"]))
    print(f"[4/4] previews with boxes: {previews}/*.png")
    result: dict[str, object] = {"dataset": str(dataset_dir), "rows": len(rows), "previews": str(previews)}
    if with_eval:
        result.update(_later_stages(dataset_dir, out))
    (out / "demo_summary.json").write_text(json.dumps(result, indent=2, sort_keys=True))
    return result


# The stages other packages add to the demo, named as the `vgmed` command table names them ("module:function",
# imported when the stage runs): vgmed_data does not depend on the packages above it.
LATER_STAGES = {"annotation": "vgmed_data.annotation.dryrun:prepare_review_files",
                "eval": "vgmed_data.eval.runner:run_demo_eval"}


def _later_stages(dataset_dir: Path, out: Path) -> dict[str, object]:
    """The annotation dry run and the evaluation with a tiny random model (each skipped, in one line naming the
    install, when its extra is not installed)."""
    from vgmed_data.errors import MissingDependencyError, require_extra
    from vgmed_data.lazy import load_target

    stages: dict[str, object] = {}
    try:
        require_extra("annotation")
        prepare_review_files = load_target(LATER_STAGES["annotation"])
        review = prepare_review_files(dataset_dir, out=out / "annotation-dry-run")
        print(f"[+] annotation dry run (no server): {review.tasks} Label Studio tasks with pre-drawn regions in "
              f"{review.tasks_json}, labelling interface in {review.label_config}")
        stages["annotation_tasks"] = review.tasks
    except (ImportError, MissingDependencyError) as error:
        print(f"[+] annotation dry run skipped ({error}); install with: {install_command('annotation')}")
    try:
        require_extra("eval")
        run_demo_eval = load_target(LATER_STAGES["eval"])
    except (ImportError, MissingDependencyError) as error:
        print(f"[+] evaluation skipped ({error}); install with: {install_command('eval')}")
        return stages
    summary = run_demo_eval(dataset_dir, out / "eval")
    stages["eval"] = str(out / "eval" / "results")
    stages["eval_samples"] = summary.get("samples") if isinstance(summary, dict) else None
    return stages


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("demo-out"), help="output folder (default: demo-out)")
    parser.add_argument("--no-eval", action="store_true",
                        help="skip the later stages (annotation dry run, evaluation with a tiny random model)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    run_demo(args.out, with_eval=not args.no_eval)
    return 0
