"""Label Studio's labelling page (the Label Studio Frontend, LSF) as the browser tests drive it.

What the page exposes and these helpers read (Label Studio 1.23.2, observed in chromium):

- ``window.Htx.annotationStore``: ``selected`` (the annotation or prediction shown), ``annotations``,
  ``predictions`` (``createdBy`` is the prediction's ``model_version``); each has ``regions`` (``x``, ``y``,
  ``width``, ``height`` in percent of the image for rectangles, ``points`` for polygons) and
  ``serializeAnnotation()`` (the results as they will be saved).
- The image is drawn on a Konva canvas; the ``<img>`` inside ``.lsf-image`` is visually hidden but carries the
  image's on-screen placement (its CSS transform follows the stage's zoom and pan), so its
  ``getBoundingClientRect()`` and ``naturalWidth``/``naturalHeight`` give the image-pixel <-> screen mapping.
  ``window.Konva.stages[0]`` is the stage: its ``Transformer`` (shown around a selected region) has named anchors
  such as ``middle-right``.

Every wait is on page state (``WebDriverWait``), never a fixed sleep.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vgmed_data.annotation import config

WAIT_S = 180.0  # generous: the frontend is slow on a loaded 2-core machine; waits end as soon as the state is there


@dataclass(frozen=True)
class ImageGeometry:
    """Where the image is on screen (CSS pixels) and its natural size (image pixels)."""

    left: float
    top: float
    width: float
    height: float
    natural_width: int
    natural_height: int
    visible: tuple[float, float, float, float]  # the stage container: left, top, right, bottom

    def to_screen(self, x: float, y: float) -> tuple[float, float]:
        return (self.left + x * self.width / self.natural_width, self.top + y * self.height / self.natural_height)

    def to_image(self, x: float, y: float) -> tuple[float, float]:
        return ((x - self.left) * self.natural_width / self.width, (y - self.top) * self.natural_height / self.height)

    def shown(self, x: float, y: float) -> bool:
        left, top, right, bottom = self.visible
        return left + 2 <= x <= right - 2 and top + 2 <= y <= bottom - 2


_GEOMETRY = """
const holder = document.querySelector('.lsf-image');
const img = holder && holder.querySelector('img');
if (!img || !img.complete || !img.naturalWidth || !window.Konva || !Konva.stages.length) return null;
const r = img.getBoundingClientRect();
const c = Konva.stages[0].container().getBoundingClientRect();
return [r.left, r.top, r.width, r.height, img.naturalWidth, img.naturalHeight, c.left, c.top, c.right, c.bottom,
        img.getAttribute('src')];
"""

_STATE = """
const store = window.Htx && Htx.annotationStore;
if (!store || !store.selected) return null;
const region = r => ({id: String(r.id).split('#')[0], type: r.type, x: r.x, y: r.y, width: r.width,
  height: r.height, rotation: r.rotation, closed: r.closed, selected: !!r.selected,
  points: r.points ? r.points.map(p => [p.x, p.y]) : null,
  labels: (r.labeling && r.labeling.selectedLabels) ? r.labeling.selectedLabels.map(l => l.value) : []});
const entity = a => ({id: a.id, pk: a.pk, type: a.type, createdBy: a.createdBy, regions: a.regions.map(region)});
const image = store.names.get(arguments[0]);
const tool = image && image.getToolsManager().findSelectedTool();
return {selected: entity(store.selected), tool: tool ? tool.toolName : null, annotations: store.annotations.map(entity),
        predictions: store.predictions.map(entity),
        results: store.selected.serializeAnnotation().map(r => ({from_name: r.from_name, type: r.type,
          id: r.id, value: r.value.rle ? {rle: true} : r.value}))};
"""

# The image layer is the stage's first canvas; read the pixels under screen points (CSS px = canvas px at scale 1).
_PIXELS = """
const canvas = Konva.stages[0].container().querySelector('canvas');
const box = canvas.getBoundingClientRect(), ctx = canvas.getContext('2d');
const sx = canvas.width / box.width, sy = canvas.height / box.height;
return arguments[0].map(([x, y]) => Array.from(ctx.getImageData(Math.floor((x - box.left) * sx),
  Math.floor((y - box.top) * sy), 1, 1).data));
