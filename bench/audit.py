"""Benchmark: the release audit's two costs at scale, on synthetic images.

* hashing (done once, by the builders, into ``image_hashes.json``): perceptual hashes per second, over
  ``--workers`` processes;
* near-duplicate search (every audit): all pairs within the threshold among ``--images`` hashes, each image
  queried with its plain and both mirror hashes (:class:`vgmed_data.imagehash.HammingIndex`, multi-index hashing),
  timed at 10%, 30% and 100% of the images to show how it grows, beside the time comparing every pair would
  take (measured on 3000 query images in the same run, scaled to all).

The images are smooth random fields (8x8 noise upsampled to 96x96 plus fine noise), all different; ``--planted``
of them get a JPEG q=70, half-size copy, which the search must find (recall printed). Pairs found that were not
planted are printed too (false positives among distinct synthetic images).

    .venv/bin/python bench/audit.py [--images 100000] [--planted 200] [--workers 2] [--hashes FILE.npz]
"""

from __future__ import annotations

import argparse
import io
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from vgmed_data.imagehash import NEAR_THRESHOLD, HammingIndex, perceptual_hash


def synthetic(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8), mode="L").resize((96, 96),
                                                                                              Image.Resampling.BICUBIC)
    fine = rng.integers(-12, 13, (96, 96))
    return Image.fromarray(np.clip(np.asarray(coarse, dtype=np.int64) + fine, 0, 255).astype(np.uint8), mode="L")


def changed(image: Image.Image) -> Image.Image:
    buffer = io.BytesIO()
    image.resize((48, 48), Image.Resampling.BILINEAR).save(buffer, "JPEG", quality=70)
    return Image.open(io.BytesIO(buffer.getvalue()))


def hash_range(bounds: tuple[int, int]) -> list[tuple[int, int, int]]:
    out = []
    for seed in range(*bounds):
        h = perceptual_hash(synthetic(seed))
        out.append((h.plain, h.mirrored_lr, h.mirrored_ud))
    return out


def hash_planted(seeds: list[int]) -> list[int]:
    return [perceptual_hash(changed(synthetic(seed))).plain for seed in seeds]


def search(hashes: np.ndarray) -> tuple[set[tuple[int, int]], float]:
    started = time.perf_counter()
    index = HammingIndex(hashes[:, 0], threshold=NEAR_THRESHOLD)
    pairs: set[tuple[int, int]] = set()
    for variant in range(3):
        query, position, _ = index.search(hashes[:, variant])
        pairs |= {(min(q, p), max(q, p)) for q, p in zip(query.tolist(), position.tolist()) if q != p}
    return pairs, time.perf_counter() - started


def brute_force_seconds(hashes: np.ndarray, *, sample: int) -> float:
    """Seconds a plain comparison of every image with every other (all three hashes) would take, from
    ``sample`` query images timed against all of them."""
    started = time.perf_counter()
    for variant in range(3):
        for begin in range(0, sample, 500):
            distance = np.bitwise_count(hashes[begin:begin + 500, variant, None] ^ hashes[None, :, 0])
            np.flatnonzero(distance <= NEAR_THRESHOLD)
    return (time.perf_counter() - started) * len(hashes) / sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--planted", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--hashes", type=Path, metavar="FILE.npz",
                        help="keep the hashes here and reuse them on the next run (times the search only)")
    args = parser.parse_args()

    planted_seeds = list(range(0, args.images, max(1, args.images // args.planted)))[:args.planted]
    order = [seed for i in range(args.workers) for seed in planted_seeds[i::args.workers]]
    if args.hashes is not None and args.hashes.exists():
        stored = np.load(args.hashes)
        hashes, planted = stored["hashes"], stored["planted"].tolist()
        print(f"hashing: read from {args.hashes}")
    else:
        started = time.perf_counter()
        step = max(1, args.images // (args.workers * 8))
        bounds = [(start, min(start + step, args.images)) for start in range(0, args.images, step)]
        with ProcessPoolExecutor(args.workers) as pool:
            rows = [row for part in pool.map(hash_range, bounds) for row in part]
            planted = [h for part in pool.map(hash_planted, [planted_seeds[i::args.workers]
                                                             for i in range(args.workers)]) for h in part]
        hashing = time.perf_counter() - started
        hashes = np.array(rows, dtype=np.uint64)
        total = args.images + len(planted)
        print(f"hashing: {total} images in {hashing:.1f} s with {args.workers} worker(s) = {total / hashing:.0f} "
              "images/s (synthetic 96x96 grey; done once, at build time)")
        if args.hashes is not None:
            np.savez(args.hashes, hashes=hashes, planted=np.array(planted, dtype=np.uint64))
    copies = np.array([[h, h, h] for h in planted], dtype=np.uint64)  # a copy's own hashes; the original's mirrors
    for fraction in (0.1, 0.3, 1.0):
        count = int(args.images * fraction)
        keep = [k for k, seed in enumerate(order) if seed < count]
        block = np.concatenate([hashes[:count], copies[keep]])
        pairs, seconds = search(block)
        expected = {(order[k], count + j) for j, k in enumerate(keep)}
        found = len(expected & pairs)
        brute = brute_force_seconds(block, sample=min(len(block), 3000))
        print(f"search: {len(block)} images, threshold {NEAR_THRESHOLD} of 64 bits, plain + mirrors: {seconds:.2f} s "
              f"(every pair compared: {brute:.1f} s, {brute / seconds:.1f}x slower); planted JPEG q70 half-size "
              f"copies found {found}/{len(expected)}; other pairs {len(pairs - expected)}")


if __name__ == "__main__":
    main()
