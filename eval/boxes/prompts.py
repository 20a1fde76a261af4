"""Box prompts per output format: the question (with its reference box re-expressed in the model's own
convention) followed by the answer instruction. Snapshot-tested (tests/boxes/snapshots/prompts.json): a change
here moves every score, so it must show up in review.

Images are referred to as "Image 1", "Image 2"...; where the image tokens go is the model adapter's business.
A ``sequences`` question written by our builders contains its reference box as
``box_text(reference_box, fmt="xyxy")`` followed by ``(pixel x1, y1, x2, y2)``; that phrase is replaced by the
same box in the format's convention on the model's input. A question without that phrase (e.g. imported from
MedSG-Bench) is left as written, and :func:`box_prompt` says so in its second return value.
"""

from __future__ import annotations

from collections.abc import Sequence

from vgmed_data.eval.boxes.formats import OutputFormat, get_format
from vgmed_data.geometry import BoxFormat, Transform, reference_phrase
from vgmed_data.geometry.boxes import PIXEL_XYXY_NAME

PIXEL_NAME = PIXEL_XYXY_NAME

# format -> (convention phrase for a reference box, instruction for multi-image, instruction for one image)
INSTRUCTIONS: dict[str, tuple[str, str, str]] = {
    "qwen2_vl": (
        "x1, y1, x2, y2 on a 0-1000 grid",
        "Answer with the image number and the box, as: Image N <|box_start|>(x1,y1),(x2,y2)<|box_end|> with "
        "coordinates on a 0-1000 grid of that image.",
        "Answer with the box as <|box_start|>(x1,y1),(x2,y2)<|box_end|> with coordinates on a 0-1000 grid."),
    "qwen2_5_vl": (
        "absolute pixels x1, y1, x2, y2",
        'Answer in JSON as {"image": N, "bbox_2d": [x1, y1, x2, y2]} with absolute pixel coordinates in that '
        "image.",
        'Answer in JSON as {"bbox_2d": [x1, y1, x2, y2]} with absolute pixel coordinates.'),
    "qwen3_vl": (
        "x1, y1, x2, y2 on a 0-1000 grid",
        'Answer in JSON as {"image": N, "bbox_2d": [x1, y1, x2, y2]} with coordinates on a 0-1000 grid of that '
        "image.",
        'Answer in JSON as {"bbox_2d": [x1, y1, x2, y2]} with coordinates on a 0-1000 grid.'),
    "llava": (
        "x1, y1, x2, y2 as fractions of width and height",
        "Answer with the image number and the box, as: Image N [x1, y1, x2, y2] with coordinates between 0 and 1.",
        "Answer with the box as [x1, y1, x2, y2] with coordinates between 0 and 1."),
    "llava_next": (
        "x1, y1, x2, y2 as fractions of width and height",
        "Answer with the image number and the box, as: Image N [x1, y1, x2, y2] with coordinates between 0 and 1.",
        "Answer with the box as [x1, y1, x2, y2] with coordinates between 0 and 1."),
    "gemini": (
        "ymin, xmin, ymax, xmax normalised to 0-1000",
        'Answer in JSON as {"image": N, "box_2d": [ymin, xmin, ymax, xmax]} normalised to 0-1000.',
        'Answer in JSON as {"box_2d": [ymin, xmin, ymax, xmax]} normalised to 0-1000.'),
    "pixel_xyxy": (
        PIXEL_NAME,
        "Answer with the image number and the box, as: Image N [x1, y1, x2, y2] in pixel coordinates of that "
        "image (origin at the top-left corner).",
        "Answer with the box as [x1, y1, x2, y2] in pixel coordinates (origin at the top-left corner)."),
}


def _reexpress(box: Sequence[float], fmt: OutputFormat, transform: Transform) -> str:
    numbers = fmt.from_stored(box, transform=transform)
    if fmt.numbers in (BoxFormat.XYXY_1000, BoxFormat.YXYX_1000):
        text = "[" + ", ".join(f"{int(round(v))}" for v in numbers) + "]"
    elif fmt.numbers is BoxFormat.XYXY_NORM:
        text = "[" + ", ".join(f"{v:.3f}" for v in numbers) + "]"
    else:
        text = "[" + ", ".join(f"{round(float(v), 2):g}" for v in numbers) + "]"
    return f"{text} ({INSTRUCTIONS[fmt.name][0]})"


def box_prompt(*, question: str, fmt: str, image_sizes: Sequence[tuple[int, int]],
               reference_box: Sequence[float] | None = None, reference_image_index: int | None = None,
               transforms: Sequence[Transform] | None = None) -> tuple[str, bool]:
    """(prompt text, whether the reference box was re-expressed) for one sample and one output format."""
    output_format = get_format(fmt)
    text = question
    rewritten = False
    if reference_box is not None and reference_image_index is not None:
        size = image_sizes[reference_image_index]
        phrase = reference_phrase(reference_box, image_size=size)
        if phrase in text:
            transform = (transforms[reference_image_index] if transforms is not None
                         else output_format.policy.transform(size))
            text = text.replace(phrase, _reexpress(reference_box, output_format, transform))
            rewritten = True
    _, multi, single = INSTRUCTIONS[output_format.name]
    return f"{text}\n{multi if len(image_sizes) > 1 else single}", rewritten


def target_prompt(*, target: str, fmt: str) -> str:
    """The prompt for a ``vgmed`` sample: ask for the named target's box in the one image."""
    return f"Locate the {target} in the image.\n{INSTRUCTIONS[get_format(fmt).name][2]}"
