"""One sample answered with VGRefine inside ``vgmed eval run --method ...vgrefine``: the per-sample record and
the arrays the report draws.

The record (``record["vgrefine"]`` in ``samples.jsonl``) is a :class:`vgmed_data.eval.run_folder.VGRefineRecord`
(method, implementation, parameters, grid, blocked grid indices, blocked sequence positions, cut, answer and, with the
baseline, ``answer_without_vgrefine``: the plain answer decoded from the fast path's own question pass) plus
the answer score of :func:`vgmed_data.eval.answers.score_answer` (``correct`` and its rule). The arrays
(``<id>__triage``: the triage map ``S`` on the token grid, float32; ``<id>__blocked``: the blocked tokens on the
grid, bool) go into the run's attention shards beside the baseline maps.

The fast implementation runs one sample at a time (batch size 1), whatever ``--batch-size`` the baseline uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from vgmed_data.eval.adapters.base import Adapter
from vgmed_data.eval.answers import score_answer
from vgmed_data.eval.run_folder import VGRefineRecord
from vgmed_data.eval.vgrefine.options import VGRefineOptions
from vgmed_data.eval.vgrefine.result import METHOD

TRIAGE_KEY = "triage"
BLOCKED_KEY = "blocked"


@dataclass(frozen=True)
class SampleResult:
    record: VGRefineRecord
    arrays: dict[str, np.ndarray]
    seconds: float


def evaluate_sample(adapter: Adapter, *, image: Image.Image, user_text: str, sample_id: str, answer: str,
                    options: tuple[str, ...] | list[str], method_options: VGRefineOptions, max_new_tokens: int,
                    with_plain: bool) -> SampleResult:
    """Answer one sample with :func:`vgmed_data.eval.vgrefine.fast.vgrefine_fast` and score the answer."""
    from vgmed_data.eval.vgrefine.fast import vgrefine_fast

    result = vgrefine_fast(adapter, image, user_text, options=method_options, max_new_tokens=max_new_tokens,
                           with_plain=with_plain, record_id=sample_id)
    record = VGRefineRecord(method=METHOD, implementation=result.implementation,
                            parameters=result.options.to_dict(), grid=result.layout.grid,
                            blocked=tuple(int(v) for v in result.triage.blocked),
                            blocked_positions=tuple(int(v) for v in result.blocked_positions),
                            cut=float(result.triage.cut), answer=result.answer.text,
                            answer_without_vgrefine=None if result.plain is None else result.plain.text,
                            triage_note=result.triage.note, score=score_answer(result.answer.text, answer=answer, options=options))
    arrays = {f"{sample_id}__{TRIAGE_KEY}": result.triage_map().astype(np.float32),
              f"{sample_id}__{BLOCKED_KEY}": result.blocked_mask()}
    return SampleResult(record=record, arrays=arrays, seconds=float(result.timings.get("total_s", 0.0)))
