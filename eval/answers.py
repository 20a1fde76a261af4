"""Answer scoring: closed questions posed with lettered options, open questions by normalised match.

Closed (FACTS.md, the VGMED protocol): the reply is read as an option by, in order,

1. ``letter``: a reply that is a letter (``"B"``, ``"B."``, ``"(B)"``, ``"B) liver"``, ``"Answer: B"``);
2. ``text``: a reply whose normalised text equals an option's, else the one option whose normalised text
   it contains (longest wins);
3. ``closest``: the option with the highest character similarity (``difflib`` ratio).

Open: ``exact`` = normalised exact match (lower case, punctuation and articles removed, whitespace collapsed);
``recall`` = share of the reference's normalised tokens present in the reply.
"""

from __future__ import annotations

import difflib
import re
import string
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

_LETTER = re.compile(r"^\s*(?:answer\s*[:\-]?\s*|option\s+)?[\(\[]?([A-Z])[\)\]]?(?:[\.\):,]|\s|$)", re.IGNORECASE)
_ARTICLES = {"a", "an", "the"}


def normalise(text: str) -> str:
    text = text.lower().strip()
    text = text.translate(str.maketrans(string.punctuation, " " * len(string.punctuation)))
    return " ".join(word for word in text.split() if word not in _ARTICLES)


@dataclass(frozen=True)
class ClosedScore:
    chosen: int | None  # index of the option read from the reply
    rule: str  # "letter" | "text" | "closest" | "none"
    correct: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_option(reply: str, options: Sequence[str]) -> tuple[int | None, str]:
    """(option index, rule) for ``reply``; see the module docs for the order."""
    if not options:
        return None, "none"
    letters = string.ascii_uppercase[: len(options)]
    match = _LETTER.match(reply)
    if match and match.group(1).upper() in letters:
        candidate = match.group(1)
        # A bare lowercase word like "a" is an article only when more words follow.
        if candidate.isupper() or len(reply.strip().rstrip(".)")) <= 3:
            return letters.index(candidate.upper()), "letter"
    said = normalise(reply)
    names = [normalise(option) for option in options]
    for index, name in enumerate(names):
        if said == name:
            return index, "text"
    contained = [(len(name), index) for index, name in enumerate(names) if name and re.search(rf"\b{re.escape(name)}\b", said)]
    if contained:
        return max(contained)[1], "text"
    if not said:
        return None, "none"
    ratios = [difflib.SequenceMatcher(None, said, name).ratio() for name in names]
    return int(max(range(len(names)), key=lambda i: (ratios[i], -i))), "closest"


def score_closed(reply: str, options: Sequence[str], answer: str) -> ClosedScore:
    chosen, rule = read_option(reply, options)
    correct = chosen is not None and normalise(options[chosen]) == normalise(answer)
    return ClosedScore(chosen=chosen, rule=rule, correct=correct)


@dataclass(frozen=True)
class OpenScore:
    exact: bool
    recall: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def score_open(reply: str, answer: str) -> OpenScore:
    said, reference = normalise(reply), normalise(answer)
    reference_tokens = reference.split()
    said_tokens = set(said.split())
    recall = (sum(token in said_tokens for token in reference_tokens) / len(reference_tokens)
              if reference_tokens else 0.0)
    return OpenScore(exact=bool(reference) and said == reference, recall=float(recall))


def score_answer(reply: str, *, answer: str, options: Sequence[str] = ()) -> dict[str, Any]:
    """One record: closed scoring when options were posed, open scoring otherwise; ``correct`` in both."""
    if options:
        closed = score_closed(reply, options, answer)
        return {"kind": "closed", "correct": closed.correct, "chosen": closed.chosen, "rule": closed.rule}
    opened = score_open(reply, answer)
    return {"kind": "open", "correct": opened.exact, "exact": opened.exact, "recall": opened.recall}
