"""Question templates whose wording names the target, with closed options and answers computed from geometry.

Two question types (the VGMED definitions):

* ``localization``: where the named target is in the image (3x3 grid of the image: "upper left" ...
  "center").
* ``attribute``: a property of the named target measured from its region: ``size`` (area class, in cm² when the
  pixel spacing is known, else as a share of the image), ``shape`` (round / elongated / irregular from
  circularity, solidity and elongation), ``count`` (connected regions after the minimum-size filter),
  ``laterality`` (patient side; only where orientation is known and the name does not already say it) and
  ``relative_position`` (above / below / left of / right of another labelled structure on the same image),
  ``group_count`` (how many members of a labelled group, e.g. vertebrae, are visible: the number of distinct
  source labels of the group on the view, asked only when every counted member is clearly visible) and
  ``source_attribute`` (a grading the source itself gives for the structure, e.g. SPIDER's Pfirrmann grade of a
  disc: the answer is the source's label, never measured).

Answers whose value sits within a margin of a class boundary are not asked (no question is better than an
ambiguous one). Each kind has several phrasings; the phrasing and the option order are drawn from a random
generator seeded by the sample key, so they are reproducible. The phrasings are snapshotted in
``tests/builders/test_questions.py``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from vgmed_data.builders.measure import Measurements
from vgmed_data.builders.skeleton import Hashing

MODALITY_WORDS = {"CT": "CT", "MR": "MRI", "XR": "X-ray", "MG": "mammography", "US": "ultrasound", "ENDOSCOPY": "endoscopy",
                  "DERMOSCOPY": "dermoscopy", "FUNDUS": "fundus", "PET": "PET", "NM": "nuclear medicine",
                  "OCT": "OCT", "PATHOLOGY": "pathology", "MICROSCOPY": "microscopy", "OTHER": "medical"}

TEMPLATES: dict[str, tuple[str, ...]] = {
    "location": (
        "In which part of this {modality} image is the {target}?",
        "Where in the image is the {target} located?",
        "Looking at this {modality} image, which region of the image contains the {target}?",
    ),
    "size": (
        "How large is the {target} in this {modality} image?",
        "What is the approximate area of the {target} shown here?",
        "Which size class best describes the {target} in this image?",
    ),
    "shape": (
        "What is the shape of the {target} in this {modality} image?",
        "How would you describe the outline of the {target}?",
        "Which word best describes the shape of the {target} shown here?",
    ),
    "count": (
        "How many separate {target} regions are visible in this {modality} image?",
        "How many distinct areas of {target} can be seen in this image?",
        "Count the separate {target} regions in this image. How many are there?",
    ),
    "laterality": (
        "On which side of the patient is the {target} in this {modality} image?",
        "Is the {target} on the patient's left or right side?",
        "Which side of the patient's body does the {target} lie on in this image?",
    ),
    "group_count": (
        "How many {target} are visible in this {modality} image?",
        "How many {target} can be counted in this image?",
        "Count the {target} shown in this {modality} image. How many are there?",
    ),
    "source_attribute": (
        "What is the {other} of the {target} in this {modality} image?",
        "Which {other} does the {target} shown here have?",
        "As graded by the source's readers, what is the {other} of the {target} in this image?",
    ),
    "relative_position": (
        "In this image, where is the {target} relative to the {other}?",
        "What is the position of the {target} with respect to the {other} in this {modality} image?",
        "Relative to the {other}, where does the {target} appear in this image?",
    ),
}

QUESTION_TYPE = {"location": "localization", "size": "attribute", "shape": "attribute", "count": "attribute",
                 "laterality": "attribute", "relative_position": "attribute", "group_count": "attribute",
                 "source_attribute": "attribute"}

GRID_ROWS = ("upper", "middle", "lower")
GRID_COLS = ("left", "center", "right")
GRID_MARGIN = 0.04  # centroids within 4% of a third-line are ambiguous
SIZE_BINS_CM2 = (1.0, 10.0, 50.0)
SIZE_LABELS_CM2 = ("smaller than 1 cm²", "1 to 10 cm²", "10 to 50 cm²", "larger than 50 cm²")
SIZE_BINS_FRACTION = (0.01, 0.05, 0.20)
SIZE_LABELS_FRACTION = ("less than 1% of the image", "1% to 5% of the image", "5% to 20% of the image",
                        "more than 20% of the image")
BIN_MARGIN = 0.10  # values within 10% of a bin edge are ambiguous
COUNT_LABELS = ("1", "2", "3", "4 or more")
SHAPES = ("round", "elongated", "irregular")
SIDES = ("left", "right", "both sides")
RELATIONS = ("above", "below", "to the left of", "to the right of")


@dataclass(frozen=True, kw_only=True)
class Question:
    kind: str
    question_type: str
    text: str
    options: tuple[str, ...]
    answer: str
    template: str  # "<kind>/<index>"
    reference: str = ""  # the other structure (relative position)


def grid_cell(centroid: tuple[float, float], size: tuple[int, int]) -> str | None:
    labels = []
    for value, extent, names in ((centroid[1], size[1], GRID_ROWS), (centroid[0], size[0], GRID_COLS)):
        fraction = value / extent
        if min(abs(fraction - 1 / 3), abs(fraction - 2 / 3)) < GRID_MARGIN:
            return None
        labels.append(names[0 if fraction < 1 / 3 else 1 if fraction < 2 / 3 else 2])
    row, col = labels
    if row == "middle" and col == "center":
        return "center"
    if row == "middle":
        return f"middle {col}"
    return f"{row} {col}"


ALL_CELLS = tuple("center" if (r, c) == ("middle", "center") else f"{r} {c}" for r in GRID_ROWS for c in GRID_COLS)


def binned(value: float, edges: tuple[float, ...], labels: tuple[str, ...]) -> str | None:
    for edge in edges:
        if abs(value - edge) < BIN_MARGIN * edge:
            return None
    index = sum(value >= edge for edge in edges)
    return labels[index]


def size_answer(m: Measurements) -> tuple[str, tuple[str, ...]] | None:
    if m.area_mm2 is not None:
        answer = binned(m.area_mm2 / 100.0, SIZE_BINS_CM2, SIZE_LABELS_CM2)
        return None if answer is None else (answer, SIZE_LABELS_CM2)
    fraction = m.area_px / (m.image_size[0] * m.image_size[1])
    answer = binned(fraction, SIZE_BINS_FRACTION, SIZE_LABELS_FRACTION)
    return None if answer is None else (answer, SIZE_LABELS_FRACTION)


def shape_answer(m: Measurements) -> str | None:
    if m.circularity is None or m.solidity is None or m.elongation is None or m.components != 1:
        return None
    if m.solidity < 0.75:
        return "irregular"
    if m.elongation >= 2.5 and m.solidity >= 0.85:
        return "elongated"
    if m.circularity >= 0.80 and m.solidity >= 0.85 and m.elongation < 1.5:
        return "round"
    return None


def count_answer(m: Measurements) -> str:
    return COUNT_LABELS[min(m.components, 4) - 1]


def laterality_answer(m: Measurements, target: str) -> str | None:
    """Patient side in radiological display (patient's right on the image's left)."""
    if any(word in target.split() for word in ("left", "right")):
        return None
    width = m.image_size[0]
    margin = 0.05 * width
    sides = set()
    for x1, _y1, x2, _y2 in m.boxes:
        centre = (x1 + x2) / 2
        if abs(centre - width / 2) < margin:
            return None
        sides.add("right" if centre < width / 2 else "left")
    return "both sides" if len(sides) == 2 else sides.pop()


def relation_answer(m: Measurements, other: Measurements) -> str | None:
    dx = m.centroid[0] - other.centroid[0]
    dy = m.centroid[1] - other.centroid[1]
    threshold = 0.05 * min(m.image_size)
    if abs(dy) >= 2 * abs(dx) and abs(dy) > threshold:
        return "above" if dy < 0 else "below"
    if abs(dx) >= 2 * abs(dy) and abs(dx) > threshold:
        return "to the left of" if dx < 0 else "to the right of"
    return None


GROUP_MARGIN = 0.5  # a member whose area is under this share of the group's median area makes the count ambiguous


def group_count_answer(areas: list[float]) -> tuple[str, tuple[str, ...]] | None:
    """The count of a group's members on a view (with nearby counts as the option pool), or None when a member is
    so small next to the others (cut by the slice or the image edge) that a reader could count it either way."""
    if not areas:
        return None
    median = sorted(areas)[len(areas) // 2]
    if min(areas) < GROUP_MARGIN * median:
        return None
    count = len(areas)
    low = max(1, count - 2)
    return str(count), tuple(str(n) for n in range(low, low + 6))


def group_question(*, group: str, areas: list[float], modality: str, key: str) -> Question | None:
    """The ``group_count`` question about ``group`` (plural name), or None when the count is ambiguous."""
    found = group_count_answer(areas)
    if found is None:
        return None
    return _question("group_count", found[0], found[1], "", key=key, target=group, modality=modality)


def attribute_questions(*, target: str, attributes: dict[str, str], vocabulary: dict[str, tuple[str, ...]],
                        modality: str, key: str) -> list[Question]:
    """One ``source_attribute`` question per grading the source gives for ``target`` (the answer is the source's
    own label; the options come from the entry's vocabulary for that attribute)."""
    return [_question("source_attribute", answer, vocabulary[name], name, key=f"{key}\x1f{name}", target=target,
                      modality=modality)
            for name, answer in sorted(attributes.items())]


def _question(kind: str, answer: str, pool: tuple[str, ...], reference: str, *, key: str, target: str,
              modality: str) -> Question:
    rng = random.Random(Hashing.JOINED.number((key, kind)))  # the key starts with the build's seed
    index = rng.randrange(len(TEMPLATES[kind]))
    text = TEMPLATES[kind][index].format(target=target, modality=MODALITY_WORDS.get(modality, "medical"),
                                         other=reference)
    return Question(kind=kind, question_type=QUESTION_TYPE[kind], text=text, options=_options(answer, pool, rng),
                    answer=answer, template=f"{kind}/{index}", reference=reference)


def _options(answer: str, pool: tuple[str, ...], rng: random.Random, *, limit: int = 4) -> tuple[str, ...]:
    distractors = [o for o in pool if o != answer]
    rng.shuffle(distractors)
    options = [answer, *distractors[: limit - 1]]
    rng.shuffle(options)
    return tuple(options)


def make_questions(*, target: str, modality: str, measurements: Measurements, others: Mapping[str, Measurements],
                   laterality_known: bool, key: str) -> list[Question]:
    """Every question that can be asked unambiguously about ``target`` on this view. ``key`` seeds phrasing
    and option order (reproducible)."""
    found: list[tuple[str, str, tuple[str, ...], str]] = []  # kind, answer, pool, reference
    cell = grid_cell(measurements.centroid, measurements.image_size)
    if cell is not None:
        found.append(("location", cell, ALL_CELLS, ""))
    size = size_answer(measurements)
    if size is not None:
        found.append(("size", size[0], size[1], ""))
    shape = shape_answer(measurements)
    if shape is not None:
        found.append(("shape", shape, SHAPES, ""))
    found.append(("count", count_answer(measurements), COUNT_LABELS, ""))
    if laterality_known:
        side = laterality_answer(measurements, target)
        if side is not None:
            found.append(("laterality", side, SIDES, ""))
    for other_name in sorted(others):
        relation = relation_answer(measurements, others[other_name])
        if relation is not None:
            found.append(("relative_position", relation, RELATIONS, other_name))
            break
    return [_question(kind, answer, pool, reference, key=key, target=target, modality=modality)
            for kind, answer, pool, reference in found]
