"""Charts and reports: each plot function on a small synthetic frame, `citysim plot`, the HTML report."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from citysim.cli import EXIT_BAD_INPUT, EXIT_OK, main
from citysim.output import plots
from conftest import PLOT_CHECK_SMART_YAML, PLOT_CHECK_YAML, run_plot_check

HOURS = np.arange(24)


def _claims() -> pd.DataFrame:
    rows = []
    for situation in ("weekday", "rain"):
        for metric, claimed, value in (("arrival", 20.0, 30.0), ("handling", 35.0, 20.0)):
            rows.append({"scenario": situation, "metric": metric, "priority": "all", "baseline_mean_min": 10.0,
                         "smart_mean_min": 7.0, "reduction_pct": value, "ci_low_pct": value - 2,
                         "ci_high_pct": value + 2, "claimed_pct": claimed,
                         "verdict": "exceeded" if value > claimed else "fell short", "replications": 3})
    return pd.DataFrame(rows)


def _hourly() -> pd.DataFrame:
    parts = []
    for config, scale in (("baseline", 1.0), ("smart", 0.7)):
        parts.append(pd.DataFrame({"situation": "weekday", "config": config, "replication": 0, "hour": HOURS,
                                   "arrival_min": scale * (8 + np.sin(HOURS / 24 * 6.28)),
                                   "unit_utilisation": scale * 0.3, "call_taker_utilisation": 0.2,
                                   "expressway_kmh": 60.0,
                                   "crash_blockage_min": 100.0, "crash_delay_vehicle_h": 50.0}))
    return pd.concat(parts, ignore_index=True)


def _texts(figure: Figure) -> str:
    parts = [figure.get_suptitle() if hasattr(figure, "get_suptitle") else ""]
    for axis in figure.axes:
        parts += [axis.get_title(), axis.get_xlabel(), axis.get_ylabel()]
        parts += [t.get_text() for t in axis.get_xticklabels() + axis.get_yticklabels() + axis.texts]
        legend = axis.get_legend()
        if legend is not None:
            parts += [t.get_text() for t in legend.get_texts()]
    return " | ".join(parts)


def test_claim_chart_has_metrics_situations_claims_and_verdicts():
    """The claim chart has one panel per metric, the situations as rows, the claim and verdicts in the legend."""
    figure = plots.claim_chart(_claims())
    assert isinstance(figure, Figure) and len(figure.axes) == 2
    text = _texts(figure)
    for needle in ("weekday", "rain", "claimed 20 %", "claimed 35 %", "exceeded", "fell short", "reduction"):
        assert needle in text, needle


def test_distribution_chart_compares_baseline_and_smart():
    """ECDF panels per metric with a baseline and a smart curve each, minutes on the x axis."""
    samples = pd.DataFrame({"situation": "weekday", "config": ["baseline"] * 50 + ["smart"] * 50,
                            "metric": "arrival", "value_min": np.linspace(1, 20, 100)})
    figure = plots.distribution_chart(samples, "weekday")
    axis = figure.axes[0]
    assert len(axis.get_lines()) == 2 and "(min)" in axis.get_xlabel()
    labels = [t.get_text() for t in axis.get_legend().get_texts()]
    assert any(label.startswith("baseline") for label in labels) and any(s.startswith("smart") for s in labels)


def test_time_of_day_chart_has_arrival_and_speed():
    """Arrival by hour for both configurations and the expressway speed on a second axis."""
    figure = plots.time_of_day_chart(_hourly(), "weekday")
    text = _texts(figure)
    assert "arrival, baseline" in text and "arrival, smart" in text and "expressway speed" in text
    assert "(min)" in text and "(km/h)" in text


def test_district_map_labels_every_district_with_its_reduction():
    """The tile map shows each district's name and its arrival reduction in percent."""
    rows = []
    for district in ("Huangpu", "Pudong New Area", "Newtown"):
        rows += [{"situation": "weekday", "config": "baseline", "replication": 0, "district": district,
                  "arrival_min": 10.0, "incidents": 5},
                 {"situation": "weekday", "config": "smart", "replication": 0, "district": district,
                  "arrival_min": 7.5, "incidents": 5}]
    text = _texts(plots.district_map(pd.DataFrame(rows), "weekday"))
    assert "Huangpu" in text and "Pudong" in text and "Newtown" in text and "25 %" in text


