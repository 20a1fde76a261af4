"""The annotators' side in a real browser (Debian chromium) against the real Label Studio server.

An annotator created through the API logs in, opens a task pushed by ``vgmed annotate push``, sees the image, the
question and the builder's regions, moves a rectangle's edge with the mouse, draws a polygon, chooses a verdict
with its hotkey, writes a correction and submits; ``vgmed annotate pull`` must return the moved rectangle and the
polygon in the stored image's pixels within one pixel of where the mouse put them. The expected pixels come from
the image's on-screen geometry (its bounding rectangle and natural size, see tests/annotation/lsf_page.py), not
from our converter. An adjudicator then sees each annotator's regions as predictions and picks one.

Set ``VGMED_SCREENSHOTS=docs`` to keep the screenshots that docs/annotation.md shows.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.annotation.data import HEIGHT, WIDTH, make_dataset, make_samples, sample_mask
from tests.annotation.lsf_page import ImageGeometry, LabellingPage
from tests.annotation.scenario import rect, verdict
from tests.fixtures.label_studio import ANNOTATOR_PASSWORD, ANNOTATORS
from vgmed_data.annotation import config
from vgmed_data.annotation.client import sdk_client
from vgmed_data.annotation.pull import ExpertAnnotation, current_tasks
from vgmed_data.annotation.push import MEDIA_SUBDIR
from vgmed_data.annotation.state import open_state
from vgmed_data.cli import main
from vgmed_data.folder import iter_rows
from vgmed_data.writer import write_config
from vgmed_data.schema import GroundingSample

pytestmark = [pytest.mark.labelstudio, pytest.mark.browser]

A, B, ADJ = ANNOTATORS
HOTKEYS = dict(config.VERDICTS)
EDGE_SHIFT = 30  # CSS pixels the right edge is dragged by (~5 image pixels at the page's scale)
OUTLINE = [(6.0, 24.0), (22.0, 27.0), (14.0, 36.0)]  # image pixels aimed at; clear of the pre-drawn regions
CORRECTION = "Where is the liver on this axial CT slice?"


def pattern_dataset(folder: Path) -> tuple[Path, GroundingSample]:
    """One sample of tests/annotation/data.py with an image whose neighbouring pixels differ strongly in both
    directions, so a drawing one pixel off shows in the canvas check."""
    x, y = np.meshgrid(np.arange(WIDTH), np.arange(HEIGHT))
    image = Image.fromarray(((x * 97 + y * 57) % 256).astype(np.uint8), mode="L")
    sample = dataclasses.replace(make_samples(1)[0], image=image)
    write_config(folder, [sample], config="vgmed")
    return folder, sample


def cli(*args: str) -> None:
    assert main(list(args)) == 0


def remote(workspace: Path, connection: Any) -> list[str]:
    return ["--workspace", str(workspace), "--url", connection.url, "--token", connection.token]


def keep_screenshot(page: LabellingPage, tmp_path: Path, name: str) -> None:
    page.screenshot(tmp_path / name)
    folder = os.environ.get("VGMED_SCREENSHOTS")
    if folder:
        page.screenshot(Path(folder) / name)


def pixels_of(region: dict[str, Any]) -> tuple[float, float, float, float]:
    """A rectangle of the page's store (percent of the image) as xyxy image pixels."""
    x, y = region["x"] * WIDTH / 100, region["y"] * HEIGHT / 100
    return (x, y, x + region["width"] * WIDTH / 100, y + region["height"] * HEIGHT / 100)


def assert_close(actual: Any, expected: Any, *, within: float) -> None:
    difference = np.abs(np.asarray(actual, dtype=float) - np.asarray(expected, dtype=float))
    assert difference.max() <= within, (actual, expected)


def assert_image_drawn(page: LabellingPage, geometry: ImageGeometry, stored: Path) -> None:
    """The canvas shows the stored image where the geometry says (:func:`canvas_fit`)."""
    with Image.open(stored) as image:
        grey = np.asarray(image.convert("L")).astype(int)
    error, shifted = canvas_fit(page, geometry, grey)
    assert error < shifted / 4, (error, shifted)


