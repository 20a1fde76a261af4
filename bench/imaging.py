"""Benchmark: "file -> dataset row" against "decode + PNG encode alone", for DICOM and NIfTI, in one run.

For each input kind it prints rows per second per core of
  * limit: the bare minimum (read the file, decode pixels, apply a window, PNG-encode) with plain pydicom/nibabel,
  * ours:  vgmed_data's full path (render_file: checks, Modality LUT, VOI, orientation; GroundingSample
           validation; Arrow encoding with the datasets features),
the ratio ours/limit (goal >= 0.8), and the speedup of ours with N worker processes over 1. Limit and ours run
in ``--rounds`` interleaved rounds (order flipped every round); the rates are medians and the ratio is the median
of the per-round ratios, so load from other processes that changes between rounds cancels.

    .venv/bin/python bench/imaging.py [--files 200] [--workers 2] [--rounds 7]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
from PIL import Image

DICOM = Path(pydicom.__file__).parent / "data" / "test_files" / "CT_small.dcm"
NIFTI = Path(nib.__file__).parent / "tests" / "data" / "anatomical.nii"


def limit_dicom(path: Path) -> int:
    ds = pydicom.dcmread(path)
    hu = ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    out = np.clip((hu - (40 - 200)) / 400 * 255, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(out).save(buffer, format="PNG", compress_level=6)
    return len(buffer.getvalue())


def limit_nifti(path: Path) -> int:
    data = np.asanyarray(nib.load(path).dataobj)
    middle = data[:, :, data.shape[2] // 2].astype(np.float64)
    lo, hi = np.percentile(data, [0.5, 99.5])
    out = np.clip((middle - lo) / (hi - lo) * 255, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(out.T[::-1, ::-1].copy()).save(buffer, format="PNG", compress_level=6)
    return len(buffer.getvalue())


def ours(path: Path) -> int:
    from vgmed_data.imaging import render_file
    from vgmed_data.schema import VGMED_FEATURES, GroundingSample, Provenance, encode_png, storage_row

    rendered = render_file(path, window="soft_tissue" if path.suffix == ".dcm" else None)
    width, height = rendered.image.size
    sample = GroundingSample(
        id=f"bench-{path.name}", image=encode_png(rendered.image), question="Where is the target?",
        question_type="localization", answer="center", target="target", boxes=[[0, 0, width, height]],
        box_labels=["target"], pixel_spacing_mm=rendered.pixel_spacing_mm, window=rendered.window,
        provenance=Provenance(modality="CT", body_part="x", source="bench", source_id=path.name, license="MIT",
                              redistributable=True, patient_id="p", metadata=rendered.metadata))
    row = storage_row(sample, features=VGMED_FEATURES)  # exactly what write_config stores
    return len(row["image"]["bytes"])


def rate(function: Callable[[Path], int], files: list[Path], *, workers: int) -> float:
    start = time.perf_counter()
    if workers == 1:
        for path in files:
            function(path)
    else:
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(function, files, chunksize=8))
    return len(files) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--workers", type=int, default=min(os.cpu_count() or 1, 4))
    parser.add_argument("--rounds", type=int, default=7, help="interleaved limit/ours rounds (median ratio)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vgmed-bench-"))
    try:
        inputs = {}
        for kind, source, limit in (("DICOM CT_small 128x128", DICOM, limit_dicom),
                                    ("NIfTI anatomical 33x41x25", NIFTI, limit_nifti)):
            copies = []
            for index in range(args.files):
                target = work / f"{kind.split()[0]}-{index}{''.join(source.suffixes)}"
                shutil.copyfile(source, target)
                copies.append(target)
            inputs[kind] = (copies, limit)
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; {args.files} files per "
              f"kind; {args.rounds} interleaved rounds (median rates, median of per-round ratios); "
              f"workers={args.workers}")
        print(f"{'input':28} {'limit rows/s':>13} {'ours rows/s':>12} {'ratio':>6} {'ours x' + str(args.workers):>9} {'speedup':>8}")
        for kind, (copies, limit) in inputs.items():
            for function in (limit, ours):  # warm-up (imports, caches)
                function(copies[0])
            rates: dict[str, list[float]] = {"limit": [], "ours": []}
            ratios = []
            for round_ in range(args.rounds):  # interleaved, order flipped every round; one ratio per round
                order = (("limit", limit), ("ours", ours)) if round_ % 2 == 0 else (("ours", ours), ("limit", limit))
                measured = {name: rate(function, copies, workers=1) for name, function in order}
                for name, value in measured.items():
                    rates[name].append(value)
                ratios.append(measured["ours"] / measured["limit"])
            limit_rate, ours_rate = statistics.median(rates["limit"]), statistics.median(rates["ours"])
            parallel = rate(ours, copies, workers=args.workers)
            print(f"{kind:28} {limit_rate:13.1f} {ours_rate:12.1f} {statistics.median(ratios):6.2f} "
                  f"{parallel:9.1f} {parallel / ours_rate:8.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
