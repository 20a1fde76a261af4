"""Reading boxes and the image index out of raw model text.

Two tiers, and the caller always learns which one answered:

* **strict**: the syntaxes a format declares (e.g. Qwen2-VL ``<|box_start|>(x1,y1),(x2,y2)<|box_end|>``,
  Qwen2.5-VL JSON ``{"bbox_2d": [...]}``, a bracketed ``[x1, y1, x2, y2]``);
* **lenient** (only when strict finds nothing): typographic variants normalised (unicode minus, full-width
  commas and brackets), other JSON box keys, and the other known box syntaxes. Every step it takes is written
  in ``notes``. The numbers are always read in the format's own convention: the lenient tier never rescales
  and never guesses a convention from the values.

What is never accepted: loose numbers in prose ("3 by 4 cm on slice 12" is not a box). Minus signs are kept.
Image mentions ("Image 2", "<image_2>", "the second image") are masked before lenient number matching, so an
image number is never read as a coordinate.

Image index policy (0-based): the ``image`` key of the first box's JSON object; else the last image mention
before the first box; else the first mention after it; else ``None``. Several distinct mentions add a note.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from vgmed_data.errors import InvalidInputError

ParseMode = Literal["strict", "lenient", "unparsed"]
Numbers = tuple[float, float, float, float]

NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_S = r"\s*"
_SEP = r"\s*,\s*"

# Named box syntaxes: name -> compiled pattern with 4 groups in written order.
SYNTAXES: dict[str, re.Pattern[str]] = {
    "box_tokens": re.compile(
        rf"<\|box_start\|>{_S}\({_S}({NUM}){_SEP}({NUM}){_S}\){_SEP}\({_S}({NUM}){_SEP}({NUM}){_S}\){_S}<\|box_end\|>"),
    "point_pairs": re.compile(rf"\({_S}({NUM}){_SEP}({NUM}){_S}\){_S},?{_S}\({_S}({NUM}){_SEP}({NUM}){_S}\)"),
    "list4": re.compile(rf"\[{_S}({NUM}){_SEP}({NUM}){_SEP}({NUM}){_SEP}({NUM}){_S}\]"),
    # lenient-only syntaxes
    "tuple4": re.compile(rf"\({_S}({NUM}){_SEP}({NUM}){_SEP}({NUM}){_SEP}({NUM}){_S}\)"),
    "box_tag_spaces": re.compile(rf"<box>{_S}({NUM})\s+({NUM})\s+({NUM})\s+({NUM}){_S}</box>"),
    "list4_spaces": re.compile(rf"\[{_S}({NUM})\s+({NUM})\s+({NUM})\s+({NUM}){_S}\]"),
    "keyed": re.compile(
        rf"x_?(?:1|min){_S}[=:]{_S}({NUM}){_SEP}y_?(?:1|min){_S}[=:]{_S}({NUM}){_SEP}"
        rf"x_?(?:2|max){_S}[=:]{_S}({NUM}){_SEP}y_?(?:2|max){_S}[=:]{_S}({NUM})", re.IGNORECASE),
}
LENIENT_SYNTAXES = ("box_tokens", "point_pairs", "list4", "tuple4", "box_tag_spaces", "list4_spaces", "keyed")
JSON_BOX_KEYS = ("bbox_2d", "box_2d", "bbox", "box", "bounding_box", "coordinates")

_ORDINALS = {"first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4, "sixth": 5, "seventh": 6,
             "eighth": 7, "ninth": 8, "tenth": 9, "1st": 0, "2nd": 1, "3rd": 2, "4th": 3, "5th": 4, "6th": 5}
_IMAGE_NUMBER = re.compile(r"<?\bimage[\s_\-#:]*(\d+)\b>?", re.IGNORECASE)
_IMAGE_ORDINAL = re.compile(r"\b(" + "|".join(_ORDINALS) + r")\s+(?:image|frame|view|slice)\b", re.IGNORECASE)
_TYPOGRAPHY: dict[str, str | int | None] = {"\u2212": "-", "\u2013": "-", "\uff0c": ",", "\uff08": "(", "\uff09": ")", "\uff3b": "[",
               "\uff3d": "]", "\u3001": ","}
_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)

# Stated limits. An output longer than this is refused (a runaway generation; real box answers are a few hundred
# characters); parsing is linear in the length up to it. JSON values nested deeper than MAX_JSON_DEPTH inside
# text that is not JSON are not looked for.
MAX_OUTPUT_CHARS = 1_000_000
MAX_JSON_DEPTH = 16


@dataclass(frozen=True)
class FoundBox:
    numbers: Numbers
    start: int
    image_index: int | None = None  # from a JSON ``image`` key


@dataclass(frozen=True)
class ParsedOutput:
    """Boxes as written (the format's convention), in order of appearance, and the image the answer names."""

    boxes: tuple[Numbers, ...]
    image_index: int | None
    mode: ParseMode
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def first_box(self) -> Numbers | None:
        return self.boxes[0] if self.boxes else None


def _numbers(groups: Sequence[str]) -> Numbers:
    a, b, c, d = (float(g) for g in groups)
    return (a, b, c, d)


def find_syntax(text: str, syntax: str) -> list[FoundBox]:
    """All boxes of one named syntax, in order of appearance."""
    return [FoundBox(_numbers(m.groups()), m.start()) for m in SYNTAXES[syntax].finditer(text)]


def _bracket_spans(chunk: str) -> list[tuple[int, int, int]]:
    """``(start, end, depth)`` of every balanced ``[...]`` / ``{...}`` in ``chunk``, in order of ``start``.

    One pass: brackets inside JSON strings (only inside an open bracket: quotes in prose do not count) are
    skipped, a closing bracket that does not match the innermost open one closes nothing, and brackets never
    closed yield no span."""
    spans: list[tuple[int, int, int]] = []
    stack: list[tuple[int, str]] = []
    in_string = escaped = False
    pairs = {"]": "[", "}": "{"}
    for index, char in enumerate(chunk):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char in "[{":
            stack.append((index, char))
        elif char in "]}":
            if stack and stack[-1][1] == pairs[char]:
                start, _ = stack.pop()
                spans.append((start, index + 1, len(stack)))
        elif char == '"' and stack:
            in_string = True
    spans.sort()
    return spans


def _json_values(text: str) -> Iterator[tuple[Any, int]]:
    """JSON documents in ``text`` (inside code fences or bare), with their start offsets.

    Linear in ``len(text)``: only balanced bracket spans are decoded (one pass finds them), a decoded value is
    skipped over, and a span that is not JSON is retried only through the spans nested in it, at most
    :data:`MAX_JSON_DEPTH` levels deep (deeper values are not looked for), so each character is decoded at most
    ``MAX_JSON_DEPTH + 1`` times."""
    candidates: list[tuple[str, int]] = [(m.group(1), m.start(1)) for m in _FENCE.finditer(text)]
    candidates.append((text, 0))
    decoder = json.JSONDecoder()
    for chunk, offset in candidates:
        position = 0
        for start, end, depth in _bracket_spans(chunk):
            if start < position or depth > MAX_JSON_DEPTH:
                continue
            try:
                value, stop = decoder.raw_decode(chunk[start:end])
            except (json.JSONDecodeError, RecursionError):
                continue
            if stop != end - start:
                continue
            yield value, offset + start
            position = end


@functools.lru_cache(maxsize=4)
def _json_value_list(text: str) -> tuple[tuple[Any, int], ...]:
    """:func:`_json_values` of ``text``, kept for the next call: the strict tier and each lenient JSON key read
    the same text (callers only read the values)."""
    return tuple(_json_values(text))


def _walk(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def _as_numbers(value: Any) -> Numbers | None:
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], list):
        value = value[0]
    if (isinstance(value, list) and len(value) == 4
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        return _numbers([str(v) for v in value])
    return None


def _image_key(obj: dict[str, Any]) -> int | None:
    for key in ("image", "image_index", "img"):
        value = obj.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value - 1
        if isinstance(value, str):
            match = re.search(r"(\d+)", value)
            if match:
                return int(match.group(1)) - 1
    return None


def find_json_boxes(text: str, key: str) -> list[FoundBox]:
    """Boxes under ``key`` in JSON objects anywhere in ``text`` (code fences allowed)."""
    found: list[FoundBox] = []
    seen: set[int] = set()
    for value, start in _json_value_list(text):
        if start in seen:
            continue
        seen.add(start)
        for obj in _walk(value):
            numbers = _as_numbers(obj.get(key)) if key in obj else None
            if numbers is not None:
                found.append(FoundBox(numbers, start, _image_key(obj)))
        if found:
            break
    return found


def image_mentions(text: str) -> list[tuple[int, int, int]]:
    """(start, end, 0-based index) of every image mention, in order."""
    found = [(m.start(), m.end(), int(m.group(1)) - 1) for m in _IMAGE_NUMBER.finditer(text)]
    found += [(m.start(), m.end(), _ORDINALS[m.group(1).lower()]) for m in _IMAGE_ORDINAL.finditer(text)]
    return sorted(f for f in found if f[2] >= 0)


def _mask_mentions(text: str) -> str:
    chars = list(text)
    for start, end, _ in image_mentions(text):
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def _choose_index(text: str, boxes: Sequence[FoundBox], notes: list[str]) -> int | None:
    if boxes and boxes[0].image_index is not None:
        return boxes[0].image_index
    mentions = image_mentions(text)
    if not mentions:
        return None
    distinct = sorted({m[2] for m in mentions})
    if len(distinct) > 1:
        notes.append(f"several images mentioned ({', '.join(str(i + 1) for i in distinct)}); "
                     "took the one attached to the first box")
    if boxes:
        before = [m for m in mentions if m[1] <= boxes[0].start]
        if before:
            return before[-1][2]
    return mentions[0][2]


def parse_output(text: str, *, syntaxes: Sequence[str], json_key: str | None, convention: str) -> ParsedOutput:
    """Parse ``text`` with a format's strict ``syntaxes`` (``"json"`` means JSON objects under ``json_key``),
    falling back to the lenient tier. ``convention`` names the format's number convention for the notes."""
    if len(text) > MAX_OUTPUT_CHARS:
        raise InvalidInputError(f"the model output is {len(text)} characters, above the {MAX_OUTPUT_CHARS} that are "
                                "parsed", fix="check the generation (a runaway output); only the first box counts")
    notes: list[str] = []
    boxes = _strict(text, syntaxes, json_key)
    mode: ParseMode = "strict"
    if not boxes:
        mode = "lenient"
        boxes = _lenient(text, syntaxes, json_key, convention, notes)
    if not boxes:
        mode = "unparsed"
        notes.append("no box found")
    if len(boxes) > 1:
        notes.append(f"{len(boxes)} boxes; the first counts (stated policy)")
    index = _choose_index(text, boxes, notes)
    return ParsedOutput(tuple(b.numbers for b in boxes), index, mode, tuple(notes))


def _strict(text: str, syntaxes: Sequence[str], json_key: str | None) -> list[FoundBox]:
    for syntax in syntaxes:
        found = find_json_boxes(text, json_key) if syntax == "json" and json_key else find_syntax(text, syntax)
        if found:
            return found
    return []


def _lenient(text: str, syntaxes: Sequence[str], json_key: str | None, convention: str,
             notes: list[str]) -> list[FoundBox]:
    normalised = text.translate(str.maketrans(_TYPOGRAPHY))
    if normalised != text:
        found = _strict(normalised, syntaxes, json_key)
        if found:
            notes.append("lenient: normalised unicode minus / full-width punctuation, then the strict syntax matched")
            return found
    for key in JSON_BOX_KEYS:
        if key == json_key:
            continue
        found = find_json_boxes(normalised, key)
        if found:
            notes.append(f"lenient: read JSON key '{key}' instead of '{json_key or 'none'}', "
                         f"numbers taken as {convention}")
            return found
    masked = _mask_mentions(normalised)
    for syntax in LENIENT_SYNTAXES:
        if syntax in syntaxes:
            continue
        found = find_syntax(masked, syntax)
        if found:
            notes.append(f"lenient: found syntax '{syntax}', numbers taken as {convention} (no rescaling)")
            return found
    if "json" in syntaxes and json_key and re.search(rf'"{json_key}"', text):
        notes.append(f"lenient: '{json_key}' present but its JSON is incomplete or not 4 numbers")
    return []
