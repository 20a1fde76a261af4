"""The row rules of each configuration, as ``vgmed validate`` applies them to stored rows (the sample dataclasses
of :mod:`vgmed_data.schema` apply the same rules when a row is made). Each rule adds every problem it finds
through ``add`` and does not stop at the first; the configuration's :class:`~vgmed_data.configs.DatasetConfig`
names its rule."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PIL import Image

from vgmed_data.errors import FileFormatError, GeometryError
from vgmed_data.geometry.boxes import validate_boxes
from vgmed_data.imaging.decode import decode_bytes
from vgmed_data.schema import IMAGE_ORIGINS, QUESTION_TYPES, SEQUENCE_TASKS

Add = Callable[[str], None]


@dataclass(frozen=True)
class Decoding:
    """How a rule opens a row's images: ``full`` decodes every pixel (else the header only: size and format);
    ``seen`` gets each opened image with what it is (``"image"``, ``"mask"``, ``"image 0"``...), so the folder
    writer fingerprints the images the checks decoded instead of decoding them again."""

    full: bool = True
    seen: Callable[[str, Image.Image], None] | None = None


RowCheck = Callable[[dict[str, Any], Add, Decoding], None]  # (row, add, how images are opened)


def image_size(cell: dict[str, Any] | None, *, what: str, add: Add, decode: Decoding) -> tuple[int, int] | None:
    """The size of an embedded image, or None (no bytes, or undecodable: then the problem is added)."""
    if not cell or not cell.get("bytes"):
        return None
    try:
        with decode_bytes(cell["bytes"], what=what, decode=decode.full) as image:
            if decode.seen is not None:
                decode.seen(what, image)
            size: tuple[int, int] = image.size
            return size
    except FileFormatError as error:
        add(error.message)
        return None


def check_choice(value: object, allowed: tuple[str, ...], name: str, add: Add) -> None:
    if value not in allowed:
        add(f"{name} {value!r} is not one of {', '.join(allowed)}")


def _size(row: dict[str, Any], add: Add) -> tuple[int, int] | None:
    width, height = row.get("width"), row.get("height")
    if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
        add(f"width/height {width!r}x{height!r} are not positive whole numbers")
        return None
    return width, height


def check_grounding_row(row: dict[str, Any], add: Add, decode: Decoding) -> None:
    """A ``vgmed`` row: the image (and mask) match width/height, boxes lie inside, one label per box, the answer
    is among the options."""
    size = _size(row, add)
    actual = image_size(row["image"], what="image", add=add, decode=decode)
    if actual is not None and size is not None and actual != size:
        add(f"image is {actual[0]}x{actual[1]} but width/height say {size[0]}x{size[1]}")
    if row["image"] and row["image"].get("path") and not row["image"].get("bytes"):
        add(f"image is stored as a path ({row['image']['path']}), not embedded bytes")
    mask_size = image_size(row["mask"], what="mask", add=add, decode=decode)
    if mask_size is not None and size is not None and mask_size != size:
        add(f"mask is {mask_size[0]}x{mask_size[1]} but the image is {size[0]}x{size[1]}")
    if size is not None:
        try:
            validate_boxes(row["boxes"] or [], image_size=size)
        except GeometryError as error:
            add(error.message)
    if len(row["boxes"] or []) != len(row["box_labels"] or []):
        add(f"{len(row['boxes'] or [])} boxes but {len(row['box_labels'] or [])} box labels")
    check_choice(row["question_type"], QUESTION_TYPES, "question_type", add)
    check_choice(row["image_origin"], IMAGE_ORIGINS, "image_origin", add)
    if row["options"] and row["answer"] not in row["options"]:
        add(f"answer {row['answer']!r} is not among the options")


def check_sequence_row(row: dict[str, Any], add: Add, decode: Decoding) -> None:
    """A ``sequences`` row: one size and one provenance entry per image, sizes match the images, the answer
    (and reference) box lies inside the image it names."""
    raw_sizes = row["image_sizes"] or []
    if any(size is None for size in raw_sizes):
        add("image_sizes has a null entry")
    sizes = [tuple(size) for size in raw_sizes if size is not None]
    images = row["images"] or []
    if len(sizes) != len(images):
        add(f"{len(images)} images but {len(sizes)} image sizes")
    if len(row["image_provenance"] or []) != len(images):
        add(f"{len(images)} images but {len(row['image_provenance'] or [])} image_provenance entries")
    for index, cell in enumerate(images):
        actual = image_size(cell, what=f"image {index}", add=add, decode=decode)
        if actual is not None and index < len(sizes) and actual != sizes[index]:
            add(f"image {index} is {actual} but image_sizes says {sizes[index]}")
    check_choice(row["task"], SEQUENCE_TASKS, "task", add)
    for prefix in ("answer", "reference"):
        index, box = row[f"{prefix}_image_index"], row[f"{prefix}_box"]
        if prefix == "reference" and index is None and box is None:
            continue
        if index is None or box is None or not 0 <= index < len(sizes):
            add(f"{prefix}_image_index {index} is missing or out of range for {len(sizes)} images")
            continue
        try:
            validate_boxes([box], image_size=sizes[index])
        except GeometryError as error:
            add(f"{prefix}_box: {error.message}")