def canvas_fit(page: LabellingPage, geometry: ImageGeometry, grey: np.ndarray) -> tuple[float, float]:
    """How well the canvas shows ``grey`` where the geometry says: under the screen position of each image
    pixel's centre (a grid over the visible part) the canvas should have that pixel's grey value, up to the
    browser's smoothing. Returns the mean absolute difference for the unshifted mapping and the smallest one for
    the same mapping one image pixel off in any direction (the unshifted one must be far smaller)."""
    assert grey.shape == (geometry.natural_height, geometry.natural_width)
    centres = [(x, y) for y in range(1, HEIGHT - 1, 2) for x in range(1, WIDTH - 1, 2)
               if geometry.shown(*geometry.to_screen(x + 0.5, y + 0.5))]
    assert len(centres) > 300
    drawn = np.array([rgba[0] for rgba in page.pixels([geometry.to_screen(x + 0.5, y + 0.5) for x, y in centres])])
    xs, ys = np.array(centres).T

    def error(dx: int, dy: int) -> float:
        return float(np.mean(np.abs(drawn - grey[ys + dy, xs + dx])))

    shifted = min(error(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if (dx, dy) != (0, 0))
    return error(0, 0), shifted


def wait_for_submission(connection: Any, task_id: int) -> dict[str, Any]:
    """The submitted annotation as the server stored it (the page's Submit is asynchronous)."""
    from selenium.webdriver.support.ui import WebDriverWait

    client = sdk_client(connection)

    def stored(_: object) -> Any:
        found = [a for a in client.annotations.list(id=task_id) if not a.was_cancelled]
        return found[0] if found else None

    return WebDriverWait(None, 120, poll_frequency=0.5).until(stored)


def submit(page: LabellingPage) -> None:
    from selenium.webdriver.common.by import By

    page.browser.find_element(By.XPATH, "//button[normalize-space()='Submit']").click()


def tab_of(prediction: dict[str, Any]) -> str:
    """The CSS selector of an annotation's or prediction's tab above the image."""
    return f".lsf-annotation-button[data-annotation-id='{prediction['pk']}']"


def region_by_id(annotation: ExpertAnnotation, result_id: str) -> Any:
    return next(r for r in annotation.regions if r.result_id == result_id)


def test_annotator_moves_an_edge_draws_an_outline_and_submits(tmp_path: Path, label_studio, ls_connection,
                                                              ls_users, browser) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    dataset, sample = pattern_dataset(tmp_path / "ds")
    workspace = tmp_path / "ws"
    cli("annotate", "push", str(dataset), "--project", "browser-review", "--annotators", "1",
        "--document-root", str(ls_connection.document_root), *remote(workspace, ls_connection))
    with open_state(workspace) as state:
        project_id = state.project("browser-review").project_id
        (task_id,) = state.tasks("browser-review").values()
    stored = ls_connection.document_root / MEDIA_SUBDIR / "browser-review" / f"{sample.id}.png"

    label_studio.set_password(A)
    page = LabellingPage(browser, label_studio.url)
    page.log_in(A, ANNOTATOR_PASSWORD)
    geometry = page.open_task(project_id=project_id, task_id=task_id, predictions=1)

    # What the annotator sees: the image, the question, the target, and the builder's regions pre-drawn.
    assert (geometry.natural_width, geometry.natural_height) == (WIDTH, HEIGHT)
    assert_image_drawn(page, geometry, stored)
    text = page.script("return document.body.innerText")
    assert sample.question in text and "Target: liver" in text and "Expected answer: liver" in text
    state = page.state()
    assert [p["createdBy"] for p in state["predictions"]] == ["vgmed-builder"]
    regions = {r["id"]: r for r in state["selected"]["regions"]}
    assert set(regions) == {"box-0", "box-1", "mask-0"}
    for index, box in enumerate(sample.boxes):
        assert_close(pixels_of(regions[f"box-{index}"]), box, within=1e-6)
    assert regions["mask-0"]["type"] == "brushregion"
    keep_screenshot(page, tmp_path, "annotation-page.png")
    # The guideline is the project's instructions: the Instructions button opens it over the page.
    title = config.guideline_markdown().splitlines()[0].lstrip("# ")
    page.browser.find_element(By.XPATH, "//button[normalize-space()='Instructions']").click()
    page.wait(lambda b: title in page.script("return document.body.innerText"))
    page.press(Keys.ESCAPE)
    page.wait(lambda b: title not in page.script("return document.body.innerText"))

    # Select the first box: its transformer's anchors sit on the box's edges on screen.
    x1, y1, x2, y2 = sample.boxes[0]
    page.click(*geometry.to_screen((x1 + x2) / 2, (y1 + y2) / 2))
    anchor = page.wait(lambda b: page.anchor("middle-right"))
    assert_close(anchor, geometry.to_screen(x2, (y1 + y2) / 2), within=1.0)
    # Drag the right edge EDGE_SHIFT pixels to the right.
    start = (round(anchor[0]), round(anchor[1]))
    end = (start[0] + EDGE_SHIFT, start[1])
    assert geometry.shown(*end)
    page.drag(start, end)
    moved_right = geometry.to_image(anchor[0] + EDGE_SHIFT, anchor[1])[0]
    page.wait(lambda b: abs(pixels_of({r["id"]: r for r in page.state()["selected"]["regions"]}["box-0"])[2]
                            - x2) > 1)
    page.press("u")  # unselect
    page.wait(lambda b: not any(r["selected"] for r in page.state()["selected"]["regions"]))

    # Draw a polygon: its label (which picks the polygon tool), three clicks, a click on the first point closes it.
    clicks = page.draw_outline(geometry, OUTLINE, label="liver")

    # The verdict by its hotkey, then the corrected question (Shift+Enter adds it).
    page.press(HOTKEYS[config.REGION_FIXED])
    page.wait(lambda b: [r["value"]["choices"] for r in page.results(config.VERDICT)] == [[config.REGION_FIXED]])
    area = page.browser.find_element(By.CSS_SELECTOR, f"textarea[name={config.CORRECTED_QUESTION}]")
    page.script("arguments[0].scrollIntoView({block: 'center'})", area)
    area.click()
    area.send_keys(CORRECTION)
    ActionChains(page.browser).key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT).perform()
    page.wait(lambda b: [r["value"]["text"] for r in page.results(config.CORRECTED_QUESTION)] == [[CORRECTION]])
    page.script("window.scrollTo(0, 0); document.querySelectorAll('*').forEach(e => { e.scrollTop = 0; });")
    keep_screenshot(page, tmp_path, "annotation-page-edited.png")
    submit(page)
    wait_for_submission(ls_connection, task_id)

    cli("annotate", "pull", "--project", "browser-review", *remote(workspace, ls_connection))
    with open_state(workspace) as state:
        (annotation,) = current_tasks(state, "browser-review")[task_id].annotations
    assert (annotation.annotator, annotation.verdict, annotation.corrected_question) == (A, config.REGION_FIXED,
                                                                                        CORRECTION)
    assert moved_right - x2 > 3  # the drag really moved the edge
    assert_close(region_by_id(annotation, "box-0").box, (x1, y1, moved_right, y2), within=1.0)
    assert_close(region_by_id(annotation, "box-1").box, sample.boxes[1], within=1e-6)
    assert np.array_equal(region_by_id(annotation, "mask-0").mask, sample_mask(0))
    (outline,) = [r for r in annotation.regions if r.kind == "polygon"]
    assert outline.label == "liver"
    assert_close(outline.points, [geometry.to_image(*point) for point in clicks], within=1.0)
    assert_close(outline.points, OUTLINE, within=1.0)