def test_city_map_draws_land_roads_sites_and_incident_density():
    """The map draws each district ring and road link as a line, posts and stations as labelled points and
    the incidents as a hexbin density."""
    square = [(121.40, 31.20), (121.50, 31.20), (121.50, 31.30), (121.40, 31.30), (121.40, 31.20)]
    rows = [{"situation": "weekday", "layer": "district", "group": 0, "name": "A", "lon": lon, "lat": lat}
            for lon, lat in square]
    rows += [{"situation": "weekday", "layer": "road", "group": 0, "name": "arterial", "lon": lon, "lat": 31.25}
             for lon in (121.41, 121.49)]
    rows += [{"situation": "weekday", "layer": layer, "group": k, "name": "A", "lon": 121.45, "lat": 31.25}
             for layer in ("station", "post", "post") for k in range(1)]
    rng = np.random.default_rng(0)
    rows += [{"situation": "weekday", "layer": "incident", "group": k, "name": "theft", "lon": lon, "lat": lat}
             for k, (lon, lat) in enumerate(zip(rng.uniform(121.4, 121.5, 200), rng.uniform(31.2, 31.3, 200),
                                                strict=True))]
    figure = plots.city_map(pd.DataFrame(rows), "weekday")
    axis = figure.axes[0]
    assert len(axis.lines) == 2  # one district ring, one road
    assert len(axis.collections) == 3  # the hexbin, posts, stations
    assert axis.collections[0].get_array().sum() == 200
    labels = [t.get_text() for t in axis.get_legend().get_texts()]
    assert labels == ["patrol posts (2)", "police stations (1)"]


def test_attribution_waterfall_ends_at_the_total():
    """One bar per group plus the total, labelled on the x axis."""
    table = pd.DataFrame({"metric": "arrival", "group": ["a", "b", "total"], "levers": "x",
                          "contribution_pct": [20.0, 10.0, 30.0], "ci_low_pct": [18.0, 9.0, 29.0],
                          "ci_high_pct": [22.0, 11.0, 31.0], "share_of_total": [0.67, 0.33, 1.0],
                          "replications": 2})
    figure = plots.attribution_waterfall(table, "arrival")
    axis = figure.axes[0]
    assert [t.get_text() for t in axis.get_xticklabels()] == ["a", "b", "total"]
    assert "percentage points" in axis.get_ylabel()


def test_tornado_chart_has_low_and_high_bars_per_lever():
    """A low and a high bar per lever, biggest swing on top."""
    table = pd.DataFrame({"lever": ["x", "x", "y", "y"], "setting": ["low", "high"] * 2, "strength": 0.1,
                          "metric": "arrival", "reduction_pct": 1.0, "ci_low_pct": 0.5, "ci_high_pct": 1.5,
                          "change_pct_points": [-1.0, 1.0, -5.0, 4.0]})
    axis = plots.tornado_chart(table, "arrival").axes[0]
    assert [t.get_text() for t in axis.get_yticklabels()] == ["x", "y"]
    assert len(axis.patches) == 4


def test_resources_chart_has_utilisation_and_crashes():
    """Utilisation by hour (both configurations) and crash blockage and delay, units on every axis."""
    text = _texts(plots.resources_chart(_hourly(), "weekday"))
    for needle in ("patrol units, baseline", "call-takers, smart", "utilisation (%", "blockage (min", "vehicle-hours"):
        assert needle in text, needle


@pytest.fixture
def results_folder(tmp_path) -> Path:
    return run_plot_check(tmp_path)


