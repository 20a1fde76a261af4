"""The plan of a grounding run: what an :class:`~vgmed_data.eval.config.EvalConfig` asks for, resolved once for
the model that was loaded, and handed to every batch.

The protocol's settings depend on the model's family (``eval.protocol.protocol_settings``), which is known once
the checkpoint has loaded; :func:`plan_run` resolves them then, once per run, with the adapter options of the
two kinds of pass (measurement; answering: the baseline's separate answer pass, VGRefine and the interventions),
the captured layers and the interventions. The runner passes the plan explicitly; each pass states the options
it runs with (``Adapter.using``), so nothing is recomputed per batch and the adapter is left as it was found.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vgmed_data.eval.adapters.base import AdapterOptions, attention_question_prompt
from vgmed_data.eval.choices import Method
from vgmed_data.eval.config import EvalConfig
from vgmed_data.eval.protocol import ProtocolSettings, adapter_options, answer_prompt, protocol_settings

if TYPE_CHECKING:
    from vgmed_data.eval.data import EvalSample


@dataclass(frozen=True, kw_only=True)
class RunPlan:
    """One grounding run, resolved: ``cfg`` (the run's settings as given), ``settings`` (its protocol's, for the
    model's family), ``layers`` (the captured decoder layers), ``measure`` and ``answer`` (the adapter options of
    the measurement and the answering passes; equal under the default protocol) and ``interventions`` (name ->
    :class:`vgmed_data.eval.methods.Intervention`, in order)."""

    cfg: EvalConfig
    settings: ProtocolSettings
    layers: tuple[int, ...]
    measure: AdapterOptions
    answer: AdapterOptions
    interventions: Mapping[str, Any]

    @property
    def answer_baseline(self) -> bool:
        """The baseline answers (``--method vgrefine`` alone, or a measure-only run, generates no plain answer)."""
        return Method.BASELINE in self.cfg.methods and self.cfg.answers

    @property
    def separate_answers(self) -> bool:
        """The baseline answers in a pass of its own: the answers use other processor settings than the
        measurement (the official Qwen protocol), so the question pass only captures."""
        return self.answer_baseline and self.answer != self.measure

    def answer_text(self, sample: EvalSample) -> str:
        """The user text the sample's answers are generated from."""
        return answer_prompt(sample.question, sample.options, self.settings)

    def attention_text(self, sample: EvalSample) -> str:
        """The user text the sample's grounding attention is captured on."""
        return attention_question_prompt(sample.question, sample.options, mode=self.cfg.attention_prompt)

    def question_text(self, sample: EvalSample) -> str:
        """The user text of the question pass: the answer prompt when that pass also answers, else the attention
        prompt."""
        answers_here = self.answer_baseline and not self.separate_answers
        return self.answer_text(sample) if answers_here else self.attention_text(sample)


def run_options(cfg: EvalConfig) -> AdapterOptions:
    """The adapter options of the run's own flags (what a model is loaded with, before its family is known)."""
    return AdapterOptions(max_pixels=cfg.max_pixels, min_pixels=cfg.min_pixels, max_new_tokens=cfg.max_new_tokens)


def plan_run(cfg: EvalConfig, *, family: str, num_layers: int) -> RunPlan:
    """The plan of ``cfg`` for a model of ``family`` with ``num_layers`` decoder layers."""
    settings = protocol_settings(cfg.protocol, family)

    def options(*, answers: bool) -> AdapterOptions:
        return adapter_options(settings, answers=answers, max_pixels=cfg.max_pixels, min_pixels=cfg.min_pixels,
                               max_new_tokens=cfg.max_new_tokens)

    return RunPlan(cfg=cfg, settings=settings,
                   layers=tuple(cfg.layers) if cfg.layers is not None else tuple(range(num_layers)),
                   measure=options(answers=False), answer=options(answers=True), interventions=cfg.interventions())