A_BOX, B_BOX = (8, 10, 16, 8), (30, 20, 20, 12)  # x, y, width, height in image pixels: no overlap


def test_adjudicator_sees_each_annotators_regions_and_picks_one(tmp_path: Path, label_studio, ls_connection,
                                                                ls_users, browser) -> None:
    from selenium.webdriver.common.by import By

    dataset = make_dataset(tmp_path / "ds", 1)
    workspace = tmp_path / "ws"
    connection = remote(workspace, ls_connection)
    root = ["--document-root", str(ls_connection.document_root)]
    cli("annotate", "push", str(dataset), "--project", "browser-adjudicate", "--annotators", "2", *root, *connection)
    with open_state(workspace) as state:
        (task_id,) = state.tasks("browser-adjudicate").values()
    client = sdk_client(ls_connection)
    client.annotations.create(id=task_id, result=[rect(*A_BOX), verdict(config.ACCEPT)], completed_by=ls_users[A])
    client.annotations.create(id=task_id, result=[rect(*B_BOX), verdict(config.REJECT)], completed_by=ls_users[B])
    cli("annotate", "pull", "--project", "browser-adjudicate", *connection)
    cli("annotate", "adjudicate", "--project", "browser-adjudicate", *root, *connection)
    with open_state(workspace) as state:
        record = state.project("browser-adjudicate-adjudication")
        (adjudication_task,) = state.tasks(record.name).values()

    label_studio.set_password(ADJ)
    page = LabellingPage(browser, label_studio.url)
    page.log_in(ADJ, ANNOTATOR_PASSWORD)
    page.open_task(project_id=record.project_id, task_id=adjudication_task, predictions=2)

    # Every annotator's regions, as a prediction named after them; their verdicts in the task context.
    predictions = {p["createdBy"]: p for p in page.state()["predictions"]}
    assert set(predictions) == {A, B}
    for annotator, (x, y, w, h) in ((A, A_BOX), (B, B_BOX)):
        (region,) = predictions[annotator]["regions"]
        assert region["type"] == "rectangleregion"
        assert_close(pixels_of(region), (x, y, x + w, y + h), within=1e-6)
    for prediction in predictions.values():  # one tab each (the page shortens long names: "radiolog...d.test")
        assert page.browser.find_element(By.CSS_SELECTOR, tab_of(prediction)).is_displayed()
    text = page.script("return document.body.innerText")
    assert f"{A}: {config.ACCEPT}" in text and f"{B}: {config.REJECT}" in text

    # Pick A's: show A's prediction, duplicate it into the adjudicator's annotation, accept, submit.
    tab = tab_of(predictions[A])
    page.browser.find_element(By.CSS_SELECTOR, tab).click()
    page.wait(lambda b: page.state()["selected"]["createdBy"] == A)
    keep_screenshot(page, tmp_path, "annotation-adjudication.png")
    page.browser.find_element(By.CSS_SELECTOR, f"{tab} .lsf-annotation-button__trigger").click()
    page.wait(lambda b: b.find_element(By.XPATH, "//*[normalize-space(text())='Duplicate Annotation']")).click()
    page.wait(lambda b: page.state()["selected"]["type"] == "annotation"
              and [r["type"] for r in page.state()["selected"]["regions"]] == ["rectangleregion"])
    page.press(HOTKEYS[config.ACCEPT])
    page.wait(lambda b: [r["value"]["choices"] for r in page.results(config.VERDICT)] == [[config.ACCEPT]])
    submit(page)
    wait_for_submission(ls_connection, adjudication_task)

    cli("annotate", "pull", "--project", record.name, *connection)
    with open_state(workspace) as state:
        (decision,) = current_tasks(state, record.name)[adjudication_task].annotations
    x, y, w, h = A_BOX
    assert (decision.annotator, decision.verdict) == (ADJ, config.ACCEPT)
    (picked,) = decision.regions
    assert_close(picked.box, (x, y, x + w, y + h), within=1e-6)

    # Downstream: finalize takes the adjudicator's pick.
    final = tmp_path / "final"
    cli("annotate", "finalize", "--project", "browser-adjudicate", "--out", str(final), "--workspace", str(workspace))
    (row,) = list(iter_rows(final, config="vgmed"))
    assert_close(row["boxes"], [(x, y, x + w, y + h)], within=1e-6)
    assert json.loads((final / "review_report.json").read_text())["kept"] == {"adjudicated": 1}