def test_experiment_ends_with_figures_and_reports(results_folder):
    """The claim check writes PNG and SVG charts, report.md linking them and a self-contained report.html."""
    figures = results_folder / "figures"
    assert (figures / "claims.png").is_file() and (figures / "claims.svg").is_file()
    assert (figures / "map-script-alert-1-script.png").is_file()  # the situation's map, from map.csv
    assert len(list(figures.glob("*.png"))) >= 5
    report = (results_folder / "report.md").read_text(encoding="utf-8")
    assert "figures/claims.png" in report
    html = (results_folder / "report.html").read_text(encoding="utf-8")
    assert 'id="claims"' in html and "data:image/png;base64," in html and "http" not in html.split("<body>")[1]


def test_html_report_escapes_strings_from_files(results_folder):
    """A situation named <script> and an HTML description are escaped, never live markup (the interactive
    view's data carries the name with its angle brackets as JSON escapes)."""
    html = (results_folder / "report.html").read_text(encoding="utf-8")
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in html
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt; &amp; friends" in html


def test_plot_command_redraws_the_same_charts(results_folder):
    """`citysim plot` rebuilds every figure of the folder from its stored tables alone."""
    figures = results_folder / "figures"
    before = sorted(p.name for p in figures.iterdir())
    shutil.rmtree(figures)
    assert main(["plot", str(results_folder)]) == EXIT_OK
    assert sorted(p.name for p in figures.iterdir()) == before


def test_plot_command_on_an_empty_folder_is_an_input_error(tmp_path):
    """A folder without chart tables gets a clear error, exit 2."""
    assert main(["plot", str(tmp_path)]) == EXIT_BAD_INPUT


def test_plot_include_adds_attribution_and_sensitivity_findings(results_folder, tmp_path):
    """`citysim plot DIR --include A S` adds the included folders' charts and findings to both reports."""
    attribution, sensitivity = tmp_path / "attr", tmp_path / "sens"
    attribution.mkdir()
    sensitivity.mkdir()
    pd.DataFrame({"metric": "arrival", "group": ["centre", "total"], "levers": "command_centre",
                  "contribution_pct": [12.0, 12.0], "ci_low_pct": [11.0, 11.0], "ci_high_pct": [13.0, 13.0],
                  "share_of_total": [1.0, 1.0], "replications": 2}).to_csv(attribution / "attribution.csv", index=False)
    pd.DataFrame({"metric": ["arrival"], "claimed_pct": [20.0], "reachable": [False], "scale": [2.0],
                  "reduction_pct": [15.0], "ci_low_pct": [14.0], "ci_high_pct": [16.0], "strengths": ["x"]}).to_csv(
        sensitivity / "what_would_it_take.csv", index=False)
    assert main(["plot", str(results_folder), "--include", str(attribution), str(sensitivity)]) == EXIT_OK
    assert (results_folder / "figures" / "attribution-arrival.png").is_file()
    report = (results_folder / "report.md").read_text(encoding="utf-8")
    assert "Attribution, arrival: 12.0 points" in report and "out of reach" in report
    assert "Attribution, arrival" in (results_folder / "report.html").read_text(encoding="utf-8")


def test_situation_names_cannot_write_outside_the_results_folder(results_folder):
    """A situation named like a path ends up as a plain file name inside the folder."""
    written = sorted(p.name for p in (results_folder / "scenarios").iterdir())
    assert written == ["script-alert-1-script.baseline.yaml", "script-alert-1-script.smart.yaml"]
    assert all("/" not in name and ".." not in name for name in written)


def test_path_like_situation_name_stays_inside(scenario_file, write_yaml, tmp_path):
    """A situation named '../../escape' writes only inside the --out folder."""
    write_yaml("smart.yaml", PLOT_CHECK_SMART_YAML)
    path = write_yaml("experiment.yaml", PLOT_CHECK_YAML.replace('"<script>alert(1)</script>"', '"../../escape"'))
    out = tmp_path / "deep" / "results"
    assert main(["experiment", str(path), "--out", str(out), "--workers", "1"]) == EXIT_OK
    assert sorted(p.name for p in (out / "scenarios").iterdir()) == ["escape.baseline.yaml", "escape.smart.yaml"]
    assert not (tmp_path / "escape.baseline.yaml").exists() and not (tmp_path / "deep" / "escape.smart.yaml").exists()
