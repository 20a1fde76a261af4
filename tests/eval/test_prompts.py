"""Snapshots of the exact prompt text and generation settings per family.

A silent prompt change moves every score. Update after an intended change with
``VGMED_UPDATE_SNAPSHOTS=1 pytest tests/eval/test_prompts.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vgmed_data.eval.adapters import GENERAL_PROMPT, question_prompt
from vgmed_data.eval.adapters.base import attention_question_prompt
from vgmed_data.eval.tiny import TINY_FAMILIES
from tests.snapshots import check_snapshot

SNAPSHOTS = Path(__file__).parent / "snapshots"


def test_official_prompt_text() -> None:
    assert question_prompt("What is shown in the box?") == (
        "What is shown in the box? Answer the question using a single word or phrase.")
    assert GENERAL_PROMPT == ("Write a general description of the image. "
                              "Answer the question using a single word or phrase.")


@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_prompt_snapshot(family: str, tiny_adapters) -> None:  # noqa: ANN001
    adapter = tiny_adapters(family)
    current = {
        "question": adapter.chat_text(question_prompt("Which organ is in the box?")),
        "closed": adapter.chat_text(question_prompt("Which organ is in the box?", ("liver", "spleen"))),
        # the prompt a closed question's grounding metrics are captured on (default --attention-prompt official)
        "closed_attention": adapter.chat_text(
            attention_question_prompt("Which organ is in the box?", ("liver", "spleen"), mode="official")),
        "general": adapter.chat_text(GENERAL_PROMPT),
        "generation": adapter.generation_settings(),
        "adapter": adapter.describe(),
    }
    check_snapshot(SNAPSHOTS / f"{family}.json", current)
