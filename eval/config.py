"""What an evaluation run depends on: :class:`EvalConfig`, its fingerprint and its ``run.json``.

Its choices are the enums of :mod:`vgmed_data.eval.choices` (the CLI's ``choices`` come from them; they can be
imported from here too), held as enums end to end: text given to the constructor is parsed there, once.
Below the tasks: the grounding runner (:mod:`vgmed_data.eval.runner`, through its :class:`vgmed_data.eval.plan.
RunPlan`), the boxes task (:mod:`vgmed_data.eval.boxes.generate`) and head selection take an :class:`EvalConfig`;
the run folder (:mod:`vgmed_data.eval.run_folder`) records its :meth:`EvalConfig.manifest`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from vgmed_data.eval.choices import (AttentionPrompt, BoxMapping, Dtype, Method, Protocol, QueryMode, Task,
                                     parse_choice)
from vgmed_data.eval.protocol import OFFICIAL_PERCENTILE, box_mapping, refuse_fixed_flags
from vgmed_data.eval.provenance import run_provenance
from vgmed_data.eval.run_folder import Manifest, settings_fingerprint
from vgmed_data.eval.vgrefine.options import VGRefineOptions
from vgmed_data.errors import InvalidInputError
from vgmed_data.onbad import OnBad


# ``--on-bad`` (old spelling ``--on-bad-sample``): a bad sample stops the run (error), or becomes a skip counted
# in the report by reason (skip, the default), printed too under warn; the vocabulary of every command.
SkipPolicy = OnBad

__all__ = ["AttentionPrompt", "BASELINE", "Dtype", "EvalConfig", "Method", "Protocol", "QueryMode", "SkipPolicy",
           "Task", "VGREFINE", "parse_methods"]  # the vocabulary is eval.choices'; imported from here too

BASELINE, VGREFINE = Method.BASELINE, Method.VGREFINE


def parse_methods(text: str) -> tuple[Method, ...]:
    """``"baseline"``, ``"baseline,vgrefine,pai"``, ... -> the methods in canonical order."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in tuple(Method)]
    if unknown or not names:
        raise InvalidInputError(f"unknown method(s) {unknown or text!r}",
                                fix=f"use one or more of {', '.join(Method)}, comma-separated")
    return tuple(m for m in Method if m in names)


# EvalConfig's fields that take one choice, and their vocabulary (eval.choices).
_CHOICES: dict[str, type[StrEnum]] = {"task": Task, "on_bad_sample": SkipPolicy, "query": QueryMode,
                                      "attention_prompt": AttentionPrompt, "dtype": Dtype, "protocol": Protocol}


