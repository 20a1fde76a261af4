"""``vgmed render FILE --out OUT.png``."""

from __future__ import annotations

import argparse
from pathlib import Path

from vgmed_data.errors import InvalidInputError, SourceNotFoundError
from vgmed_data.imaging.windowing import WindowPreset


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="a DICOM, NIfTI (.nii/.nii.gz) or raster (PNG/JPEG/TIFF) file")
    parser.add_argument("--out", type=Path, required=True, help="output PNG")
    parser.add_argument("--window", help=f"preset ({', '.join(WindowPreset)}) or CENTER,WIDTH; default: the "
                                         "file's own window")
    parser.add_argument("--slice", type=int, dest="slice_index", help="NIfTI slice index (default: middle)")
    parser.add_argument("--axis", default="axial", choices=("axial", "coronal", "sagittal"), help="NIfTI plane")
    parser.add_argument("--frame", type=int, default=0, help="DICOM frame (multi-frame files)")
    parser.add_argument("--channel", type=int, default=0, help="channel of a 4D NIfTI (e.g. an MRI sequence)")
    parser.set_defaults(func=run)


# Formats ``--out`` may name (Pillow picks the encoder from the suffix).
OUT_SUFFIXES = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF", ".bmp": "BMP"}


def _out_format(out: Path) -> str:
    if out.is_dir():
        raise InvalidInputError("--out is a folder", path=out, fix="give an image file path such as slice.png")
    image_format = OUT_SUFFIXES.get(out.suffix.lower())
    if image_format is None:
        raise InvalidInputError(f"--out must end in an image extension ({', '.join(OUT_SUFFIXES)})", path=out,
                                fix="name the output e.g. slice.png")
    return image_format


def run(args: argparse.Namespace) -> int:
    from vgmed_data.imaging.render import render_file
    from vgmed_data.staging import staged_file
    from vgmed_data.userfiles import check_regular

    image_format = _out_format(args.out)  # before any decoding: a bad --out fails at once
    if args.file.is_dir():
        raise SourceNotFoundError("is a folder, not an image file", path=args.file,
                                  fix="pass a DICOM, NIfTI or raster file")
    check_regular(args.file)  # missing, a named pipe or a device: one line, nothing opened
    rendered = render_file(args.file, window=args.window, slice_index=args.slice_index, plane=args.axis,
                           frame=args.frame, channel=args.channel)
    with staged_file(args.out, what="rendered image") as staged:
        rendered.image.save(staged, format=image_format)
    spacing = "unknown" if rendered.pixel_spacing_mm is None else "x".join(f"{v:g}" for v in rendered.pixel_spacing_mm)
    print(f"{args.out}: {rendered.kind} -> {rendered.image.mode} {rendered.image.width}x{rendered.image.height}, "
          f"window {rendered.window or 'n/a'}, pixel spacing {spacing} mm")
    return 0
