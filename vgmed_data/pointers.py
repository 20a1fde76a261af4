"""Image pointers: strip image bytes for an annotations-only release, and put them back (``vgmed hydrate``).

**The pointer convention** (builders write it; publishing and hydrate rely on it). Every row keeps ``source``
and ``source_id``. Its ``metadata`` JSON names the file inside the source's own layout, as a relative POSIX path
from the root of a local copy of that source:

* ``vgmed`` rows: ``metadata["source_path"]`` (str; for rows built from DICOM a ``dicom-sop:`` pointer, which
  names no identifier and is found by SOPInstanceUID, :mod:`vgmed_data.imaging.sop_pointer`); the image is
  re-rendered from it with the row's
  ``window`` (any label the renderers write, data-derived ones included: ``file``, ``min-max``, ``p0.5-p99.5``),
  ``plane`` and ``slice_index``, ``metadata["frame"]`` (DICOM multi-frame, default 0) and ``metadata["channel"]``
  (the volume of a multi-sequence NIfTI, default 0) through
  :func:`vgmed_data.imaging.render.render_file`, exactly as builders render. Optional
  ``metadata["source_mask_path"]``: a raster mask file holding the row's mask as stored.
* ``sequences`` rows: ``metadata["source_paths"]`` (list of str, one per image, aligned with ``images`` and
  ``image_provenance``; each image's source is ``image_provenance[i].source``), rendered with
  ``image_provenance[i].plane`` / ``slice_index`` and ``metadata["windows"][i]`` when present. When
  ``image_provenance[i].transform`` is not empty (a :class:`vgmed_data.geometry.Transform` as JSON: crops,
  shifts, physical-aspect resize, pad to square, resize) it is applied to the re-rendered slice, whose size must
  be the transform's ``src_size``. The sequence builders store RGB images (a grey slice converted after the
  transform); the colour mode kept is the one whose pixels match the fingerprint (as rendered, else RGB).

**Fingerprints.** When images are stripped (:func:`strip_images`), the pixels that were removed are fingerprinted
into ``metadata``: ``image_sha256`` / ``mask_sha256`` (``vgmed``) or ``image_sha256s`` (``sequences``), the
sha256 of ``"<mode>:<width>x<height>:"`` + the raw decoded pixels. :func:`hydrate` re-renders each image and
accepts it only when the fingerprint matches, so a hydrated folder holds exactly the pixels that were built.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from vgmed_data.configs import DatasetConfig, dataset_config
from vgmed_data.errors import InvalidInputError, PublishRefusedError, SourceNotFoundError, VgmedError
from vgmed_data.folder import count_rows, folder_configs, iter_rows
from vgmed_data.writer import adopt_facts, write_config
from vgmed_data.imagehash import pixel_sha256
from vgmed_data.audit import read_hashes
from vgmed_data.manifest import copy_build_records
from vgmed_data.progress import add_quiet_argument, progress
from vgmed_data.safepaths import PathEscapeError, resolve_inside
from vgmed_data.schema import encode_png, row_metadata
from vgmed_data.staging import staging_dir

MAX_NAMED = 10


def _dump(metadata: Mapping[str, Any]) -> str:
    return json.dumps(dict(metadata), sort_keys=True, separators=(",", ":"))


def _strip_row(row: dict[str, Any], *, config: str) -> dict[str, Any]:
    metadata = row_metadata(row)
    spec = dataset_config(config)
    if spec.multi_image:
        cells = row[spec.image_column] or []
        metadata[spec.fingerprint_key] = [pixel_sha256(c["bytes"]) if c and c.get("bytes") else None for c in cells]
        row[spec.image_column] = [None for _ in cells]
    else:
        for column in spec.image_columns:
            cell = row[column]
            if cell and cell.get("bytes"):
                metadata[f"{column}_sha256"] = pixel_sha256(cell["bytes"])  # image_sha256, mask_sha256
            row[column] = None
    row["metadata"] = _dump(metadata)
    return row


def _stripped_rows(folder: Path, config: str) -> Iterator[dict[str, Any]]:
    for row in iter_rows(folder, config=config):
        yield _strip_row(row, config=config)


def rows_without_pointers(folder: str | os.PathLike[str]) -> list[str]:
    """``config/id`` of rows whose images could not be put back after stripping: a ``vgmed`` row without
    ``metadata.source_path``, a ``sequences`` row with fewer ``metadata.source_paths`` than images (the sequence
    builders draw, edit and crop their images, so their rows carry no pointers)."""
    missing = []
    for config in folder_configs(folder):
        spec = dataset_config(config)
        for row in iter_rows(folder, config=config, columns=["id", "metadata", spec.origin_column]):
            if not spec.has_pointers(row, json.loads(row["metadata"] or "{}")):
                missing.append(f"{config}/{row['id']}")
    return missing


def strip_images(folder: str | os.PathLike[str], destination: str | os.PathLike[str], *,
                 pointers_checked: bool = False) -> Path:
    """Write an annotations-only copy of ``folder`` into ``destination``: no image or mask bytes, fingerprints
    and pointers in ``metadata``; ``manifest.json`` and ``build_report.json`` are copied. Refused
    (:class:`PublishRefusedError`, naming the rows) when a row has no pointer: its images would be lost for good.
    ``pointers_checked``: the folder's verified facts say every row has its pointers (the rows are not read for
    that then)."""
    source, target = Path(folder), Path(destination)
    missing = [] if pointers_checked else rows_without_pointers(source)
    if missing:
        named = ", ".join(missing[:MAX_NAMED]) + (f" and {len(missing) - MAX_NAMED} more" if len(missing) > MAX_NAMED
                                                  else "")
        raise PublishRefusedError(
            f"{len(missing)} row(s) have no pointer to their source files, so an annotations-only release of them "
            f"could never be hydrated: {named}", path=source,
            fix="publish this configuration with its images (without --annotations-only; `vgmed sources list` "
                "says which sources allow it), or leave it out of the annotations-only release")
    known = read_hashes(source)  # the stripped rows keep only fingerprints: their perceptual hashes come along
    for config in folder_configs(source):
        write_config(target, _stripped_rows(source, config), config=config, known_hashes=known)
    copy_build_records(source, target)
    return target


# -- hydrate -----------------------------------------------------------------------------------------------------

@dataclass
class HydrateReport:
    restored: dict[str, int] = field(default_factory=dict)  # source -> images restored
    left_out: dict[str, int] = field(default_factory=dict)  # source -> images without a local copy given
    masks_missing: int = 0  # stripped masks with no source_mask_path pointer

    def summary(self) -> str:
        parts = [f"restored {sum(self.restored.values())} image(s)"
                 + (" (" + ", ".join(f"{k}: {v}" for k, v in sorted(self.restored.items())) + ")"
                    if self.restored else "")]
        if self.left_out:
            parts.append("left without images (no --source given): "
                         + ", ".join(f"{k}: {v}" for k, v in sorted(self.left_out.items())))
        if self.masks_missing:
            parts.append(f"{self.masks_missing} mask(s) not restored (no source_mask_path pointer)")
        return "; ".join(parts)


@dataclass(frozen=True)
class _Pointer:
    source: str
    relative: str
    window: str | None
    plane: str
    slice_index: int | None
    frame: int
    fingerprint: str | None
    transform: str = ""  # Transform.to_json() from the rendered slice to the stored image; "" if untouched
    channel: int = 0  # volume index of a multi-sequence NIfTI (metadata["channel"]: MSD brain tumour, prostate)


def _resolve(root: Path, relative: str) -> Path:
    """The file a pointer names: a relative path, or a DICOM instance's ``dicom-sop:`` pointer (rows built from
    DICOM; :mod:`vgmed_data.imaging.sop_pointer`) found by the SOPInstanceUIDs of the files under ``root``."""
    from vgmed_data.imaging.sop_pointer import is_sop_pointer, resolve_sop_pointer

    if is_sop_pointer(relative):
        return resolve_sop_pointer(root, relative) or (root / relative).resolve()
    return resolve_inside(root, relative, what="pointer")


def _render(root: Path, pointer: _Pointer, *, record: str) -> bytes:
    from vgmed_data.geometry import Transform
    from vgmed_data.imaging.render import render_file

    if not isinstance(pointer.relative, str) or not pointer.relative:
        raise InvalidInputError(f"pointer {pointer.relative!r} is not a relative path", record=record,
                                fix="rebuild with a builder that writes the pointer convention")
    try:
        path = _resolve(root, pointer.relative)
    except PathEscapeError as error:
        raise PathEscapeError(error.message, record=record, fix=error.fix) from None
    if not path.is_relative_to(root.resolve()):
        raise PathEscapeError(f"pointer {pointer.relative!r} leaves the source folder", record=record)
    if not path.exists():
        raise SourceNotFoundError(f"{pointer.relative} is missing from the local copy of {pointer.source}",
                                  path=root, record=record, fix="point --source at the root of a complete copy")
    if not path.is_file():
        raise InvalidInputError(f"pointer {pointer.relative!r} names a folder, not a file", path=root, record=record,
                                fix="point --source at the root of the source's own layout")
    try:
        rendered = render_file(path, window=pointer.window or None, slice_index=pointer.slice_index,
                               plane=pointer.plane or "axial", frame=pointer.frame, channel=pointer.channel)
    except VgmedError as error:  # name the row: a bad window or file is otherwise reported without it
        raise type(error)(error.message, path=error.path or path, record=record, fix=error.fix) from error
    image = rendered.image
    candidates = [image]
    if pointer.transform:
        try:
            transform = Transform.from_json(pointer.transform)
        except (ValueError, KeyError, TypeError) as error:
            raise InvalidInputError(f"unreadable transform for {pointer.relative}: {error}", record=record,
                                    fix="rebuild with a builder that stores Transform.to_json()") from None
        if transform.src_size != image.size:
            raise InvalidInputError(f"{pointer.relative} renders to {image.size[0]}x{image.size[1]} but the stored "
                                    f"transform starts from {transform.src_size[0]}x{transform.src_size[1]}",
                                    path=root, record=record,
                                    fix="use the same version of the source that the dataset was built from")
        image = transform.apply_image(image)
        candidates = [image.convert("RGB"), image]  # builders convert the transformed grey slice to RGB
    elif image.mode != "RGB":
        candidates.append(image.convert("RGB"))
    encoded = [encode_png(candidate) for candidate in candidates]
    if not pointer.fingerprint:
        return encoded[0]
    for data in encoded:
        if pixel_sha256(data) == pointer.fingerprint:
            return data
    raise InvalidInputError(f"the image rendered from {pointer.relative}"
                            + (" and transformed" if pointer.transform else "")
                            + " differs from the published fingerprint", path=root, record=record,
                            fix="use the same version of the source that the dataset was built from")


def _whole(metadata: Mapping[str, Any], key: str, *, record: str) -> int:
    """``metadata[key]`` as a whole number (0 when absent)."""
    value = metadata.get(key) or 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(f"metadata.{key} is {value!r}, not a whole number", record=record,
                                fix="rebuild with a builder that writes the pointer convention")
    return value


def row_pointer(row: Mapping[str, Any]) -> _Pointer:
    """A ``vgmed`` row's pointer to its source file (the convention above), with the row's window and the
    stored image's fingerprint; :func:`render_pointer` renders it."""
    metadata = row_metadata(row)
    record = row["id"]
    if "source_path" not in metadata:
        raise InvalidInputError("row has no metadata.source_path pointer", record=record,
                                fix="rebuild with a builder that writes the pointer convention")
    return _Pointer(row["source"], metadata["source_path"], row["window"], row["plane"] or "", row["slice_index"],
                    _whole(metadata, "frame", record=record), metadata.get("image_sha256"),
                    channel=_whole(metadata, "channel", record=record))


