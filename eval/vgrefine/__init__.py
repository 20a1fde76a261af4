"""VGRefine: attention triage and knockout at inference time, for every supported family.

    >>> from vgmed_data.eval.vgrefine import VGRefineOptions, vgrefine_fast       # doctest: +SKIP
    >>> options = VGRefineOptions(heads=[(15, 4), (16, 5)], masked_layers=[16])
    >>> result = vgrefine_fast(adapter, image, question_prompt("Is there a fracture?"), options=options)

:func:`vgrefine_fast` is the production path; :func:`vgrefine_naive` is the three-pass reference the tests hold
it to. Definitions and options: docs/vgrefine.md.
"""

from __future__ import annotations

from vgmed_data.eval.vgrefine.fast import vgrefine_fast
from vgmed_data.eval.vgrefine.naive import vgrefine_naive
from vgmed_data.eval.vgrefine.options import DEFAULT_PERCENTILE, OFFICIAL_PERCENTILE, VGRefineOptions
from vgmed_data.eval.vgrefine.result import Answer, VGRefineAnswer
from vgmed_data.eval.vgrefine.triage import Triage, blocked_tokens, triage, triage_scores

__all__ = ["DEFAULT_PERCENTILE", "OFFICIAL_PERCENTILE", "Answer", "Triage", "VGRefineAnswer", "VGRefineOptions",
           "blocked_tokens", "triage", "triage_scores", "vgrefine_fast", "vgrefine_naive"]
