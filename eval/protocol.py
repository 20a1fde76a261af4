"""Which protocol a run follows: the project's defaults, or the official VGMED code's settings, per family.

``Protocol.DEFAULT`` is what ``vgmed eval run`` / ``vgmed eval select`` do unless told otherwise;
``Protocol.OFFICIAL`` sets every measurement and VGRefine setting to the value the official VGMED code uses
(repository Guimeng-Leo-Liu/Medical-MLLMs-Fail at commit c7263dd, files ``measure_attention.py``, ``measure_attention_head.py``,
``eval_utils.py``, ``cli_new.py``). One lookup answers every question:

    >>> from vgmed_data.eval.protocol import Protocol, protocol_settings
    >>> s = protocol_settings(Protocol.OFFICIAL, "qwen2_5_vl")
    >>> s.measure_pixels.max_pixels, s.percentile, s.clip_boxes
    (50176, 80.0, True)

The official code has two model paths (``eval_utils.VGRefine``): the Qwen path (``qwen2_5vl``, ``qwen3vl``;
``measure_attention.infer_model_type`` also sends ``qwen2`` checkpoints there) and the HuatuoGPT-Vision bot
(``cli_new.HuatuoChatbot``, a LLaVA architecture; ``VGRefine`` sends ``backend="llava"`` there too). Each family
here maps to one of them (its descriptor's ``official_route``, :func:`official_path`). Settings the official code does not have (metrics it never
computes, families it never ran) keep the project's values under both protocols.

Settings that are NOT protocol choices because the project already follows the official code: the prompts of
the measurement passes, the query row (last prompt row), the per-layer and per-head normalisation of the
metrics (``metrics.grounding_metrics``), the triage rule and the knockout rows. The project's options that
depart from them (``--query question_mean``, ``--attention-prompt answer``) and the flags the official protocol
sets (:func:`refuse_fixed_flags`) are refused under ``official`` (``eval.config.EvalConfig``, ``eval.cli``).
The model dtype is not set by the protocol (the official code runs bfloat16; docs/evaluation.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from vgmed_data.errors import InvalidInputError
from vgmed_data.eval.adapters.family import OfficialRoute
from vgmed_data.eval.choices import BoxMapping, Protocol

if TYPE_CHECKING:
    from vgmed_data.eval.adapters.base import AdapterOptions

OFFICIAL_REPO = "Guimeng-Leo-Liu/Medical-MLLMs-Fail"


# The two model paths of the official code: ``qwen`` (measure_attention.load_backend (qwen2_5vl/qwen3vl),
# eval_utils.qwen3_vl_inference) and ``huatuo`` (cli_new.HuatuoChatbot (LLaVA architecture),
# eval_utils.attention_*_huatuo). Each family's descriptor names its route.
OfficialPath = OfficialRoute


class GenerationSource(StrEnum):
    """Which decoding settings answer generation uses.

    ``greedy``: ``do_sample=False, num_beams=1`` passed explicitly (sampling settings of the checkpoint off).
    ``checkpoint``: only the lengths are passed; everything else comes from the checkpoint's
    ``generation_config.json`` (official Qwen path: ``model.generate(**inputs, max_new_tokens=64)``)."""

    GREEDY = "greedy"
    CHECKPOINT = "checkpoint"


@dataclass(frozen=True, kw_only=True)
class PixelBudget:
    """A Qwen-style processor pixel budget. ``None``: the family's documented default
    (``Adapter.default_max_pixels``); ``0``: keep what the checkpoint's processor config says."""

    max_pixels: int | None = None
    min_pixels: int | None = None

    def to_dict(self) -> dict[str, int | None]:
        return {"max_pixels": self.max_pixels, "min_pixels": self.min_pixels}


DEFAULT_PERCENTILE = 50.0  # the paper's ablation favours p = 50
OFFICIAL_PERCENTILE = 80.0  # eval_utils.VGRefine(percentile=80)

CHECKPOINT_PIXELS = PixelBudget(max_pixels=0, min_pixels=0)
OFFICIAL_MEASURE_PIXELS = PixelBudget(max_pixels=50176, min_pixels=784)  # measure_attention.load_backend


