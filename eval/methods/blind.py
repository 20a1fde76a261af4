"""``blind``: the image-blind control. The same question on a constant image of the same size.

The stored image is replaced by ``Image.new("RGB", image.size, (fill, fill, fill))`` (default ``fill=128``,
mid-grey) and the prompt is answered exactly as the baseline answers (same chat template, processor, greedy
``generate``). The image tokens are still there, in the same number and layout, but carry no content: an answer
that survives the swap did not come from the image. Not an authors' method: a control (no source to cite).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from vgmed_data.eval.adapters.base import Adapter
from vgmed_data.eval.methods.base import Intervention, MethodAnswer, encode_one, greedy
from vgmed_data.errors import InvalidInputError


@dataclass(frozen=True, kw_only=True)
class BlindParams:
    fill: int = 128  # the grey level of every pixel (0-255), all three channels

    def __post_init__(self) -> None:
        if not 0 <= self.fill <= 255:
            raise InvalidInputError(f"blind.fill {self.fill} is outside 0..255", fix="use a grey level 0-255")


def constant_image(image: Image.Image, *, fill: int) -> Image.Image:
    """An RGB image of ``image``'s size with every pixel ``(fill, fill, fill)``."""
    return Image.new("RGB", image.size, (fill, fill, fill))


class Blind(Intervention):
    name = "blind"
    Params = BlindParams

    def answer(self, adapter: Adapter, image: Image.Image, user_text: str, *, max_new_tokens: int,
               capture_layers: Sequence[int] = (), sample_id: str = "") -> MethodAnswer:
        encoded = encode_one(adapter, constant_image(image, fill=self.params.fill), user_text, sample_id=sample_id)
        tokens, text, scores = greedy(adapter, encoded, max_new_tokens=max_new_tokens)
        return MethodAnswer(tokens=tokens, text=text, first_scores=scores)