def render_pointer(root: Path, pointer: _Pointer, *, record: str) -> bytes:
    """The PNG a pointer renders to from the local copy ``root`` of its source (checked against the pointer's
    fingerprint when it has one), exactly as ``vgmed hydrate`` puts it back."""
    return _render(Path(root), pointer, record=record)


def pointer_kind(root: Path, pointer: _Pointer) -> str:
    """``dicom``, ``nifti`` or ``raster``: the kind of file a pointer names (call after :func:`render_pointer`,
    which checks that the file exists inside ``root``)."""
    from vgmed_data.imaging.render import detect_kind

    return detect_kind(_resolve(Path(root), pointer.relative))


def _hydrate_row(row: dict[str, Any], *, config: str, sources: Mapping[str, Path],
                 report: HydrateReport) -> dict[str, Any]:
    spec = dataset_config(config)
    return (_hydrate_images if spec.multi_image else _hydrate_image)(row, spec=spec, sources=sources, report=report)


def _hydrate_image(row: dict[str, Any], *, spec: DatasetConfig, sources: Mapping[str, Path],
                   report: HydrateReport) -> dict[str, Any]:
    """A single-image row: its image from ``metadata.source_path`` and its mask from ``source_mask_path``."""
    metadata = row_metadata(row)
    record = row["id"]
    if row[spec.image_column] and row[spec.image_column].get("bytes"):
        return row
    source = row["source"]
    if source not in sources:
        report.left_out[source] = report.left_out.get(source, 0) + 1
        return row
    pointer = row_pointer(row)
    row[spec.image_column] = {"bytes": _render(sources[source], pointer, record=record), "path": None}
    if spec.mask_column is not None and row[spec.mask_column] is None and metadata.get("mask_sha256"):
        if metadata.get("source_mask_path"):
            mask = _Pointer(source, metadata["source_mask_path"], None, "", None, 0, metadata["mask_sha256"])
            row[spec.mask_column] = {"bytes": _render(sources[source], mask, record=record), "path": None}
        else:
            report.masks_missing += 1
    report.restored[source] = report.restored.get(source, 0) + 1
    return row