@dataclass(frozen=True, kw_only=True)
class EvalConfig:
    """Everything a run depends on; the CLI fills it from its flags (same names)."""

    model: str
    dataset: str
    out: Path
    config: str = "vgmed"
    split: str = "test"
    layers: tuple[int, ...] | None = None  # None: every decoder layer (the official protocol)
    limit: int | None = None
    batch_size: int = 1
    dtype: Dtype = Dtype.FLOAT32
    device: str = "cpu"
    max_pixels: int | None = None  # None: the family default (eval.adapters); 0: the checkpoint's own
    max_new_tokens: int = 16
    query: QueryMode = QueryMode.LAST  # "last" (official) or "question_mean" (mean over the rows after the image)
    overlays: int = 8
    on_bad_sample: SkipPolicy = SkipPolicy.SKIP
    progress: bool = True
    merge_timeout_s: float = 3600.0
    methods: tuple[Method, ...] = (BASELINE,)  # "baseline" and/or "vgrefine" (docs/vgrefine.md)
    vgrefine: VGRefineOptions | None = None  # required when "vgrefine" is in methods
    argv: tuple[str, ...] | None = None  # the command line recorded in run.json (None: this process's sys.argv)
    task: Task = Task.GROUNDING  # "grounding" (attention + answers) or "boxes" (eval.boxes.generate)
    # the prompt the grounding metrics' attention is captured on for closed questions: "official" (the official
    # open prompt, one more capture-only forward) or "answer" (the lettered prompt the answer is generated from)
    attention_prompt: AttentionPrompt = AttentionPrompt.OFFICIAL
    overwrite: bool = False  # start over in a folder that holds another run (its run files are removed)
    # "default" (the project's settings) or "official" (the official VGMED code's, per family: eval.protocol)
    protocol: Protocol = Protocol.DEFAULT
    min_pixels: int | None = None  # None: the family default (eval.adapters); 0: the checkpoint's own
    answers: bool = True  # False: measure only, no answer is generated (vgmed eval select --protocol official)
    # --method-param NAME.KEY=VALUE of the interventions (eval.methods): name -> key -> text; the rest default
    method_params: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The API's boundary: text given for a choice becomes its enum here, once (the CLI already passes enums).
        for name, choices in _CHOICES.items():
            object.__setattr__(self, name, parse_choice(getattr(self, name), choices, name.replace("_", " ")))
        methods = tuple(parse_choice(m, Method, "method") for m in self.methods)
        if not methods or len(set(methods)) != len(methods):
            raise InvalidInputError(f"methods {methods!r}", fix=f"use one or more of {', '.join(Method)}, each once")
        object.__setattr__(self, "methods", tuple(m for m in Method if m in methods))
        object.__setattr__(self, "method_params", {k: dict(v) for k, v in self.method_params.items()})
        attention_changing = [name for name, m in self.interventions().items() if m.changes_attention]
        if attention_changing and self.query != QueryMode.LAST:  # (unknown names/keys/values failed just above)
            raise InvalidInputError(f"{', '.join(attention_changing)} record the attention of the last prompt row "
                                    f"after the intervention; --query {self.query} measures another",
                                    fix="drop --query (last is the official measurement)")
        if self.task == Task.BOXES and methods != (BASELINE,):
            raise InvalidInputError("--task boxes runs the baseline method only", fix="drop --method/--heads")
        if (VGREFINE in methods) != (self.vgrefine is not None):
            raise InvalidInputError("VGRefine options are needed exactly when the vgrefine method runs",
                                    fix="pass --heads heads.json|PRESET with --method vgrefine or "
                                        "baseline,vgrefine (and no --heads otherwise)")
        if self.batch_size < 1:
            raise InvalidInputError(f"batch size must be >= 1, got {self.batch_size}")
        refuse_fixed_flags(self.protocol, {"--max-pixels": self.max_pixels, "--min-pixels": self.min_pixels})
        if self.protocol == Protocol.OFFICIAL:
            unofficial = [flag for flag, value, official in (
                ("--attention-prompt", self.attention_prompt, AttentionPrompt.OFFICIAL),
                ("--query", self.query, QueryMode.LAST)) if value != official]
            if unofficial:
                raise InvalidInputError(f"--protocol official measures on the official prompt and the last prompt "
                                        f"row; {', '.join(unofficial)} chooses otherwise",
                                        fix="drop the flag(s), or use --protocol default")
            others = [m for m in methods if m not in (BASELINE, VGREFINE)]
            if others:
                raise InvalidInputError(f"--protocol official has no {', '.join(others)}: the official VGMED code "
                                        "runs the baseline and VGRefine only", fix="use --protocol default")
            if self.vgrefine is not None and self.vgrefine.threshold is None:
                object.__setattr__(self, "vgrefine", replace(self.vgrefine, percentile=OFFICIAL_PERCENTILE))

    def interventions(self) -> dict[str, Any]:
        """The :class:`vgmed_data.eval.methods.Intervention` objects this run applies, by name, in order."""
        from vgmed_data.eval.methods import build_methods

        return build_methods(self.methods, self.method_params)

    def intervention_parameters(self) -> dict[str, dict[str, Any]] | None:
        """``name -> parameters`` of the interventions (run.json, fingerprint); None when none runs."""
        chosen = self.interventions()
        return {name: method.parameters() for name, method in chosen.items()} or None

    @property
    def box_mapping(self) -> BoxMapping | None:
        """How boxes reach the token grid in this run's metrics (grounding runs; ``eval.protocol.BoxMapping``)."""
        return box_mapping(self.protocol) if self.task == Task.GROUNDING else None

    def settings(self, *, with_mapping: bool = True) -> dict[str, Any]:
        """What must match for a resume: everything that changes results (not batch size, device, limit).
        ``with_mapping=False``: without the box mapping, as runs written before it was recorded had them."""
        keys = ("model", "dataset", "config", "split", "layers", "dtype", "max_pixels", "max_new_tokens", "query",
                "methods")
        settings = {k: getattr(self, k) for k in keys}
        if self.task != Task.GROUNDING:  # only box runs carry it
            settings["task"] = self.task
        elif self.attention_prompt != AttentionPrompt.ANSWER:
            # Runs from before the option measured closed questions on the answer prompt: "answer" keeps their
            # fingerprint (they resume with --attention-prompt answer), any other choice refuses to mix with them.
            settings["attention_prompt"] = self.attention_prompt
        settings["vgrefine"] = self.vgrefine.to_dict() if self.vgrefine is not None else None
        if self.protocol != Protocol.DEFAULT:  # absent for default runs: their older fingerprints still match
            settings["protocol"] = self.protocol
        if self.min_pixels is not None:
            settings["min_pixels"] = self.min_pixels
        if not self.answers:
            settings["answers"] = False
        interventions = self.intervention_parameters()
        if interventions is not None:  # absent otherwise: earlier fingerprints still match
            settings["interventions"] = interventions
        # input_scale (official) was every earlier run's mapping: absent then, so those fingerprints still match
        if with_mapping and self.box_mapping not in (None, BoxMapping.INPUT_SCALE):
            settings["box_mapping"] = self.box_mapping
        return settings

    def fingerprint(self) -> str:
        return settings_fingerprint(self.settings())

    def unmapped_fingerprint(self) -> str:
        """The fingerprint a run with these settings had before the box mapping was recorded (resume check)."""
        return settings_fingerprint(self.settings(with_mapping=False))

    def manifest(self, world: int) -> Manifest:
        """The run's ``run.json``."""
        return Manifest(fingerprint=self.fingerprint(), world=world, model=self.model, dataset=self.dataset,
                        config=self.config, split=self.split, layers=self.layers, query=self.query, task=self.task,
                        methods=self.methods, attention_prompt=self.attention_prompt,
                        vgrefine=self.vgrefine.to_dict() if self.vgrefine is not None else None,
                        box_mapping=self.box_mapping, protocol=self.protocol,
                        interventions=self.intervention_parameters(),
                        provenance=run_provenance(device=self.device, config=self.config, split=self.split,
                                                  argv=self.argv),
                        extra={"min_pixels": self.min_pixels, "max_pixels": self.max_pixels})

