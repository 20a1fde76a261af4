"""A model family's facts, in one registered descriptor.

Every fact the evaluator needs about a family lives in its :class:`Family`, attached to its adapter class
(``descriptor = Family(...)``) and registered with it (:func:`vgmed_data.eval.adapters.registry.register`):

* detection: the ``model_type`` values of a checkpoint's ``config.json`` it handles;
* the box convention it speaks in text, and the output format ``--task boxes`` parses (or none);
* its pixel budget (Qwen-style processors) and its input rule (a pure resize, square padding or a crop: where it
  is not a pure resize, the official box mapping and the true cells differ);
* its one-turn prompt template (used when a checkpoint ships no chat template);
* the official VGMED code path whose settings ``--protocol official`` applies to it;
* the writer of its tiny random-weight checkpoint (``vgmed eval tiny NAME``), and the published checkpoints that
  load through it, each with the Hub commit its layout was read at and a writer of a tiny checkpoint in that
  published layout.

Nothing else in the package names a family: the protocol, the box task, ``vgmed eval tiny`` and the tests read
these fields. A new family is one adapter module holding its descriptor, plus its tests (docs/architecture.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from vgmed_data.errors import InvalidInputError
from vgmed_data.geometry import BoxFormat


class InputRule(StrEnum):
    """How the stored image becomes the pixels the image-token grid tiles."""

    RESIZE = "resize"  # a pure resize (aspect ratio kept or not): both box mappings give the same cells
    PAD = "pad"  # padded to a square, then resized (LLaVA expand2square)
    CROP = "crop"  # resized and centre-cropped (or padded, where the processor says so)


class OfficialRoute(StrEnum):
    """The official VGMED code's two model paths (``eval.protocol.OfficialPath``; its docs say which code)."""

    QWEN = "qwen"
    HUATUO = "huatuo"


@dataclass(frozen=True, kw_only=True)
class Checkpoint:
    """A published checkpoint that loads through a family.

    ``name``: what ``vgmed eval tiny NAME`` takes. ``repo``/``commit``: where its files were read (the Hub
    commit), ``files``: the files whose layout the tiny writer reproduces. ``tiny``: ``"module:function"``
    writing a tiny random-weight checkpoint in that published layout into a folder. ``unconfirmed``: facts the
    writer assumes that no copy of the files confirmed (said in the docs and the closing note).

    ``detect``: ``(dotted config key, value)`` pairs a checkpoint's ``config.json`` must all hold for it to load
    as this checkpoint (``load_adapter`` picks the first match within the family the ``model_type`` named).
    ``template``: the one-turn prompt (``{image}``, ``{text}``) its authors publish; it replaces both the family's
    template and any chat template the files carry."""

    name: str
    repo: str
    commit: str
    tiny: str
    files: tuple[str, ...] = ()
    unconfirmed: str = ""
    detect: tuple[tuple[str, object], ...] = ()
    template: str = ""

    def matches(self, config: dict[str, object]) -> bool:
        """True when ``config`` (a parsed ``config.json``) holds every ``detect`` pair (never without pairs)."""
        return bool(self.detect) and all(_dotted(config, key) == value for key, value in self.detect)


def _dotted(config: dict[str, object], key: str) -> object:
    value: object = config
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


@dataclass(frozen=True, kw_only=True)
class Family:
    """One model family (see the module docs). ``template``: one user turn with ``{image}`` and ``{text}``."""

    name: str
    model_types: tuple[str, ...]
    box_format: BoxFormat
    template: str
    input_rule: InputRule
    official_route: OfficialRoute
    tiny: str  # "module:function" writing the family's tiny checkpoint
    max_pixels: int | None = None
    min_pixels: int | None = None
    output_format: str | None = None  # eval.boxes.formats name for --task boxes
    checkpoints: tuple[Checkpoint, ...] = ()

    def __post_init__(self) -> None:
        if not self.name or not self.model_types:
            raise InvalidInputError("a model family needs a name and at least one model type")
        if "{text}" not in self.template or "{image}" not in self.template:
            raise InvalidInputError(f"family {self.name!r}: the template needs {{image}} and {{text}}")
        for target in (self.tiny, *(c.tiny for c in self.checkpoints)):
            if ":" not in target:
                raise InvalidInputError(f"family {self.name!r}: tiny writer {target!r} is not 'module:function'")
        for checkpoint in self.checkpoints:
            if checkpoint.template and not all(k in checkpoint.template for k in ("{text}", "{image}")):
                raise InvalidInputError(f"checkpoint {checkpoint.name!r}: the template needs {{image}} and {{text}}")

    def checkpoint_for(self, config: dict[str, object]) -> Checkpoint | None:
        """The published checkpoint whose detection rule ``config`` (a parsed ``config.json``) meets, if any."""
        return next((c for c in self.checkpoints if c.matches(config)), None)

    @property
    def pure_resize(self) -> bool:
        """True where both box mappings give the same cells whatever the image."""
        return self.input_rule is InputRule.RESIZE