def _hydrate_images(row: dict[str, Any], *, spec: DatasetConfig, sources: Mapping[str, Path],
                    report: HydrateReport) -> dict[str, Any]:
    """A multi-image row: each image from its entry of ``metadata.source_paths`` (and ``windows``)."""
    metadata = row_metadata(row)
    record = row["id"]
    paths = metadata.get(spec.pointer_key) or []
    windows = metadata.get("windows") or []
    prints = spec.fingerprints(metadata)
    images = list(row[spec.image_column] or [])
    for index, cell in enumerate(images):
        if cell and cell.get("bytes"):
            continue
        item = (row[spec.origin_column] or [])[index] or {}
        source = item.get("source") or row["source"]
        if source not in sources:
            report.left_out[source] = report.left_out.get(source, 0) + 1
            continue
        if index >= len(paths):
            raise InvalidInputError(f"image {index} has no metadata.{spec.pointer_key} pointer", record=record)
        pointer = _Pointer(source, paths[index], windows[index] if index < len(windows) else None,
                           item.get("plane") or "", item.get("slice_index"), 0,
                           prints[index] if index < len(prints) else None, item.get("transform") or "")
        images[index] = {"bytes": _render(sources[source], pointer, record=record), "path": None}
        report.restored[source] = report.restored.get(source, 0) + 1
    row[spec.image_column] = images
    return row