"""

_WHOAMI = """
const done = arguments[arguments.length - 1];
fetch('/api/current-user/whoami').then(r => r.json()).then(u => done(u.email), () => done(null));
"""

_ANCHOR = """
const stage = Konva.stages[0], c = stage.container().getBoundingClientRect();
for (const t of stage.find('Transformer')) {
  if (!t.nodes().length || !t.isVisible()) continue;
  const a = t.findOne('.' + arguments[0]);
  if (a) { const p = a.getAbsolutePosition(); return [c.left + p.x, c.top + p.y]; }
}
return null;
"""


class LabellingPage:
    """One browser on one Label Studio server."""

    def __init__(self, browser: Any, url: str) -> None:
        self.browser = browser
        self.url = url.rstrip("/")

    def wait(self, condition: Callable[[Any], Any], *, timeout: float = WAIT_S) -> Any:
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.browser, timeout, poll_frequency=0.1).until(condition)

    def script(self, code: str, *args: Any) -> Any:
        return self.browser.execute_script(code, *args)

    def log_in(self, email: str, password: str) -> None:
        """Log out whoever is logged in, then log in through the login form; waits until the server's
        ``whoami`` names ``email`` (a shared browser must not keep the previous user's session)."""
        from selenium.webdriver.common.by import By

        self.browser.get(f"{self.url}/user/logout/")
        self.browser.delete_all_cookies()
        self.browser.get(f"{self.url}/user/login/")
        self.browser.find_element(By.NAME, "email").clear()
        self.browser.find_element(By.NAME, "email").send_keys(email)
        self.browser.find_element(By.NAME, "password").send_keys(password)
        self.browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        self.wait(lambda b: "/user/login" not in b.current_url)
        self.wait(lambda b: b.execute_async_script(_WHOAMI) == email)

    def open_task(self, *, project_id: int, task_id: int, predictions: int = 0) -> ImageGeometry:
        """Open the task in the labelling view and wait until the image is drawn and the store holds the
        expected number of predictions; returns the image geometry."""
        self.browser.get(f"{self.url}/projects/{project_id}/data?task={task_id}")
        self.wait(lambda b: (self.state() or {}).get("predictions") is not None
                  and len(self.state()["predictions"]) >= predictions)
        geometry = self.wait(lambda b: self.geometry())
        centre = geometry.to_screen(geometry.natural_width / 2, geometry.natural_height / 2)
        self.wait(lambda b: self.pixels([centre])[0][3] == 255)  # the image layer has drawn the image
        return self.geometry()

    def state(self) -> dict[str, Any] | None:
        return self.script(_STATE, config.IMAGE)

    def geometry(self) -> ImageGeometry | None:
        values = self.script(_GEOMETRY)
        if values is None:
            return None
        left, top, width, height, natural_width, natural_height, *visible, self.image_src = values
        return ImageGeometry(left, top, width, height, int(natural_width), int(natural_height), tuple(visible))

    def pixels(self, points: Sequence[tuple[float, float]]) -> list[list[int]]:
        return self.script(_PIXELS, [list(p) for p in points])

    def anchor(self, name: str) -> tuple[float, float] | None:
        position = self.script(_ANCHOR, name)
        return None if position is None else (position[0], position[1])

    def click(self, x: float, y: float) -> None:
        from selenium.webdriver.common.actions.action_builder import ActionBuilder

        actions = ActionBuilder(self.browser)
        actions.pointer_action.move_to_location(round(x), round(y))
        actions.pointer_action.click()
        actions.perform()

    def drag(self, start: tuple[int, int], end: tuple[int, int], *, steps: int = 10) -> None:
        """Press at ``start``, move in ``steps`` straight-line steps, release at ``end`` (integer CSS pixels)."""
        from selenium.webdriver.common.actions.action_builder import ActionBuilder

        actions = ActionBuilder(self.browser, duration=20)
        pointer = actions.pointer_action
        pointer.move_to_location(*start)
        pointer.pointer_down()
        for step in range(1, steps + 1):
            pointer.move_to_location(round(start[0] + (end[0] - start[0]) * step / steps),
                                     round(start[1] + (end[1] - start[1]) * step / steps))
        pointer.pointer_up()
        actions.perform()

    def press(self, keys: str) -> None:
        """Type keys to the page (hotkeys), with nothing focused that would swallow them."""
        from selenium.webdriver.common.action_chains import ActionChains

        self.script("if (document.activeElement) document.activeElement.blur();")
        ActionChains(self.browser).send_keys(keys).perform()

    def draw_outline(self, geometry: ImageGeometry, points: Sequence[tuple[float, float]], *,
                     label: str) -> list[tuple[int, ...]]:
        """A closed polygon through ``points`` (image pixels): its label under "Outline (polygon)" picks the tool,
        one click per point, a click on the first point closes it; then unselect. Returns the screen clicks."""
        from selenium.webdriver.common.by import By

        self.browser.find_element(By.XPATH, "//*[text()='Outline (polygon)']/following::*[contains(concat(' ', "
                                  f"@class, ' '), ' lsf-label ')][starts-with(normalize-space(.), '{label}')][1]").click()
        self.wait(lambda b: self.state()["tool"] == "PolygonTool")
        clicks = [tuple(round(v) for v in geometry.to_screen(x, y)) for x, y in points]
        assert all(geometry.shown(*point) for point in clicks)
        for point in [*clicks, clicks[0]]:
            self.click(*point)
        self.wait(lambda b: any(r["type"] == "polygonregion" and r["closed"] for r in self.state()["selected"]["regions"]))
        self.press("u")
        return clicks

    def results(self, from_name: str) -> list[dict[str, Any]]:
        return [r for r in (self.state() or {}).get("results", []) if r["from_name"] == from_name]

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.browser.save_screenshot(str(path))
        return path
