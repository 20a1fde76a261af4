"""VGRefine's parameters: which heads triage the image, which layers knock blocked tokens out, and the threshold.

One frozen, validated record drives the Python API, the ``vgmed eval run --method vgrefine`` flags and the
per-sample results (:meth:`VGRefineOptions.to_dict`). Definitions: docs/vgrefine.md (from the official code, Guimeng-Leo-Liu/Medical-MLLMs-Fail @ c7263dd).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from vgmed_data.eval.protocol import DEFAULT_PERCENTILE, OFFICIAL_PERCENTILE
from vgmed_data.errors import InvalidInputError

GENERAL_EPS = 1e-10  # added to the general-prompt map before dividing (official triage)

Rows = Literal["last", "question"]
ROWS: tuple[str, ...] = ("last", "question")


@dataclass(frozen=True, kw_only=True)
class VGRefineOptions:
    """Parameters of one VGRefine configuration.

    ``heads``: the K triage heads as ``(layer, head)`` pairs. ``masked_layers``: layers whose query rows after
    the image cannot attend to blocked image tokens (all heads). Blocked set: tokens whose score is under the
    ``percentile``-th percentile, or, when ``threshold`` is given, whose min-max-normalised score is under it.
    ``normalise``: divide each head's map by its layer's head-mean general-prompt map (official); ``False``
    uses the raw question maps. ``rows``: ``"last"`` (official: the answer-predicting last prompt row) or
    ``"question"`` (mean over the text rows after the image, the same rows the knockout edits).
    """

    heads: tuple[tuple[int, int], ...]
    masked_layers: tuple[int, ...]
    percentile: float = DEFAULT_PERCENTILE
    threshold: float | None = None
    normalise: bool = True
    rows: Rows = "last"

    def __post_init__(self) -> None:
        heads = tuple((int(layer), int(head)) for layer, head in self.heads)
        layers = tuple(sorted({int(layer) for layer in self.masked_layers}))
        object.__setattr__(self, "heads", heads)
        object.__setattr__(self, "masked_layers", layers)
        if not heads:
            raise InvalidInputError("VGRefine needs at least one triage head",
                                    fix="pass heads=[(layer, head), ...], a preset, or a heads.json from "
                                        "`vgmed eval select`")
        if len(set(heads)) != len(heads):
            raise InvalidInputError(f"duplicate triage heads in {list(heads)}", fix="list each (layer, head) once")
        if not layers:
            raise InvalidInputError("VGRefine needs at least one masked layer", fix="pass masked_layers=[...]")
        if any(layer < 0 or head < 0 for layer, head in heads) or layers[0] < 0:
            raise InvalidInputError("layer and head indices must be >= 0")
        if not 0.0 <= float(self.percentile) <= 100.0:
            raise InvalidInputError(f"percentile {self.percentile} is outside [0, 100]",
                                    fix=f"use {DEFAULT_PERCENTILE:g} (paper) or {OFFICIAL_PERCENTILE:g} (official code)")
        if self.threshold is not None and not 0.0 <= float(self.threshold) <= 1.0:
            raise InvalidInputError(f"min-max threshold {self.threshold} is outside [0, 1]",
                                    fix="pass a threshold t in [0, 1], or none to use the percentile")
        if self.rows not in ROWS:
            raise InvalidInputError(f"unknown rows {self.rows!r}", fix=f"use one of: {', '.join(ROWS)}")

    @property
    def triage_layers(self) -> tuple[int, ...]:
        return tuple(sorted({layer for layer, _ in self.heads}))

    @property
    def first_masked_layer(self) -> int:
        return self.masked_layers[0]

    def check_model(self, *, layers: int, heads: int) -> None:
        """Raise if a head or layer does not exist in a model with ``layers`` x ``heads``."""
        bad_heads = [pair for pair in self.heads if pair[0] >= layers or pair[1] >= heads]
        bad_layers = [layer for layer in self.masked_layers if layer >= layers]
        if bad_heads or bad_layers:
            raise InvalidInputError(
                f"VGRefine heads {bad_heads} / masked layers {bad_layers} do not exist in a model with {layers} "
                f"layers x {heads} heads",
                fix="choose heads for this model (`vgmed eval select`); presets are tied to one checkpoint")

    def to_dict(self) -> dict[str, Any]:
        return {"heads": [list(pair) for pair in self.heads], "masked_layers": list(self.masked_layers),
                "percentile": self.percentile, "threshold": self.threshold, "normalise": self.normalise,
                "rows": self.rows}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], **overrides: Any) -> VGRefineOptions:
        """From :meth:`to_dict` output or a ``heads.json`` (extra keys ignored); ``overrides`` win when not None."""
        fields = {key: data[key] for key in ("heads", "masked_layers", "percentile", "threshold", "normalise", "rows")
                  if key in data}
        fields.update({key: value for key, value in overrides.items() if value is not None})
        fields["heads"] = _pairs(fields.get("heads", ()))
        fields["masked_layers"] = tuple(int(v) for v in fields.get("masked_layers", ()))
        return cls(**fields)


def _pairs(values: Iterable[Any]) -> tuple[tuple[int, int], ...]:
    pairs = []
    for value in values:
        items = list(value)
        if len(items) != 2:
            raise InvalidInputError(f"a triage head must be [layer, head], got {value!r}")
        pairs.append((int(items[0]), int(items[1])))
    return tuple(pairs)
