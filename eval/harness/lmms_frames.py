"""The frame each lmms-eval model feeds an image in: the resizes it applies, read from lmms-eval 0.7.3's code.

A box format on the model's input (Qwen2.5-VL's absolute pixels) is scored right only in the frame the model
actually saw; a 0-1000 or fraction format is frame-free up to rounding. ``vgmed export lmms-eval --lmms-model``
picks one of these, ``--min-pixels/--max-pixels`` mirror the user's ``--model_args`` where lmms-eval passes them
to the image resize. Lines cited from the lmms-eval 0.7.3 wheel (``lmms_eval/...``) and qwen-vl-utils 0.0.14
(``qwen_vl_utils/vision_process.py``), which lmms-eval's Qwen models call as ``process_vision_info``:

| ``--lmms-model`` | lmms-eval class it resolves to | resizes, in order | budget options |
|---|---|---|---|
| ``stored`` | any model that uses the image as given (API models, ``from_log``) | none | - |
| ``qwen2_vl`` | ``models/simple/qwen2_vl.py`` (no chat class) | ``fetch_image`` smart resize, factor 28, ``min_pixels``/``max_pixels`` from the model (defaults 3136 / 602112, lines 42-43, put on each image lines 276-296); the processor gets the same budget (line 73), which leaves the result as it is | ``min_pixels``, ``max_pixels`` |
| ``qwen2_5_vl`` | ``models/chat/qwen2_5_vl.py`` (the registry prefers the chat class, ``models/registry_v2.py`` lines 88-97) | ``fetch_image`` smart resize with qwen-vl-utils' own budget (4 to 16384 tokens of 28 x 28, ``vision_process.py`` lines 26-27; the chat messages carry no pixel keys, ``protocol.py`` line 83), then the processor's smart resize with the model's budget (``models/simple/qwen2_5_vl.py`` lines 44-45, 91: 256*28*28 to 1605632; transformers 5.25 ``models/qwen2_vl/image_processing_qwen2_vl.py`` lines 110-118 take them as its size, lines 163-169 resize) | ``min_pixels``, ``max_pixels`` (second resize) |
| ``qwen3_vl`` | ``models/chat/qwen3_vl.py`` | ``fetch_image`` smart resize, factor 32 (``image_patch_size=16``, line 69), qwen-vl-utils' own budget (4 to 16384 tokens of 32 x 32); the processor does not resize (``do_resize=False``, line 86) | none (the model's ``min_pixels``/``max_pixels`` reach only videos, simple/qwen3_vl.py lines 216-229) |

The lmms-eval Qwen models also re-encode each image as JPEG quality 85 (``models/simple/qwen2_vl.py`` lines
173-180): the pixels change, the size does not.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from vgmed_data.errors import InvalidInputError
from vgmed_data.eval.boxes.model_input import InputPolicy
from vgmed_data.geometry import Transform

_VL_UTILS_28 = InputPolicy(kind="smart_resize", factor=28, min_pixels=4 * 28 * 28, max_pixels=16384 * 28 * 28)
_VL_UTILS_32 = InputPolicy(kind="smart_resize", factor=32, min_pixels=4 * 32 * 32, max_pixels=16384 * 32 * 32)


@dataclass(frozen=True, kw_only=True)
class LmmsFrame:
    """One lmms-eval model's image path: resizes in order; ``budget_step`` is the one its model_args set."""

    model: str
    steps: tuple[InputPolicy, ...]
    source: str
    budget_step: int | None = None

    def with_pixels(self, *, min_pixels: int | None, max_pixels: int | None) -> "LmmsFrame":
        if min_pixels is None and max_pixels is None:
            return self
        if self.budget_step is None:
            raise InvalidInputError(f"lmms-eval's {self.model} does not pass min_pixels/max_pixels to its image resize",
                                    fix="drop --min-pixels/--max-pixels for this --lmms-model")
        step = self.steps[self.budget_step].with_pixels(min_pixels=min_pixels, max_pixels=max_pixels)
        if step.min_pixels > step.max_pixels:
            raise InvalidInputError(f"--min-pixels {step.min_pixels} exceeds --max-pixels {step.max_pixels}")
        steps = list(self.steps)
        steps[self.budget_step] = step
        return replace(self, steps=tuple(steps))

    def transform(self, image_size: tuple[int, int]) -> Transform:
        """Stored image of ``image_size`` (width, height) -> the input this lmms-eval model builds from it."""
        result = Transform.identity(tuple(int(v) for v in image_size))
        for step in self.steps:
            width, height = step.transform(result.dst_size).dst_size
            if (width, height) != result.dst_size:
                result = result.resize(width, height)
        return result

    def to_dict(self) -> dict[str, Any]:
        return {"lmms_model": self.model, "source": self.source,
                "resizes": [{"kind": s.kind, "factor": s.factor, "min_pixels": s.min_pixels,
                             "max_pixels": s.max_pixels} for s in self.steps]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LmmsFrame":
        steps = tuple(InputPolicy(kind=s["kind"], factor=int(s["factor"]), min_pixels=int(s["min_pixels"]),
                                  max_pixels=int(s["max_pixels"])) for s in data["resizes"])
        return cls(model=str(data["lmms_model"]), steps=steps, source=str(data["source"]))

    def describe(self) -> str:
        if not self.steps:
            return "image used as stored"
        return "; then ".join(step.describe() for step in self.steps)


FRAMES: dict[str, LmmsFrame] = {frame.model: frame for frame in (
    LmmsFrame(model="stored", steps=(), source="the image as stored (API models, from_log)"),
    LmmsFrame(model="qwen2_vl", budget_step=0,
              steps=(InputPolicy(kind="smart_resize", factor=28, min_pixels=3136, max_pixels=602112),),
              source="lmms_eval/models/simple/qwen2_vl.py lines 42-43, 73, 276-296 (lmms-eval 0.7.3)"),
    LmmsFrame(model="qwen2_5_vl", budget_step=1,
              steps=(_VL_UTILS_28,
                     InputPolicy(kind="smart_resize", factor=28, min_pixels=256 * 28 * 28, max_pixels=1605632)),
              source="lmms_eval/models/chat/qwen2_5_vl.py lines 91-110, models/simple/qwen2_5_vl.py lines 44-45, "
                     "91, protocol.py line 83 (lmms-eval 0.7.3); qwen_vl_utils/vision_process.py lines 26-27"),
    LmmsFrame(model="qwen3_vl", steps=(_VL_UTILS_32,),
              source="lmms_eval/models/chat/qwen3_vl.py lines 66-69, 86 (lmms-eval 0.7.3); "
                     "qwen_vl_utils/vision_process.py lines 26-27"),
)}

# --box-format -> the lmms-eval model whose frame is the default
DEFAULT_FRAME = {"qwen2_vl": "qwen2_vl", "qwen2_5_vl": "qwen2_5_vl", "qwen3_vl": "qwen3_vl"}


def get_frame(model: str | None, *, box_format: str, min_pixels: int | None = None,
              max_pixels: int | None = None) -> LmmsFrame:
    name = model or DEFAULT_FRAME.get(box_format, "stored")
    if name not in FRAMES:
        raise InvalidInputError(f"no frame known for lmms-eval model {name!r}",
                                fix=f"pass --lmms-model, one of {', '.join(FRAMES)}")
    return FRAMES[name].with_pixels(min_pixels=min_pixels, max_pixels=max_pixels)