@dataclass(frozen=True, kw_only=True)
class ProtocolSettings:
    """Every setting a protocol fixes, for one model family.

    ``measure_pixels``: processor pixel budget of the grounding-metric passes (question, attention and general
    prompts). ``measure_pre_resize``: those passes first resize the image as ``qwen_vl_utils.process_vision_info``
    does (the official measurement scripts call it; the processor's budget then applies to that image; the
    answer paths hand the processor the image itself). ``answer_pixels``: pixel budget of the passes that answer: the baseline answer and all of
    VGRefine's passes (triage, knockout, decoding); when it differs from ``measure_pixels`` the baseline answer
    gets its own generating pass. ``answer_suffix``: append
    ``" Answer the question using a single word or phrase."`` to closed (lettered) answer prompts, as
    ``eval_utils.VGRefine`` does to any text it is given. ``max_new_tokens``/``min_new_tokens``: ``None`` keeps
    the run's ``--max-new-tokens`` (and no minimum). ``generation``: :class:`GenerationSource`.
    ``percentile``: VGRefine's default percentile. ``clip_boxes``: boxes reaching outside the image are clipped
    (official ``get_tokens_covering_bbox`` clamps the cell range) instead of refused. ``sources``: setting ->
    where its official value comes from (file and function), for the docs and ``run.json``.
    """

    protocol: Protocol
    family: str
    path: OfficialPath | None
    measure_pixels: PixelBudget
    measure_pre_resize: bool
    answer_pixels: PixelBudget
    answer_suffix: bool
    max_new_tokens: int | None
    min_new_tokens: int | None
    generation: GenerationSource
    percentile: float
    clip_boxes: bool
    box_mapping: BoxMapping
    sources: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """What ``run.json``, every record and the summary carry about the protocol."""
        return {"protocol": self.protocol.value, "family": self.family,
                "official_path": self.path.value if self.path else None,
                "measure_pixels": self.measure_pixels.to_dict(), "measure_pre_resize": self.measure_pre_resize,
                "answer_pixels": self.answer_pixels.to_dict(),
                "answer_suffix": self.answer_suffix, "max_new_tokens": self.max_new_tokens,
                "min_new_tokens": self.min_new_tokens, "generation": self.generation.value,
                "percentile": self.percentile, "clip_boxes": self.clip_boxes, "box_mapping": self.box_mapping.value}


_SOURCES_COMMON = {
    "percentile": "eval_utils.py VGRefine(percentile=80)",
    "clip_boxes": "measure_attention.py get_tokens_covering_bbox (cell range clamped to the grid)",
    "answer_suffix": "eval_utils.py VGRefine (prompt = f'{text} Answer the question using a single word or phrase.')",
}
_SOURCES = {
    OfficialPath.QWEN: {
        **_SOURCES_COMMON,
        "measure_pixels": "measure_attention.py load_backend (processor.image_processor.max_pixels = 50176, "
                          "min_pixels = 784)",
        "measure_pre_resize": "measure_attention.py process_input_image_and_qs_qwen (qwen_vl_utils."
                              "process_vision_info before the processor)",
        "answer_pixels": "eval_utils.py qwen3_vl_inference / VGRefine (the caller's processor: checkpoint "
                         "defaults)",
        "generation": "eval_utils.py qwen3_vl_inference (model.generate(**inputs, max_new_tokens=64): the "
                      "checkpoint's generation config)",
        "box_mapping": "measure_attention.py convert_bbox_after_resize (scale to the input size; Qwen never pads)",
    },
    OfficialPath.HUATUO: {
        **_SOURCES_COMMON,
        "measure_pixels": "cli_new.py HuatuoChatbot.get_image_tensors (fixed 336x336 input; no pixel budget)",
        "answer_pixels": "cli_new.py HuatuoChatbot.get_image_tensors (fixed 336x336 input; no pixel budget)",
        "generation": "cli_new.py HuatuoChatbot.gen_kwargs (do_sample=False, max_new_tokens=1, min_new_tokens=1)",
        "box_mapping": "measure_attention.py convert_bbox_after_resize with HUATUO_SIZE (square padding ignored)",
    },
}


PROTOCOL_BOX_MAPPING: dict[Protocol, BoxMapping] = {Protocol.DEFAULT: BoxMapping.PADDING_AWARE,
                                                   Protocol.OFFICIAL: BoxMapping.INPUT_SCALE}


def box_mapping(protocol: Protocol) -> BoxMapping:
    """The box mapping of ``protocol`` (the same for every family; :class:`BoxMapping`)."""
    return PROTOCOL_BOX_MAPPING[protocol]


def mappings_agree(family: str) -> bool:
    """True where both box mappings give the same cells whatever the image: the family's input is a pure resize
    (its descriptor's ``input_rule``: the Qwen families' smart resize, Gemma 3's fixed square). LLaVA pads or
    crops, LLaVA-NeXT crops its base view, HuatuoGPT-Vision pads to square."""
    from vgmed_data.eval.adapters import descriptor, registered_families

    return family in registered_families() and descriptor(family).pure_resize


def official_path(family: str) -> OfficialPath:
    """The official code path a family follows (its descriptor's ``official_route``: the Qwen path, or the
    HuatuoGPT-Vision bot for LLaVA-architecture families, which ``eval_utils.VGRefine`` treats as "huatuo");
    an unknown family raises with the known ones."""
    from vgmed_data.eval.adapters import descriptor, registered_families

    known = registered_families()
    if family not in known:
        raise InvalidInputError(f"the official protocol has no setting for the model family {family!r}",
                                fix=f"use --protocol default, or register the family's descriptor "
                                    f"(eval/adapters; known: {', '.join(known)})")
    return descriptor(family).official_route


