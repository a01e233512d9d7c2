"""A claim check's report.html in a real browser: headless Chromium (Debian's package) driven by Playwright.

Every image and chart loads, nothing goes wrong in the console, no request leaves the file, the answer is on
the first screen, and the pickers and the hover show the numbers of claims.csv and districts.csv. The test is
skipped when Chromium or Playwright is missing, unless CITYSIM_REQUIRE_BROWSER=1 (as `.ci/run` sets it): then
it fails and says how to install them.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from conftest import run_plot_check

REQUIRE_BROWSER = "CITYSIM_REQUIRE_BROWSER"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: Headless, as root (no sandbox), and none of Chromium's own background connections, which a closed
#: network refuses (docs/report.md, "Tested in a browser").
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
FIRST_SCREEN = {"width": 1280, "height": 800}
#: What a page may load without leaving the file: itself and its embedded data: URLs.
LOCAL_SCHEMES = ("file:", "data:", "about:")
INSTALL = ("install them with `apt-get install -y --no-install-recommends chromium` (Debian's package, "
           "/usr/bin/chromium) and `python3 -m pip install -e \".[test]\"` (Playwright; never "
           "`playwright install`, which downloads a browser of its own)")


def _missing() -> list[str]:
    missing = [] if CHROMIUM else ["Chromium (no `chromium` on PATH)"]
    if importlib.util.find_spec("playwright") is None:
        missing.append("the Python package playwright")
    return missing


@dataclass
class Trouble:
    """What the page did that it must not: console errors, uncaught errors, dialogs, requests off the file."""

    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


@dataclass
class Report:
    folder: Path
    page: Any  # playwright.sync_api.Page
    trouble: Trouble


def _block_off_file(route: Any, trouble: Trouble) -> None:
    url = route.request.url
    if url.startswith(LOCAL_SCHEMES):
        route.continue_()
    else:
        trouble.requests.append(url)
        route.abort()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Report]:
    """The plot-check claim check's report.html, open at file:// in headless Chromium, 1280 x 800."""
    missing = _missing()
    if missing and os.environ.get(REQUIRE_BROWSER) == "1":
        pytest.fail(f"{REQUIRE_BROWSER}=1 but {' and '.join(missing)} missing: {INSTALL}.")
    if missing:
        pytest.skip(f"{' and '.join(missing)} missing ({INSTALL})")
    from playwright.sync_api import sync_playwright

    folder = run_plot_check(tmp_path_factory.mktemp("browser"))
    trouble = Trouble()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=FIRST_SCREEN)
            page.on("console", lambda message: message.type == "error" and trouble.console.append(message.text))
            page.on("pageerror", lambda error: trouble.errors.append(str(error)))
            page.on("dialog", lambda dialog: (trouble.dialogs.append(dialog.message), dialog.dismiss()))
            page.on("request", lambda request: None if request.url.startswith(LOCAL_SCHEMES)
                    else trouble.requests.append(request.url))
            page.route("**/*", lambda route: _block_off_file(route, trouble))
            page.goto((folder / "report.html").as_uri(), wait_until="load")
            yield Report(folder, page, trouble)
        finally:
            browser.close()


def _shown(report: Report, list_id: str, name: str) -> str:
    return str(report.page.text_content(f'#{list_id} dd[data-field="{name}"]'))


def test_every_image_and_chart_has_loaded(report):
    """Each <img> (the PNG charts and the GIF replay) decoded (naturalWidth > 0), and each interactive chart is
    drawn with a row per metric or district."""
    images = report.page.eval_on_selector_all("img", "all => all.map(i => [i.alt, i.complete, i.naturalWidth])")
    drawn = [*(report.folder / "figures").glob("*.png"), *(report.folder / "figures").glob("*.gif")]
    assert len(images) == len(drawn) and any(path.suffix == ".gif" for path in drawn)
    assert all(complete and width > 0 for _alt, complete, width in images), images
    charts = report.page.eval_on_selector_all("svg.explore-chart", """all => all.map(svg => {
        const box = svg.getBoundingClientRect();
        return [svg.id, box.width, box.height, svg.querySelectorAll(".row").length,
                svg.querySelectorAll(".bar").length]; })""")
    claims = pd.read_csv(report.folder / "claims.csv")
    districts = pd.read_csv(report.folder / "districts.csv")
    assert [(name, rows) for name, _w, _h, rows, _bars in charts] == [
        ("explore-reductions", claims["metric"].nunique()), ("explore-districts", districts["district"].nunique())]
    assert all(width > 300 and height > 50 for _name, width, height, _rows, _bars in charts), charts
    assert charts[1][4] == 2 * districts["district"].nunique()  # a baseline and a smart bar per district


