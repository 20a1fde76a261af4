"""The evaluator's vocabulary: every choice an evaluation option takes, one enum each, defined once.

A leaf module (it imports nothing from the evaluator), so the run folder's records (:mod:`vgmed_data.eval.run_folder`)
hold the same enums as :class:`vgmed_data.eval.config.EvalConfig` and the CLI's ``choices``. Text becomes an enum
once, where it enters: the command line (argparse ``type=``), ``EvalConfig``'s constructor, the Hub job spec and
``run.json`` / ``samples.jsonl`` when they are read (:func:`parse_choice`). A ``StrEnum`` member is its string, so
files and fingerprints written with these enums are byte for byte those written with plain strings.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from vgmed_data.errors import InvalidInputError


class Method(StrEnum):
    """``--method``: the plain model (``baseline``), VGRefine (docs/vgrefine.md) and the interventions of
    :mod:`vgmed_data.eval.methods` (docs/methods.md), in this order."""

    BASELINE = "baseline"
    VGREFINE = "vgrefine"
    PAI = "pai"
    VCD = "vcd"
    ADAPTVIS = "adaptvis"
    BLIND = "blind"


class Task(StrEnum):
    """``--task``: attention grounding + answers, or box outputs (eval.boxes.generate)."""

    GROUNDING = "grounding"
    BOXES = "boxes"


class QueryMode(StrEnum):
    """``--query``: the attention query row: the last prompt row (official) or the mean over the question rows."""

    LAST = "last"
    QUESTION_MEAN = "question_mean"


class Dtype(StrEnum):
    """``--dtype``: the model's weights and activations."""

    FLOAT32 = "float32"
    BFLOAT16 = "bfloat16"
    FLOAT16 = "float16"


class AttentionPrompt(StrEnum):
    """``--attention-prompt``: the prompt a closed question's grounding attention is captured on."""

    OFFICIAL = "official"
    ANSWER = "answer"


class Protocol(StrEnum):
    """``--protocol``: ``default`` (the project's settings) or ``official`` (the official VGMED code's)."""

    DEFAULT = "default"
    OFFICIAL = "official"


class BoxMapping(StrEnum):
    """How stored boxes reach the model's token grid.

    ``input_scale`` (the official protocol; measure_attention.py ``convert_bbox_after_resize``): scale the box
    from the stored image size to the model input size, ignoring any padding (wrong for square-padded models
    such as HuatuoGPT-Vision; identical to ``padding_aware`` for the Qwen families, which never pad).
    ``padding_aware`` (the default protocol): through the model's real input transform, square padding and
    crops included (``metrics.boxes_to_token_mask_padding_aware``). A record's ``metrics`` (and ``gt_tokens``,
    the head metrics) use its protocol's mapping and the record says which (``box_mapping``); where the input
    transform is not a pure resize, so the two mappings differ, the other one's layer metrics are added as
    ``metrics_<other mapping>`` (``metrics_padding_aware`` under ``official``, ``metrics_input_scale`` under
    ``default``)."""

    PADDING_AWARE = "padding_aware"
    INPUT_SCALE = "input_scale"


Choice = TypeVar("Choice", bound=StrEnum)


def parse_choice(value: object, choices: type[Choice], what: str) -> Choice:
    """``value`` as a member of ``choices``: a member as it is, text matched exactly (as the files and the CLI
    write it); anything else raises :class:`InvalidInputError` naming the valid choices (the run folder's
    readers turn it into a file-format error naming the file)."""
    if isinstance(value, choices):
        return value
    try:
        return choices(str(value))
    except ValueError:
        raise InvalidInputError(f"unknown {what} {value!r}", fix=f"use one of {', '.join(choices)}") from None
