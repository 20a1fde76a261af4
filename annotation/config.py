"""The Label Studio labeling configuration for expert-region review, generated from a dataset's labels.

The control names below are the contract between push (predictions), the interface, and pull (results): every
other module refers to them through these constants.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

from vgmed_data.errors import InvalidInputError

IMAGE = "image"  # the <Image> object tag and the task data key holding the image URL
IMAGES = "images"  # task data key of the views' URLs (stored image first) in a project with several views
VIEWS = "views"  # task data key of the views' numbered titles
RECTANGLE = "box"
POLYGON = "polygon"
BRUSH = "brush"
VERDICT = "verdict"
ANSWERABLE = "answerable"
CORRECTED_QUESTION = "corrected_question"
CORRECTED_ANSWER = "corrected_answer"
COMMENT = "comment"

REGION_CONTROLS = {RECTANGLE: "rectanglelabels", POLYGON: "polygonlabels", BRUSH: "brushlabels"}

# (value, hotkey). Verdict values are what pull/agreement/finalize compare; keep them stable.
ACCEPT, REGION_FIXED, QUESTION_FIXED, REJECT = "accept", "region fixed", "question fixed", "reject"
VERDICTS: tuple[tuple[str, str], ...] = ((ACCEPT, "a"), (REGION_FIXED, "f"), (QUESTION_FIXED, "q"), (REJECT, "x"))
NOT_ANSWERABLE = "not answerable from the image"
NOT_ANSWERABLE_HOTKEY = "n"
MAX_LABEL_HOTKEYS = 9
# Label Studio's brush needs a colour per label; cycle through distinct ones.
_COLOURS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45", "#fabed4",
            "#469990")

GUIDELINE_PATH = Path(__file__).with_name("guideline.md")


@dataclass(frozen=True, kw_only=True)
class LabelConfig:
    """The generated XML and the labels it accepts (pull checks results against them)."""

    xml: str
    labels: tuple[str, ...]


def target_labels(labels: Iterable[str]) -> tuple[str, ...]:
    """Sorted unique non-empty labels; an empty set is an error (a config without labels cannot be used)."""
    unique = sorted({str(label).strip() for label in labels if str(label).strip()})
    if not unique:
        raise InvalidInputError("the dataset has no target labels (no box_labels and no targets)",
                                fix="push a dataset built with regions, or pass --label NAME")
    return tuple(unique)


def _label_tags(labels: tuple[str, ...], *, with_hotkeys: bool) -> str:
    lines = []
    for index, label in enumerate(labels):
        hotkey = f" hotkey=\"{index + 1}\"" if with_hotkeys and index < MAX_LABEL_HOTKEYS else ""
        lines.append(f"      <Label value={quoteattr(label)} background=\"{_COLOURS[index % len(_COLOURS)]}\"{hotkey}/>")
    return "\n".join(lines)


def build_label_config(labels: Iterable[str], *, multi_view: bool = False) -> LabelConfig:
    """The XML for the review interface: image, question/target/answer/context text, rectangle, polygon and
    brush tools for ``labels``, verdict, "not answerable", corrections and a comment. With ``multi_view`` the
    image shows the task's ``images`` list as pages (Label Studio's ``valueList``; Ctrl+Left/Right or the arrows
    under the image switch pages) and the side panel lists the views."""
    names = target_labels(labels)
    source = f'valueList="${IMAGES}"' if multi_view else f'value="${IMAGE}"'
    views = ('\n      <Header value="Views (pages under the image; Ctrl+Left / Ctrl+Right)"/>\n'
             f'      <Text name="views_text" value="${VIEWS}"/>') if multi_view else ""
    verdicts = "\n".join(f"      <Choice value={quoteattr(value)} hotkey=\"{key}\"/>" for value, key in VERDICTS)
    # Hotkeys go on the rectangle labels only: the same key on two controls would select both. Label Studio then
    # numbers the labels without one itself, continuing after ours (seen in the browser test: with two labels the
    # outline labels get 3 and 4, the mask labels 5 and 6).
    xml = f"""<View>
  <View style="display: flex; gap: 1em; align-items: flex-start;">
    <View style="flex: 3;">
      <Image name="{IMAGE}" {source} zoom="true" zoomControl="true" brightnessControl="true" contrastControl="true"/>
    </View>
    <View style="flex: 2;">
      <Header value="Question"/>
      <Text name="question_text" value="$question"/>
      <Header value="Target and expected answer"/>
      <Text name="target_text" value="$summary"/>
      <Header value="Image context"/>
      <Text name="context_text" value="$context"/>{views}
      <Header value="Box (rectangle; may be rotated)"/>
      <RectangleLabels name="{RECTANGLE}" toName="{IMAGE}" strokeWidth="2" canRotate="true">
{_label_tags(names, with_hotkeys=True)}
      </RectangleLabels>
      <Header value="Outline (polygon)"/>
      <PolygonLabels name="{POLYGON}" toName="{IMAGE}" strokeWidth="2">
{_label_tags(names, with_hotkeys=False)}
      </PolygonLabels>
      <Header value="Mask (brush)"/>
      <BrushLabels name="{BRUSH}" toName="{IMAGE}">
{_label_tags(names, with_hotkeys=False)}
      </BrushLabels>
      <Header value="Verdict"/>
      <Choices name="{VERDICT}" toName="{IMAGE}" choice="single" required="true" showInline="true">
{verdicts}
      </Choices>
      <Choices name="{ANSWERABLE}" toName="{IMAGE}" choice="multiple">
        <Choice value={quoteattr(NOT_ANSWERABLE)} hotkey="{NOT_ANSWERABLE_HOTKEY}"/>
      </Choices>
      <Header value="Corrected question (leave empty if unchanged)"/>
      <TextArea name="{CORRECTED_QUESTION}" toName="{IMAGE}" editable="true" maxSubmissions="1" rows="2"/>
      <Header value="Corrected answer (leave empty if unchanged)"/>
      <TextArea name="{CORRECTED_ANSWER}" toName="{IMAGE}" editable="true" maxSubmissions="1" rows="1"/>
      <Header value="Comment for the adjudicator"/>
      <TextArea name="{COMMENT}" toName="{IMAGE}" editable="true" maxSubmissions="1" rows="2"/>
    </View>
  </View>
</View>
"""
    return LabelConfig(xml=xml, labels=names)


def guideline_markdown() -> str:
    return GUIDELINE_PATH.read_text()


def guideline_html() -> str:
    """The guideline for the project's instructions panel (shown in the labeling interface): escaped and kept
    preformatted, so the markdown reads as written without a markdown dependency."""
    return ("<pre style=\"white-space: pre-wrap; font-family: inherit;\">"
            + html.escape(guideline_markdown()) + "</pre>")
