"""Named VGRefine head/layer presets: published lists, reproduced exactly, with where they come from.

A preset is tied to one checkpoint's shape; :meth:`VGRefineOptions.check_model` refuses it on a model where a
head or layer does not exist. For any other model, choose heads with ``vgmed eval select``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vgmed_data.eval.vgrefine.options import VGRefineOptions
from vgmed_data.errors import InvalidInputError


@dataclass(frozen=True, kw_only=True)
class Preset:
    name: str
    model: str  # the checkpoint the list was chosen for
    heads: tuple[tuple[int, int], ...]
    masked_layers: tuple[int, ...]
    source: str
    notes: str = ""

    def options(self, **overrides: Any) -> VGRefineOptions:
        fields: dict[str, Any] = {"heads": self.heads, "masked_layers": self.masked_layers}
        fields.update({key: value for key, value in overrides.items() if value is not None})
        return VGRefineOptions(**fields)


HUATUOGPT_VISION_7B = Preset(
    name="huatuogpt-vision-7b",
    model="FreedomIntelligence/HuatuoGPT-Vision-7B (Qwen2-7B language model: 28 layers x 28 heads)",
    heads=((15, 4), (16, 5), (15, 1), (10, 6), (4, 0), (15, 24), (19, 6), (8, 3), (19, 18), (18, 10), (4, 17),
           (16, 2), (16, 17), (16, 1), (14, 23), (6, 18), (18, 19), (6, 11), (0, 2), (17, 26)),
    masked_layers=(16,),
    source="VGMED official code (ICLR 2026, 'How Do Medical MLLMs Fail?'), Guimeng-Leo-Liu/Medical-MLLMs-Fail @ c7263dd",
    notes="K = 20 heads ranked by KL on natural images; masked layer 16 from the layer metrics.",
)

PRESETS: dict[str, Preset] = {p.name: p for p in (HUATUOGPT_VISION_7B,)}


def preset(name: str, **overrides: Any) -> VGRefineOptions:
    """The :class:`VGRefineOptions` of preset ``name`` (``overrides``: percentile, threshold, rows...)."""
    if name not in PRESETS:
        raise InvalidInputError(f"unknown VGRefine preset {name!r}",
                                fix=f"use one of: {', '.join(sorted(PRESETS))}, or a heads.json from "
                                    "`vgmed eval select`")
    return PRESETS[name].options(**overrides)
