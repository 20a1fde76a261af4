"""The leaderboard and viewer page in real headless chromium: tiny-model runs published to the Hub-compatible
server, the page reading that results dataset, the numbers checked against the run files."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.app import expected
from tests.app.conftest import ROOT, EvalRuns

pytestmark = [pytest.mark.browser, pytest.mark.hub]
SCREENSHOT = ROOT / "docs" / "leaderboard.png"  # written only with VGMED_UPDATE_SCREENSHOT=1
WAIT_S = 30


@pytest.fixture(scope="module")
def page_url(eval_runs: EvalRuns, hub_server: Any, hub_token: str, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[str]:
    from vgmed_data.eval.results.page import app
    from vgmed_data.eval.results.publish import publish_run

    repo_id = "vgmed-test/leaderboard-page"
    for run_dir in eval_runs.runs.values():
        publish_run(run_dir, repo_id=repo_id, token=hub_token)
    results = app.load_results(repo_id, token=hub_token, cache_dir=str(tmp_path_factory.mktemp("space-cache")))
    server = app.serve_in_thread(results, port=0)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _wait(browser: Any, condition: Any) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, WAIT_S).until(condition)


def _rows(browser: Any) -> list[dict[str, Any]]:
    """The table as the user sees it: one dict per row, each cell's raw value (data-value) and text.

    Read in one script call: a snapshot of the DOM, so a re-render between two element reads cannot leave the
    test holding stale elements."""
    return browser.execute_script(
        "return Array.from(document.querySelectorAll('#leaderboard tbody tr')).map(tr => Object.fromEntries("
        "Array.from(tr.querySelectorAll('td')).map(td => [td.getAttribute('data-col'),"
        " [td.getAttribute('data-value'), td.innerText.trim()]])));")


def _select(browser: Any, css: str, value: str) -> None:
    """Choose an option as a user would; retried while the page is still re-rendering the list (an async
    refresh can replace the options between finding and clicking them)."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    def chosen(b: Any) -> bool:
        try:
            select = Select(b.find_element(By.CSS_SELECTOR, css))
            select.select_by_value(value)
            return select.first_selected_option.get_attribute("value") == value
        except (StaleElementReferenceException, NoSuchElementException):
            return False

    _wait(browser, chosen)


def _check_numbers(rows: list[dict[str, Any]], eval_runs: EvalRuns, *, modality: str = "all") -> None:
    by_model = {expected.model_of(run_dir): run_dir for run_dir in eval_runs.runs.values()}
    assert sorted(row["model"][0] for row in rows) == sorted(by_model)
    for row in rows:
        want = expected.slice_numbers(by_model[row["model"][0]], modality=modality)
        assert int(row["n"][0]) == want["n"]
        for col in ("accuracy", "ar", "kl", "js"):
            assert float(row[col][0]) == pytest.approx(want[col], abs=1e-9), col
            assert row[col][1] == f"{want[col]:.3f}"
        assert int(row["best_layer"][0]) == want["best_layer"]
        assert row["method"][1] == "baseline" and row["delta_accuracy"][1] == "–"


def _check_vgrefine(rows: list[dict[str, Any]], eval_runs: EvalRuns, *, modality: str = "all") -> None:
    qwen = eval_runs.runs["qwen2_vl"]
    assert [r["model"][0] for r in rows] == [expected.model_of(qwen)] and rows[0]["method"][1] == "vgrefine"
    refined = expected.vgrefine_accuracy(qwen, modality=modality)
    base = expected.slice_numbers(qwen, modality=modality)["accuracy"]
    assert float(rows[0]["accuracy"][0]) == pytest.approx(refined, abs=1e-9)
    assert float(rows[0]["delta_accuracy"][0]) == pytest.approx(refined - base, abs=1e-9)


