"""One ``--on-bad`` vocabulary across commands (issue 23 item 4): every command that takes a bad-input policy
spells it ``--on-bad`` with the values error, warn and skip; ``vgmed eval run`` still takes its old spelling
``--on-bad-sample``. The tree is walked through the real parsers, as ``vgmed <command> --help`` builds them."""

from __future__ import annotations

import argparse

import pytest

from tests.core.test_help_tree import TREE
from vgmed_data.cli import build_parser
from vgmed_data.errors import InvalidInputError
from vgmed_data.onbad import OnBad, check_on_bad

POLICY_OPTIONS = ("--on-bad", "--on-bad-sample")


def _policy_actions() -> dict[str, argparse.Action]:
    return {path: action for path, parser in TREE for action in parser._actions
            if set(action.option_strings) & set(POLICY_OPTIONS)}


def test_every_bad_input_option_is_on_bad_with_the_same_values() -> None:
    actions = _policy_actions()
    assert {"build vgmed", "build sequences", "import vgmed-jsonl", "eval run"} <= set(actions)
    for path, action in actions.items():
        assert "--on-bad" in action.option_strings, f"vgmed {path}: {action.option_strings}"
        assert list(action.choices or ()) == ["error", "warn", "skip"], f"vgmed {path}: {action.choices}"


@pytest.mark.parametrize("spelling", POLICY_OPTIONS)
def test_eval_run_takes_the_old_spelling_too(spelling: str) -> None:
    args = build_parser("eval").parse_args(["eval", "run", "--model", "M", "--dataset", "D", "--out", "O",
                                            spelling, "warn"])
    assert args.on_bad_sample == "warn"


def test_an_unknown_policy_is_refused_with_the_known_ones() -> None:
    assert check_on_bad("warn") is OnBad.WARN
    with pytest.raises(InvalidInputError, match="error, warn, skip"):
        check_on_bad("ignore")
