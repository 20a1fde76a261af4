"""Window views in the real labelling page (Debian chromium, real Label Studio): the reviewer of a CT task pushed
with ``--source`` switches between the stored window and the presets with the mouse and with Ctrl+Right /
Ctrl+Left; every page's canvas must show that window of the source's Hounsfield units, rendered independently here
(tests/annotation/data.py: the DICOM linear window written out with numpy). On the lung page the reviewer draws an
outline and a box and drags the box's edge; ``vgmed annotate pull`` must return both in the stored image's pixel
frame within one pixel of where the mouse put them, together with the builder's regions of the first page.

Set ``VGMED_SCREENSHOTS=docs`` to keep the screenshot that docs/annotation.md shows; the canvas figures of every
view are printed (``pytest -s``) and written to ``canvas_fit.json`` in the test's folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.annotation.data import HEIGHT, STORED_CT_WINDOW, WIDTH, ct_values, linear_window, make_view_dataset
from tests.annotation.lsf_page import ImageGeometry, LabellingPage
from tests.annotation.test_browser import (HOTKEYS, assert_close, canvas_fit, cli, keep_screenshot, pixels_of, remote,
                                           region_by_id, submit, wait_for_submission)
from tests.fixtures.label_studio import ANNOTATOR_PASSWORD, ANNOTATORS
from vgmed_data.annotation import config
from vgmed_data.annotation.pull import current_tasks
from vgmed_data.annotation.state import open_state
from vgmed_data.annotation.views import CT_PRESETS
from vgmed_data.imaging.windowing import PRESETS

pytestmark = [pytest.mark.labelstudio, pytest.mark.browser]

A = ANNOTATORS[0]
PAGES = (STORED_CT_WINDOW, *CT_PRESETS)  # page 1 is the stored image
OUTLINE = [(8.0, 20.0), (24.0, 22.0), (16.0, 30.0)]  # image pixels aimed at on the lung page
BOX = (36.0, 6.0, 46.0, 16.0)  # dragged on the lung page, then its right edge moved
EDGE_SHIFT = 24  # CSS pixels


def expected_view(window: str) -> np.ndarray:
    preset = PRESETS[window]
    return linear_window(ct_values(), preset.center, preset.width).astype(int)


def show_page(page: LabellingPage, number: int, *, previous_src: str) -> ImageGeometry:
    """Wait until page ``number`` of the views is shown and its image drawn; its geometry."""
    page.wait(lambda b: page.script("return document.querySelector('.lsf-pagination__page-indicator').innerText")
              .split()[0] == str(number))
    geometry = page.wait(lambda b: (g := page.geometry()) is not None and page.image_src != previous_src and g)
    centre = geometry.to_screen(WIDTH / 2, HEIGHT / 2)
    page.wait(lambda b: page.pixels([centre])[0][3] == 255)
    return geometry


def check_view(page: LabellingPage, geometry: ImageGeometry, window: str, figures: dict[str, Any]) -> None:
    """The canvas shows this window of the source values: waits (the new page's image may still be drawing) until
    the unshifted fit is far better than a one-pixel shift, then records the figures."""
    grey = expected_view(window)
    page.wait(lambda b: (fit := canvas_fit(page, geometry, grey))[0] < fit[1] / 4, timeout=60)
    error, shifted = canvas_fit(page, geometry, grey)
    # Not another view: each window whose render differs clearly from this one (mean > 10 grey levels; soft tissue
    # (C 40) and the stored abdomen window (C 50) differ by less) fits at least twice as badly. (Label Studio may
    # draw the image resampled to the stage's size and then zoomed, which leaves a one-pixel beat pattern: the
    # error of the right view is not zero.)
    others = {other: canvas_fit(page, geometry, expected_view(other))[0] for other in PAGES if other != window
              and np.mean(np.abs(expected_view(other) - grey)) > 10}
    assert others and all(value > 2 * error for value in others.values()), (window, error, others)
    figures[window] = {"mean_abs_error": round(error, 2), "one_pixel_shift": round(shifted, 2),
                       "closest_other_view": round(min(others.values()), 2)}


def next_page_by_hotkey(page: LabellingPage, key: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    page.script("if (document.activeElement) document.activeElement.blur();")
    ActionChains(page.browser).key_down(Keys.CONTROL).send_keys(key).key_up(Keys.CONTROL).perform()


def test_reviewer_switches_ct_presets_and_edits_on_the_lung_view(tmp_path: Path, label_studio, ls_connection,
                                                                 ls_users, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    dataset, samples = make_view_dataset(tmp_path / "ds", tmp_path / "src")
    ct = samples[0]
    workspace = tmp_path / "ws"
    cli("annotate", "push", str(dataset), "--project", "browser-views", "--annotators", "1", "--source",
        f"tiny={tmp_path / 'src'}", "--document-root", str(ls_connection.document_root),
        *remote(workspace, ls_connection))
    with open_state(workspace) as state:
        project_id = state.project("browser-views").project_id
        task_id = state.tasks("browser-views")[ct.id]

    label_studio.set_password(A)
    page = LabellingPage(browser, label_studio.url)
    page.log_in(A, ANNOTATOR_PASSWORD)
    geometry = page.open_task(project_id=project_id, task_id=task_id, predictions=1)
    figures: dict[str, Any] = {}

    # Page 1: the stored image with the builder's regions; the side panel names every page.
    text = page.script("return document.body.innerText")
    assert "1. stored window (abdomen)" in text and "3. lung (C -600, W 1500)" in text
    assert {r["id"] for r in page.state()["selected"]["regions"]} == {"box-0", "box-1", "mask-0"}
    check_view(page, geometry, STORED_CT_WINDOW, figures)
    keep_screenshot(page, tmp_path, "annotation-views-stored.png")

    # Page 2 with the mouse (the pagination arrow under the image), pages 3-6 with Ctrl+Right, back with Ctrl+Left.
    page.browser.find_element(By.CSS_SELECTOR, ".lsf-pagination__btn_arrow-right:not("
                              ".lsf-pagination__btn_arrow-right-double)").click()
    geometry = show_page(page, 2, previous_src=page.image_src)
    check_view(page, geometry, PAGES[1], figures)
    for number in range(3, len(PAGES) + 1):
        next_page_by_hotkey(page, Keys.ARROW_RIGHT)
        geometry = show_page(page, number, previous_src=page.image_src)
        check_view(page, geometry, PAGES[number - 1], figures)
    lung = PAGES.index("lung") + 1
    for number in range(len(PAGES) - 1, lung - 1, -1):
        next_page_by_hotkey(page, Keys.ARROW_LEFT)
        geometry = show_page(page, number, previous_src=page.image_src)
    check_view(page, geometry, "lung", {})

    # On the lung page: an outline (three clicks, a click on the first closes it) ...
    clicks = page.draw_outline(geometry, OUTLINE, label="liver")
    # ... and a box dragged with the rectangle tool, whose right edge is then moved.
    page.browser.find_element(By.XPATH, "//*[text()='Box (rectangle; may be rotated)']/following::*[contains("
                              "concat(' ', @class, ' '), ' lsf-label ')][starts-with(normalize-space(.), 'liver')][1]"
                              ).click()
    page.wait(lambda b: page.state()["tool"] == "RectangleTool")
    corners = [tuple(round(v) for v in geometry.to_screen(x, y)) for x, y in (BOX[:2], BOX[2:])]
    page.drag(corners[0], corners[1])
    drawn = page.wait(lambda b: [r for r in page.state()["selected"]["regions"]
                                 if r["type"] == "rectangleregion" and r["id"] not in ("box-0", "box-1")])
    new_box = drawn[0]["id"]
    page.press("u")
    page.wait(lambda b: not any(r["selected"] for r in page.state()["selected"]["regions"]))
    box = pixels_of(next(r for r in page.state()["selected"]["regions"] if r["id"] == new_box))
    page.click(*geometry.to_screen((box[0] + box[2]) / 2, (box[1] + box[3]) / 2))
    anchor = page.wait(lambda b: page.anchor("middle-right"))
    assert_close(anchor, geometry.to_screen(box[2], (box[1] + box[3]) / 2), within=1.0)
    start = (round(anchor[0]), round(anchor[1]))
    page.drag(start, (start[0] + EDGE_SHIFT, start[1]))
    moved_right = geometry.to_image(anchor[0] + EDGE_SHIFT, anchor[1])[0]
    page.wait(lambda b: abs(pixels_of(next(r for r in page.state()["selected"]["regions"]
                                           if r["id"] == new_box))[2] - box[2]) > 1)
    page.press("u")
    page.wait(lambda b: not any(r["selected"] for r in page.state()["selected"]["regions"]))
    pages = dict(page.script("return Htx.annotationStore.selected.regions.map(r => [String(r.id).split('#')[0], "
                             "r.item_index])"))
    builder = {"box-0", "box-1", "mask-0"}
    assert len(pages) == 5 and {pages[i] for i in builder} == {0} and {pages[i] for i in set(pages) - builder} == {
        lung - 1}  # the regions drawn here belong to the lung page
    page.press(HOTKEYS[config.REGION_FIXED])
    page.wait(lambda b: [r["value"]["choices"] for r in page.results(config.VERDICT)] == [[config.REGION_FIXED]])
    keep_screenshot(page, tmp_path, "annotation-views-lung.png")
    submit(page)
    wait_for_submission(ls_connection, task_id)

    cli("annotate", "pull", "--project", "browser-views", *remote(workspace, ls_connection))
    with open_state(workspace) as state:
        (annotation,) = current_tasks(state, "browser-views")[task_id].annotations
    assert annotation.verdict == config.REGION_FIXED
    # The builder's regions (page 1) untouched, the lung page's regions in the same frame, within one pixel.
    for index, expected in enumerate(ct.boxes):
        assert_close(region_by_id(annotation, f"box-{index}").box, expected, within=1e-6)
    (outline,) = [r for r in annotation.regions if r.kind == "polygon"]
    assert_close(outline.points, [geometry.to_image(*point) for point in clicks], within=1.0)
    assert_close(outline.points, OUTLINE, within=1.0)
    drawn_box = region_by_id(annotation, new_box).box
    assert moved_right - box[2] > 2  # the drag really moved the edge
    assert_close(drawn_box, (box[0], box[1], moved_right, box[3]), within=1.0)
    assert_close(drawn_box, (BOX[0], BOX[1], moved_right, BOX[3]), within=1.0)
    figures["pull_error_px"] = {
        "outline": round(float(np.abs(np.asarray(outline.points) - np.asarray(OUTLINE)).max()), 3),
        "box": round(float(np.abs(np.asarray(drawn_box) - np.asarray((BOX[0], BOX[1], moved_right, BOX[3]))).max()),
                     3)}
    (tmp_path / "canvas_fit.json").write_text(json.dumps(figures, indent=1))
    print(json.dumps(figures))