def test_leaderboard_numbers_filters_sorting_and_viewer(browser: Any, page_url: str, eval_runs: EvalRuns,
                                                        tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    browser.get(page_url)
    _wait(browser, lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")
    assert not browser.find_element(By.TAG_NAME, "body").get_attribute("data-error")
    assert len(_rows(browser)) == 3  # two baseline rows and the Qwen2-VL run's VGRefine row
    # The protocol filter offers the protocols the runs recorded (run.json, read here independently of the page).
    protocols = {json.loads((run_dir / "run.json").read_text())["protocol"] for run_dir in eval_runs.runs.values()}
    options = [o.get_attribute("value") for o in browser.find_elements(By.CSS_SELECTOR, "#filter-protocol option")]
    assert options == ["all", *sorted(protocols)] and protocols == {"default"}
    _select(browser, "#filter-protocol", "default")
    assert len(_rows(browser)) == 3
    _select(browser, "#filter-protocol", "all")
    _select(browser, "#filter-method", "baseline")
    rows = _rows(browser)
    assert len(rows) == 2
    _check_numbers(rows, eval_runs)

    # Filtering: MR only -> the MR slice of each run; then back to all.
    _select(browser, "#filter-modality", "MR")
    rows = _rows(browser)
    assert len(rows) == 2 and all(0 < int(r["n"][0]) < 12 for r in rows)
    _check_numbers(rows, eval_runs, modality="MR")
    # Question type and modality together: one slice; a method with no rows empties the table.
    _select(browser, "#filter-question-type", "localization")
    assert all(int(r["n"][0]) == expected.slice_numbers(eval_runs.runs["llava"], modality="MR",
                                                         question_type="localization")["n"] for r in _rows(browser))
    _select(browser, "#filter-question-type", "all")
    _select(browser, "#filter-method", "vgrefine")  # a real option: the published results hold VGRefine rows
    _check_vgrefine(_rows(browser), eval_runs, modality="MR")
    _select(browser, "#filter-modality", "all")
    _check_vgrefine(_rows(browser), eval_runs)
    assert browser.find_element(By.ID, "row-count").text == "1 row"
    _select(browser, "#filter-method", "baseline")
    assert len(_rows(browser)) == 2

    # Sorting: by AR, descending then ascending.
    header = browser.find_element(By.CSS_SELECTOR, '#leaderboard th[data-col="ar"]')
    header.click()
    values = [float(r["ar"][0]) for r in _rows(browser)]
    assert values == sorted(values, reverse=True) and header.get_attribute("aria-sort") == "descending"
    header.click()
    values = [float(r["ar"][0]) for r in _rows(browser)]
    assert values == sorted(values) and header.get_attribute("aria-sort") == "ascending"

    # Viewer: pick the llava run's third sample; both overlays load as real images.
    llava = eval_runs.runs["llava"]
    row = browser.find_element(By.CSS_SELECTOR, f'#leaderboard td[data-value="{expected.model_of(llava)}"]')
    row.click()
    record = expected.records(llava)[2]
    _wait(browser, lambda b: b.find_elements(By.CSS_SELECTOR, f'#viewer-sample option[value="{record["id"]}"]'))
    _select(browser, "#viewer-sample", record["id"])
    _wait(browser, lambda b: b.find_element(By.ID, "sample").get_attribute("data-sample-id") == record["id"])
    assert browser.find_element(By.ID, "question").text == record["question"]
    for image_id in ("img-baseline", "img-vgrefine"):
        _wait(browser, lambda b, i=image_id: b.execute_script(
            "const img = document.getElementById(arguments[0]); return img.complete && img.naturalWidth > 0;", i))
        width = browser.execute_script(f"return document.getElementById('{image_id}').naturalWidth")
        assert width >= 320  # drawn at display size from the 128 px stored image
    verdict = browser.find_element(By.CSS_SELECTOR, "#pred-baseline span").text.strip()
    assert verdict == ("correct" if record["correct"] else "wrong")
    assert browser.find_element(By.ID, "pred-vgrefine").text == "not run"

    # The Qwen2-VL run: both answers, shown readable (random models emit bytes that are not UTF-8).
    _select(browser, "#filter-method", "all")
    qwen = eval_runs.runs["qwen2_vl"]
    browser.find_element(By.CSS_SELECTOR, f'#leaderboard td[data-value="{expected.model_of(qwen)}"]').click()
    record = expected.records(qwen)[1]
    _wait(browser, lambda b: b.find_elements(By.CSS_SELECTOR, f'#viewer-sample option[value="{record["id"]}"]'))
    _select(browser, "#viewer-sample", record["id"])
    _wait(browser, lambda b: b.find_element(By.ID, "sample").get_attribute("data-sample-id") == record["id"])
    for target, prediction in (("pred-baseline", record["prediction"]), ("pred-vgrefine", record["vgrefine"]["answer"])):
        shown = browser.find_element(By.CSS_SELECTOR, f"#{target} q").get_attribute("textContent")
        assert shown == expected.readable(prediction) and "\ufffd" not in shown
    _wait(browser, lambda b: b.execute_script(
        "const img = document.getElementById('img-vgrefine'); return img.complete && img.naturalWidth > 0;"))

    browser.execute_script("window.scrollTo(0, 0)")
    update = os.environ.get("VGMED_UPDATE_SCREENSHOT") == "1"
    screenshot = SCREENSHOT if update else tmp_path / "leaderboard.png"
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1360, max(900, int(height) + 40))
    assert browser.save_screenshot(str(screenshot))
    assert screenshot.stat().st_size > 10_000