def protocol_settings(protocol: Protocol, family: str) -> ProtocolSettings:
    """The settings of ``protocol`` for the model ``family`` (an adapter's ``family`` name); a run resolves
    them once (:class:`vgmed_data.eval.plan.RunPlan`)."""
    if protocol is Protocol.DEFAULT:
        return ProtocolSettings(
            protocol=protocol, family=family, path=None, measure_pixels=PixelBudget(), measure_pre_resize=False,
            answer_pixels=PixelBudget(), answer_suffix=False, max_new_tokens=None, min_new_tokens=None,
            generation=GenerationSource.GREEDY, percentile=DEFAULT_PERCENTILE, clip_boxes=False,
            box_mapping=box_mapping(protocol))
    path = official_path(family)
    if path is OfficialPath.QWEN:
        return ProtocolSettings(
            protocol=protocol, family=family, path=path, measure_pixels=OFFICIAL_MEASURE_PIXELS,
            measure_pre_resize=True, answer_pixels=CHECKPOINT_PIXELS, answer_suffix=True, max_new_tokens=64,
            min_new_tokens=None,
            generation=GenerationSource.CHECKPOINT, percentile=OFFICIAL_PERCENTILE, clip_boxes=True,
            box_mapping=box_mapping(protocol), sources=_SOURCES[path])
    return ProtocolSettings(
        protocol=protocol, family=family, path=path, measure_pixels=CHECKPOINT_PIXELS, measure_pre_resize=False,
        answer_pixels=CHECKPOINT_PIXELS, answer_suffix=True, max_new_tokens=1, min_new_tokens=1,
        generation=GenerationSource.GREEDY, percentile=OFFICIAL_PERCENTILE, clip_boxes=True,
        box_mapping=box_mapping(protocol), sources=_SOURCES[path])


def parse_protocol(value: Protocol | str) -> Protocol:
    """``"official"``/``"default"`` (any case) -> :class:`Protocol`; anything else raises with the choices
    (for callers of the API; the CLI and ``run.json`` use :func:`vgmed_data.eval.choices.parse_choice`)."""
    if isinstance(value, Protocol):
        return value
    try:
        return Protocol(str(value).strip().lower())
    except ValueError:
        raise InvalidInputError(f"unknown protocol {value!r}",
                                fix=f"use one of: {', '.join(p.value for p in Protocol)}") from None


def adapter_options(settings: ProtocolSettings, *, answers: bool, max_pixels: int | None = None,
                    min_pixels: int | None = None, max_new_tokens: int = 16) -> AdapterOptions:
    """The adapter options of the measurement passes (``answers=False``) or of the answering passes (baseline
    answer, VGRefine) under ``settings``. ``max_pixels``/``min_pixels``/``max_new_tokens``: the run's flags,
    used under the default protocol (the official one fixes them; the CLI refuses them there)."""
    from vgmed_data.eval.adapters.base import AdapterOptions

    if settings.protocol is Protocol.DEFAULT:
        return AdapterOptions(max_pixels=max_pixels, min_pixels=min_pixels, max_new_tokens=max_new_tokens)
    budget = settings.answer_pixels if answers else settings.measure_pixels
    return AdapterOptions(max_pixels=budget.max_pixels, min_pixels=budget.min_pixels,
                          pre_resize=settings.measure_pre_resize and not answers,
                          max_new_tokens=settings.max_new_tokens or max_new_tokens,
                          min_new_tokens=settings.min_new_tokens,
                          checkpoint_generation=settings.generation is GenerationSource.CHECKPOINT)


def answer_prompt(question: str, options: Sequence[str], settings: ProtocolSettings) -> str:
    """The user text an answer is generated from: ``question_prompt`` (official text for open questions,
    lettered options for closed ones); with ``answer_suffix`` (official) a closed prompt also ends with
    " Answer the question using a single word or phrase.", since ``eval_utils.VGRefine`` appends it to whatever
    text it is given (an open prompt already ends with it)."""
    from vgmed_data.eval.adapters.base import SHORT_ANSWER, question_prompt

    text = question_prompt(question, options)
    return f"{text} {SHORT_ANSWER}" if settings.answer_suffix and options else text


def refuse_fixed_flags(protocol: Protocol, flags: Mapping[str, object]) -> None:
    """Under the official protocol, raise if any of ``flags`` (``"--max-pixels": value``, ...) was given (not
    None): the protocol sets them itself, and a run that overrides them would not be the official one."""
    given = [flag for flag, value in flags.items() if value is not None]
    if protocol is Protocol.OFFICIAL and given:
        raise InvalidInputError(f"--protocol official sets {', '.join(given)} itself; it cannot be combined with "
                                f"{'it' if len(given) == 1 else 'them'}",
                                fix="drop the flag(s), or use --protocol default (docs/evaluation.md lists the "
                                    "official values)")