def source_roots(folder: Path, sources: Mapping[str, str | os.PathLike[str]], *,
                 configs: Sequence[str]) -> dict[str, Path]:
    """``--source KEY=PATH`` options checked against a dataset folder (``vgmed hydrate``, ``vgmed annotate push``):
    a key no row of ``configs`` comes from (a typo would otherwise silently do nothing) or a path that is not a
    folder is a one-line error naming the folder's keys."""
    roots = {key: Path(path) for key, path in sources.items()}
    if not roots:
        return roots
    held = sorted({row["source"] for config in configs for row in iter_rows(folder, config=config, columns=["source"])})
    unknown = sorted(set(roots) - set(held))
    if unknown:
        raise InvalidInputError(f"no row of this folder comes from source {', '.join(unknown)} (its sources: "
                                f"{', '.join(held) or 'none'})", path=folder,
                                fix="pass --source with one of the folder's source keys")
    for key, path in roots.items():
        if not path.is_dir():
            raise SourceNotFoundError(f"the copy of source {key} is not a folder", path=path)
    return roots


def hydrate(folder: str | os.PathLike[str], *, sources: Mapping[str, str | os.PathLike[str]],
            quiet: bool = False) -> HydrateReport:
    """Put images back into an annotations-only folder from local copies of its sources (``KEY -> root``).

    All configurations are rebuilt in a staging folder first; the folder is changed only if every pointer of
    the given sources resolved and matched its fingerprint.
    """
    root = Path(folder)
    configs = folder_configs(root)
    if not configs:
        raise SourceNotFoundError("no dataset configurations found (expected data/<config>/*.parquet)", path=root)
    roots = source_roots(root, sources, configs=list(configs))
    report = HydrateReport()
    known = read_hashes(root)
    staging = staging_dir(root)
    try:
        for config in configs:
            rows = (_hydrate_row(row, config=config, sources=roots, report=report)
                    for row in progress(iter_rows(root, config=config), total=count_rows(root, config=config),
                                        desc=f"hydrate {config}", unit="row", quiet=quiet))
            write_config(staging, rows, config=config, known_hashes=known)
        if not report.restored:  # nothing to put back: the folder stays exactly as it was
            return report
        for config in configs:
            target = root / "data" / config
            old = staging / f"old-{config}"
            target.rename(old)
            (staging / "data" / config).rename(target)
        adopt_facts(staging, root)  # the facts recorded while writing the hydrated shards
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


def parse_source_pair(value: str) -> tuple[str, str]:
    key, sep, path = value.partition("=")
    if not sep or not key or not path:
        raise InvalidInputError(f"--source expects KEY=PATH, got {value!r}", fix="e.g. --source msd=/data/MSD")
    return key, path


def register_hydrate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, help="an annotations-only dataset folder (downloaded or built)")
    parser.add_argument("--source", action="append", default=[], metavar="KEY=PATH", required=True,
                        help="a local copy of source KEY (repeatable); PATH is the root of the source's own layout")
    add_quiet_argument(parser)
    parser.set_defaults(func=run_hydrate)


def run_hydrate(args: argparse.Namespace) -> int:
    sources = dict(parse_source_pair(value) for value in args.source)
    report = hydrate(args.folder, sources=sources, quiet=args.quiet)
    print(f"{args.folder}: {report.summary()}")
    return 0
