"""Named box output formats, one per model family: how a model writes a box and on which frame.

| name          | family             | syntax (strict, in order)                        | numbers                      | input transform          |
|---------------|--------------------|--------------------------------------------------|------------------------------|--------------------------|
| ``qwen2_vl``  | Qwen2-VL           | ``<|box_start|>(x1,y1),(x2,y2)<|box_end|>``, ``(x1,y1),(x2,y2)`` | ``xyxy_1000`` of the input | smart resize (28)  |
| ``qwen2_5_vl``| Qwen2.5-VL         | JSON ``bbox_2d``, ``[x1, y1, x2, y2]``            | absolute pixels of the input | smart resize (28)        |
| ``qwen3_vl``  | Qwen3-VL           | JSON ``bbox_2d``, ``[x1, y1, x2, y2]``            | ``xyxy_1000`` of the input   | smart resize (32)        |
| ``llava``     | LLaVA-1.5          | ``[x1, y1, x2, y2]``                              | ``xyxy_norm`` of the input   | pad to square, 336       |
| ``llava_next``| LLaVA-NeXT         | ``[x1, y1, x2, y2]``                              | ``xyxy_norm`` of the image   | identity (see note)      |
| ``gemini``    | Gemini             | JSON ``box_2d``, ``[ymin, xmin, ymax, xmax]``     | ``yxyx_1000`` of the image   | identity                 |
| ``pixel_xyxy``| any (API models, MedSG-Bench) | ``[x1, y1, x2, y2]``, ``(x1,y1),(x2,y2)``, box tokens | pixels of the stored image | identity       |

``0-1000`` grids are relative to the input the model saw; a plain resize of the whole image keeps relative
coordinates, a padding does not, which is why every format converts through its input transform. LLaVA-NeXT's
any-resolution tiling keeps the whole image's frame for its relative coordinates; that choice is an assumption
of this table (no reference states it), so the format is named separately and can be corrected in one place.

Registering a format checks for name collisions; an unknown name lists the registered ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from vgmed_data.eval.boxes.model_input import InputPolicy
from vgmed_data.eval.boxes.parsing import ParsedOutput, parse_output
from vgmed_data.errors import InvalidInputError
from vgmed_data.geometry import BoxFormat, Transform, convert_boxes


@dataclass(frozen=True, kw_only=True)
class OutputFormat:
    """One family's box convention: strict syntaxes, the numbers' convention, the family's input transform."""

    name: str
    family: str
    numbers: BoxFormat
    syntaxes: tuple[str, ...]
    policy: InputPolicy
    json_key: str | None = None

    def __post_init__(self) -> None:
        if not self.name or not self.syntaxes:
            raise InvalidInputError("an output format needs a name and at least one syntax")
        if "json" in self.syntaxes and not self.json_key:
            raise InvalidInputError(f"format {self.name!r} lists the json syntax but no json_key")

    def parse(self, text: str) -> ParsedOutput:
        return parse_output(text, syntaxes=self.syntaxes, json_key=self.json_key, convention=self.numbers.value)

    def to_stored(self, numbers: Sequence[float], *, transform: Transform) -> NDArray[np.float64]:
        """One box as written -> internal xyxy on the stored image, through ``transform`` (stored -> input).

        Inverted or zero-area boxes are returned as they are (scoring gives them IoU 0)."""
        on_input: NDArray[np.float64] = np.asarray(numbers, dtype=np.float64).reshape(1, 4)
        if self.numbers is not BoxFormat.INPUT_XYXY:
            on_input = convert_boxes(on_input, src=self.numbers, dst=BoxFormat.XYXY, image_size=transform.dst_size)
        return convert_boxes(on_input, src=BoxFormat.INPUT_XYXY, dst=BoxFormat.XYXY,
                             image_size=transform.src_size, transform=transform)[0]

    def from_stored(self, box: Sequence[float], *, transform: Transform) -> NDArray[np.float64]:
        """Internal xyxy on the stored image -> this format's numbers on the model input (for prompts)."""
        on_input = convert_boxes(box, src=BoxFormat.XYXY, dst=BoxFormat.INPUT_XYXY, image_size=transform.src_size,
                                 transform=transform)
        if self.numbers is BoxFormat.INPUT_XYXY:
            return on_input[0]
        return convert_boxes(on_input, src=BoxFormat.XYXY, dst=self.numbers, image_size=transform.dst_size)[0]


class OutputFormatName(StrEnum):
    """The built-in output formats (``vgmed eval score --format``); more can be added with :func:`register_format`."""

    QWEN2_VL = "qwen2_vl"
    QWEN2_5_VL = "qwen2_5_vl"
    QWEN3_VL = "qwen3_vl"
    LLAVA = "llava"
    LLAVA_NEXT = "llava_next"
    GEMINI = "gemini"
    PIXEL_XYXY = "pixel_xyxy"


FORMATS: dict[str, OutputFormat] = {}


def register_format(fmt: OutputFormat) -> OutputFormat:
    if fmt.name in FORMATS:
        raise InvalidInputError(f"output format {fmt.name!r} is already registered", fix="pick another name")
    FORMATS[fmt.name] = fmt
    return fmt


def get_format(name: str) -> OutputFormat:
    if name not in FORMATS:
        raise InvalidInputError(f"unknown output format {name!r}", fix=f"use one of: {', '.join(sorted(FORMATS))}")
    return FORMATS[name]


# Pixel budgets as `vgmed eval run` sets them (256 * patch area), not the checkpoints' 16384 * 28 * 28; pass
# --max-pixels to `vgmed eval score` for runs made with another budget.
_QWEN2 = InputPolicy(kind="smart_resize", factor=28, min_pixels=56 * 56, max_pixels=256 * 28 * 28)
_QWEN3 = InputPolicy(kind="smart_resize", factor=32, min_pixels=64 * 64, max_pixels=256 * 32 * 32)
_IDENTITY = InputPolicy(kind="identity")

register_format(OutputFormat(
    name=OutputFormatName.QWEN2_VL.value, family="qwen2_vl", numbers=BoxFormat.XYXY_1000, syntaxes=("box_tokens", "point_pairs"),
    policy=_QWEN2))
register_format(OutputFormat(
    name=OutputFormatName.QWEN2_5_VL.value, family="qwen2_5_vl", numbers=BoxFormat.INPUT_XYXY, syntaxes=("json", "list4"),
    json_key="bbox_2d", policy=_QWEN2))
register_format(OutputFormat(
    name=OutputFormatName.QWEN3_VL.value, family="qwen3_vl", numbers=BoxFormat.XYXY_1000, syntaxes=("json", "list4"),
    json_key="bbox_2d", policy=_QWEN3))
register_format(OutputFormat(
    name=OutputFormatName.LLAVA.value, family="llava", numbers=BoxFormat.XYXY_NORM, syntaxes=("list4",),
    policy=InputPolicy(kind="square_resize", size=336)))
register_format(OutputFormat(
    name=OutputFormatName.LLAVA_NEXT.value, family="llava_next", numbers=BoxFormat.XYXY_NORM, syntaxes=("list4",), policy=_IDENTITY))
register_format(OutputFormat(
    name=OutputFormatName.GEMINI.value, family="gemini", numbers=BoxFormat.YXYX_1000, syntaxes=("json", "list4"), json_key="box_2d",
    policy=_IDENTITY))
register_format(OutputFormat(
    name=OutputFormatName.PIXEL_XYXY.value, family="any", numbers=BoxFormat.XYXY, syntaxes=("list4", "box_tokens", "point_pairs"),
    policy=_IDENTITY))
