"""Image fingerprints for duplicate search: the exact pixel hash and a perceptual hash, and a Hamming-radius index.

**Exact:** :func:`pixel_sha256` of the decoded pixels (mode, size and raw bytes; the same fingerprint the
builders put in ``metadata.image_sha256`` and stripping writes for removed images), so two PNG encodings of the
same pixels are one image.

**Perceptual (DCT hash, 64 bits):** the image in grey, area-averaged to 32x32, its 2-D DCT-II, and one bit per
coefficient of the lowest 8x8 frequencies: set when the coefficient is above the median of those 64. Low
frequencies survive re-encoding, resizing and small crops; the median makes the hash blind to brightness and
contrast. Before hashing, grey values are replaced by their rank (a histogram equalisation), so a different
window of the same slice, a monotone change of grey values apart from what the window clips, moves few bits.
Each image also gets the hashes of its left-right and up-down mirror images, so a flipped copy is found too.
:data:`NEAR_THRESHOLD` (bits of 64) is the distance at or under which two images count as near duplicates; the
transformations it catches and the margin to distinct images are measured in docs/publishing.md ("Release
audit") and tested in tests/core/test_audit.py.

**Search** (:class:`HammingIndex`): multi-index hashing (Norouzi, Punjani and Fleet, "Fast search in Hamming
space with multi-index hashing", CVPR 2012): the 64 bits are dealt into ``m`` blocks; two hashes within distance
``t`` agree within ``t // m`` bits on at least one block (pigeonhole), so each query enumerates, per block, the
block values within that radius and looks them up in the block's sorted table; only those candidates get the
full distance. Work grows with the number of near pairs, not with the square of the number of images.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from itertools import combinations

import numpy as np
from numpy.typing import NDArray
from PIL import Image

HASH_SIZE = 32  # the side of the grey thumbnail the DCT is taken over
BITS_SIDE = 8  # the lowest 8x8 frequencies: 64 bits
NEAR_THRESHOLD = 10  # Hamming distance (bits of 64) at or under which two images are near duplicates
ALGORITHM = f"dct-{BITS_SIDE * BITS_SIDE}-rank-{HASH_SIZE}"  # names the hash in the sidecar; change it with the code


def pixel_sha256(data: bytes) -> str:
    """Fingerprint of an encoded image's decoded pixels (independent of PNG compression settings)."""
    with Image.open(io.BytesIO(data)) as image:
        return image_sha256(image)


def image_sha256(image: Image.Image) -> str:
    image.load()
    prefix = f"{image.mode}:{image.size[0]}x{image.size[1]}:".encode()
    return hashlib.sha256(prefix + image.tobytes()).hexdigest()


@cache
def _dct_matrix(size: int) -> NDArray[np.float64]:
    k = np.arange(size)
    matrix = np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / (2 * size)) * np.sqrt(2.0 / size)
    matrix[0] /= np.sqrt(2.0)
    return matrix


def _thumbnail(image: Image.Image) -> NDArray[np.float64]:
    """The image as 32x32 grey ranks in [0, 1] (area-averaged, then histogram-equalised)."""
    if image.mode in ("L", "RGB", "RGBA", "P", "LA", "1", "CMYK", "YCbCr"):
        grey = image.convert("L").convert("F")
    else:  # 16-bit and float images: their values as they are
        grey = Image.fromarray(np.asarray(image, dtype=np.float32), mode="F")
    small = np.asarray(grey.resize((HASH_SIZE, HASH_SIZE), Image.Resampling.BOX), dtype=np.float64)
    flat = small.ravel()
    ranks = np.searchsorted(np.sort(flat), flat, side="left") + np.searchsorted(np.sort(flat), flat, side="right")
    return (ranks / (2.0 * flat.size)).reshape(small.shape)


def _bits(thumbnail: NDArray[np.float64]) -> int:
    dct = _dct_matrix(HASH_SIZE)
    low = (dct @ thumbnail @ dct.T)[:BITS_SIDE, :BITS_SIDE].ravel()
    return int.from_bytes(np.packbits(low > np.median(low)).tobytes(), "big")  # first coefficient = top bit