def test_the_answer_opens_the_page_on_its_first_screen(report):
    """<section id="answer"> is the body's first element, lies inside 1280 x 800 and names each claim."""
    assert report.page.evaluate("document.body.firstElementChild.id") == "answer"
    box = report.page.locator("#answer").bounding_box()
    assert box["x"] >= 0 and box["y"] >= 0
    assert box["x"] + box["width"] <= FIRST_SCREEN["width"] and box["y"] + box["height"] <= FIRST_SCREEN["height"]
    text = report.page.text_content("#answer")
    for claimed in pd.read_csv(report.folder / "claims.csv")["claimed_pct"]:
        assert f"claimed {claimed:g} %" in text


def test_choosing_another_metric_shows_its_row_of_claims_csv(report):
    """Picking `handling` replaces the arrival row's values with the handling row's, as claims.csv has them."""
    claims = pd.read_csv(report.folder / "claims.csv").set_index("metric")
    report.page.select_option("#explore-metric", "arrival")
    assert _shown(report, "explore-claim", "baseline") == f"{claims.loc['arrival', 'baseline_mean_min']:.2f}"
    report.page.select_option("#explore-metric", "handling")
    handling = claims.loc["handling"]
    assert _shown(report, "explore-claim", "baseline") == f"{handling['baseline_mean_min']:.2f}"
    assert _shown(report, "explore-claim", "smart") == f"{handling['smart_mean_min']:.2f}"
    assert _shown(report, "explore-claim", "reduction") == f"{handling['reduction_pct']:.1f} %"
    assert _shown(report, "explore-claim", "pairs") == str(handling["replications"])
    assert _shown(report, "explore-claim", "claimed") == f"{handling['claimed_pct']:g} %"


def test_choosing_another_district_shows_its_mean_arrival(report):
    """Picking `South` shows its baseline and smart arrival: the mean over replications in districts.csv."""
    districts = pd.read_csv(report.folder / "districts.csv")
    south = districts[districts["district"] == "South"].groupby("config")["arrival_min"].mean()
    report.page.select_option("#explore-district", "South")
    assert _shown(report, "explore-district", "baseline") == f"{south['baseline']:.2f}"
    assert _shown(report, "explore-district", "smart") == f"{south['smart']:.2f}"
    assert _shown(report, "explore-district", "pairs") == str(districts["replication"].nunique())
    interval = _shown(report, "explore-district", "ci")
    assert interval.endswith(" %") and " to " in interval


def test_hovering_a_row_shows_its_values_and_clicking_picks_it(report):
    """The tooltip of the handling row names its baseline and smart means; a click makes it the chosen metric."""
    handling = pd.read_csv(report.folder / "claims.csv").set_index("metric").loc["handling"]
    report.page.select_option("#explore-metric", "arrival")
    row = report.page.locator('#explore-reductions .row[data-label="handling"]')
    row.hover()
    tip = report.page.locator("#explore-tip")
    assert tip.is_visible()
    assert (f"baseline {handling['baseline_mean_min']:.2f} min, smart {handling['smart_mean_min']:.2f} min"
            in tip.text_content())
    row.click()
    assert report.page.input_value("#explore-metric") == "handling"


def test_names_from_input_files_stay_text(report):
    """The situation named <script>alert(1)</script> is an option's text, and no script of its ran."""
    assert report.page.text_content("#explore-situation option") == "<script>alert(1)</script>"
    assert "<b>bold</b> & friends" in report.page.text_content("body")
    assert report.trouble.dialogs == []


def test_nothing_went_wrong_and_nothing_left_the_file(report):
    """After the load and every interaction above: no console error, no uncaught error, no request off the file."""
    assert report.trouble.console == []
    assert report.trouble.errors == []
    assert report.trouble.requests == []
