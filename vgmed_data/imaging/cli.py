"""``vgmed render FILE --out OUT.png``."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="a DICOM, NIfTI (.nii/.nii.gz) or raster (PNG/JPEG/TIFF) file")
    parser.add_argument("--out", type=Path, required=True, help="output PNG")
    parser.add_argument("--window", help="preset (lung, mediastinum, soft_tissue, abdomen, liver, bone, brain, "
                                         "subdural, stroke) or CENTER,WIDTH; default: the file's own window")
    parser.add_argument("--slice", type=int, dest="slice_index", help="NIfTI slice index (default: middle)")
    parser.add_argument("--axis", default="axial", choices=("axial", "coronal", "sagittal"), help="NIfTI plane")
    parser.add_argument("--frame", type=int, default=0, help="DICOM frame (multi-frame files)")
    parser.add_argument("--channel", type=int, default=0, help="channel of a 4D NIfTI (e.g. an MRI sequence)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vgmed_data.imaging.render import render_file

    rendered = render_file(args.file, window=args.window, slice_index=args.slice_index, plane=args.axis,
                           frame=args.frame, channel=args.channel)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rendered.image.save(args.out)
    spacing = "unknown" if rendered.pixel_spacing_mm is None else "x".join(f"{v:g}" for v in rendered.pixel_spacing_mm)
    print(f"{args.out}: {rendered.kind} -> {rendered.image.mode} {rendered.image.width}x{rendered.image.height}, "
          f"window {rendered.window or 'n/a'}, pixel spacing {spacing} mm")
    return 0