@dataclass(frozen=True)
class PerceptualHash:
    """The image's hash and those of its left-right and up-down mirror images."""

    plain: int
    mirrored_lr: int
    mirrored_ud: int

    def to_text(self) -> str:
        return " ".join(f"{value:016x}" for value in (self.plain, self.mirrored_lr, self.mirrored_ud))

    @classmethod
    def from_text(cls, text: str) -> "PerceptualHash":
        plain, lr, ud = (int(part, 16) for part in text.split())
        return cls(plain, lr, ud)


def perceptual_hash(image: Image.Image) -> PerceptualHash:
    thumbnail = _thumbnail(image)
    return PerceptualHash(_bits(thumbnail), _bits(thumbnail[:, ::-1]), _bits(thumbnail[::-1, :]))


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


# ------------------------------------------------------------------------------------------------ the index
def _block_masks(width: int, radius: int) -> NDArray[np.uint32]:
    """Every value of ``width`` bits with at most ``radius`` bits set (the XOR masks of one block's ball)."""
    masks = [0]
    for count in range(1, radius + 1):
        masks += [sum(1 << bit for bit in bits) for bits in combinations(range(width), count)]
    return np.asarray(masks, dtype=np.uint32)


@dataclass
class HammingIndex:
    """64-bit hashes searchable within ``threshold`` bits (multi-index hashing, see the module docstring)."""

    hashes: NDArray[np.uint64]
    threshold: int = NEAR_THRESHOLD
    blocks: int = 4

    def __post_init__(self) -> None:
        self.hashes = np.asarray(self.hashes, dtype=np.uint64)
        self._radius = self.threshold // self.blocks
        self._tables = []
        for block in range(self.blocks):  # per block: entries sorted by block value, bucket sizes and starts
            width = len(range(block, 64, self.blocks))
            values = self._block(self.hashes, block)
            order = np.argsort(values, kind="stable")
            counts = np.bincount(values, minlength=1 << width)
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
            self._tables.append((counts, starts, order, self.hashes[order], _block_masks(width, self._radius)))

    def _block(self, hashes: NDArray[np.uint64], block: int) -> NDArray[np.uint32]:
        """Bits ``block``, ``block + m``, ``block + 2m``... of each hash: interleaved, because neighbouring bits
        (neighbouring DCT frequencies) are correlated, and contiguous blocks would fill few buckets."""
        out = np.zeros(hashes.shape, dtype=np.uint32)
        for place, bit in enumerate(range(block, 64, self.blocks)):
            out |= ((hashes >> np.uint64(bit)) & np.uint64(1)).astype(np.uint32) << np.uint32(place)
        return out

    def search(self, queries: Iterable[int] | NDArray[np.uint64], *,
               chunk: int = 4096) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
        """(query index, index position, distance) of every pair within the threshold, each pair once."""
        queries = np.asarray(list(queries) if not isinstance(queries, np.ndarray) else queries, dtype=np.uint64)
        found: list[NDArray[np.int64]] = []
        for start in range(0, len(queries), chunk):
            part = queries[start:start + chunk]
            for block, (sizes, starts, order, ordered, masks) in enumerate(self._tables):
                keys = (self._block(part, block)[:, None] ^ masks[None, :]).ravel()
                counts = sizes[keys]
                ends = np.cumsum(counts)
                total = int(ends[-1])
                if not total:
                    continue
                # candidates of key k: ordered[starts[k] : starts[k] + counts[k]], laid end to end
                slots = np.arange(total) + np.repeat(starts[keys] - (ends - counts), counts)
                distance = np.bitwise_count(np.repeat(np.repeat(part, masks.size), counts) ^ ordered[slots])
                near = np.flatnonzero(distance <= self.threshold)  # few candidates survive: map only those back
                owners = np.searchsorted(ends, near, side="right") // masks.size + start
                found.append(owners * len(self.hashes) + order[slots[near]])
        if not found:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        pairs = np.unique(np.concatenate(found))  # a pair close on several blocks was found once per block
        query, position = pairs // len(self.hashes), pairs % len(self.hashes)
        distance = np.bitwise_count(queries[query] ^ self.hashes[position]).astype(np.int64)
        return query, position, distance
