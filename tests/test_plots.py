"""Charts and reports: each plot function on a small synthetic frame, `citysim plot`, the HTML report."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from citysim.cli import EXIT_BAD_INPUT, EXIT_OK, main
from citysim.output import maps, plots
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
    for legend in figure.legends:
        parts += [t.get_text() for t in legend.get_texts()]
    return " | ".join(parts)


def test_claim_chart_has_metrics_situations_claims_and_verdicts():
    """The claim chart has one panel per metric, the situations as rows, the claims in the titles and the
    verdicts in the legend."""
    figure = plots.claim_chart(_claims())
    assert isinstance(figure, Figure) and len(figure.axes) == 2
    text = _texts(figure)
    for needle in ("weekday", "rain", "claimed 20 %", "claimed 35 %", "exceeded", "fell short", "reduction"):
        assert needle in text, needle


def test_claim_chart_legend_covers_no_data():
    """The legend's box, as rendered, overlaps no marker, interval or claim line of any panel."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = plots.claim_chart(_claims())
    renderer = FigureCanvasAgg(figure).get_renderer()
    figure.draw(renderer)
    legends = figure.legends + [a.get_legend() for a in figure.axes if a.get_legend() is not None]
    assert len(legends) == 1
    box = legends[0].get_window_extent(renderer)
    drawn = [line for axis in figure.axes for line in axis.lines]
    assert len(drawn) == 2 * (2 * 2 + 1)  # per panel: an interval and a marker per situation, the claim line
    for line in drawn:
        assert not box.overlaps(line.get_window_extent(renderer)), line


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


def test_city_map_draws_land_roads_sites_and_incident_density():
    """The map draws each district ring as a line, the roads as one collection a class, posts and stations as
    labelled points and the incidents as a hexbin density."""
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
    figure = maps.city_map(pd.DataFrame(rows), "weekday")
    axis = figure.axes[0]
    assert len(axis.lines) == 1  # one district ring
    assert len(axis.collections) == 4  # the roads, the hexbin, posts, stations
    assert [c.get_array().sum() for c in axis.collections if c.get_array() is not None] == [200]
    labels = [t.get_text() for t in axis.get_legend().get_texts()]
    assert labels == ["patrol posts (2)", "police stations (1)"]


def _square(name: str, lon: float, lat: float, side: float, group: int) -> list[dict[str, object]]:
    corners = [(lon, lat), (lon + side, lat), (lon + side, lat + side), (lon, lat + side), (lon, lat)]
    return [{"situation": "weekday", "layer": "district", "group": group, "name": name, "lon": x, "lat": y}
            for x, y in corners]


#: Hand-made districts: (name, west lon, south lat, side in degrees, baseline min, smart min): the reductions
#: span the colour map from pale to dark, and "Tiny" is too small to hold its label.
DISTRICTS = [("Pale", 121.0, 31.0, 0.3, 10.0, 9.8), ("Light", 121.3, 31.0, 0.3, 10.0, 8.0),
             ("Middle", 121.0, 31.3, 0.3, 10.0, 6.0), ("Dark", 121.3, 31.3, 0.3, 10.0, 4.0),
             ("Darkest", 121.6, 31.0, 0.3, 10.0, 2.0), ("Tiny", 121.6, 31.3, 0.01, 12.0, 9.0)]


def _map_layers() -> pd.DataFrame:
    rows = [row for k, (name, lon, lat, side, *_) in enumerate(DISTRICTS) for row in _square(name, lon, lat, side, k)]
    for group, (road_class, lat) in enumerate((("expressway", 31.15), ("arterial", 31.45))):
        rows += [{"situation": "weekday", "layer": "road", "group": group, "name": road_class, "lon": lon, "lat": lat}
                 for lon in (121.05, 121.55)]
    rows += [{"situation": "weekday", "layer": "barrier", "group": 0, "name": "River", "lon": 121.3, "lat": lat}
             for lat in (31.0, 31.6)]
    rows += [{"situation": "weekday", "layer": "crossing", "group": 0, "name": "Bridge", "lon": 121.3, "lat": 31.15}]
    return pd.DataFrame(rows)


def _district_rows() -> pd.DataFrame:
    return pd.DataFrame([{"situation": "weekday", "config": config, "replication": 0, "district": name,
                          "arrival_min": minutes, "incidents": 5}
                         for name, *_, baseline, smart in DISTRICTS
                         for config, minutes in (("baseline", baseline), ("smart", smart))])


def _wcag_contrast(a: object, b: object) -> float:
    """WCAG 2.x contrast ratio of two colours, computed here independently of the package."""
    from matplotlib.colors import to_rgb

    def luminance(colour: object) -> float:
        red, green, blue = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in to_rgb(colour))
        return 0.2126 * red + 0.7152 * green + 0.0722 * blue

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _labels(axis: object) -> dict[str, object]:
    return {t.get_gid().split(":", 1)[1]: t for t in axis.texts if str(t.get_gid()).startswith("district:")}


def test_choropleth_fills_each_district_by_its_reduction_with_a_colour_bar():
    """One filled polygon per district ring, darker for a bigger cut, and a colour bar in percent."""
    figure = maps.district_choropleth(_map_layers(), _district_rows(), "weekday")
    axis = figure.axes[0]
    fills = {p.get_gid().split(":", 1)[1]: p.get_facecolor() for p in axis.patches if p.get_gid()}
    assert set(fills) == {name for name, *_ in DISTRICTS}
    brightness = [sum(fills[name][:3]) for name in ("Pale", "Light", "Middle", "Dark", "Darkest")]
    assert brightness == sorted(brightness, reverse=True)
    bar_labels = [a.get_ylabel() for a in figure.axes[1:]]
    assert any("reduction" in label and "(%)" in label for label in bar_labels)
    assert axis.get_aspect() == pytest.approx(1 / np.cos(np.radians(31.3)), rel=0.01)  # a km as long east as north


def test_choropleth_labels_give_the_minutes_and_contrast_with_their_fill():
    """Every district's label holds its baseline and smart minutes and its reduction, and its text reaches a
    WCAG contrast ratio of 4.5 against the fill behind it (its district, or its swatch beside the map)."""
    figure = maps.district_choropleth(_map_layers(), _district_rows(), "weekday")
    axis = figure.axes[0]
    fills = {p.get_gid().split(":", 1)[1]: p.get_facecolor() for p in axis.patches if p.get_gid()}
    labels = _labels(axis)
    assert set(labels) == set(fills)
    for name, _lon, _lat, _side, baseline, smart in DISTRICTS:
        text = labels[name]
        assert f"{baseline:.1f}" in text.get_text() and f"{smart:.1f} min" in text.get_text()
        assert f"{100 * (1 - smart / baseline):.0f} %" in text.get_text()
        assert _wcag_contrast(text.get_color(), fills[name]) >= 4.5, name
    swatch = labels["Tiny"].get_bbox_patch()  # too small for its label: a callout on a swatch of its fill
    assert swatch is not None and tuple(swatch.get_facecolor()) == pytest.approx(tuple(fills["Tiny"]))
    assert labels["Pale"].get_bbox_patch() is None and labels["Pale"].get_color() == "black"
    assert labels["Darkest"].get_color() == "white"


def test_choropleth_shows_a_district_that_got_worse_below_zero():
    """A longer smart arrival (a negative reduction) is on the colour bar, below 0, and its label still contrasts."""
    rows = _district_rows()
    rows.loc[(rows["district"] == "Pale") & (rows["config"] == "smart"), "arrival_min"] = 15.0  # 50 % longer
    figure = maps.district_choropleth(_map_layers(), rows, "weekday")
    bar = next(a for a in figure.axes[1:] if "reduction" in a.get_ylabel())
    assert bar.get_ylim()[0] == pytest.approx(-50.0)
    fill = next(p.get_facecolor() for p in figure.axes[0].patches if p.get_gid() == "district:Pale")
    label = _labels(figure.axes[0])["Pale"]
    assert "-50 %" in label.get_text() and _wcag_contrast(label.get_color(), fill) >= 4.5


def test_choropleth_draws_roads_by_class_and_the_river_crossings():
    """Expressways are drawn heavier than arterials; the river is a line and its bridge a marker."""
    from matplotlib.collections import LineCollection, PathCollection

    axis = maps.district_choropleth(_map_layers(), _district_rows(), "weekday").axes[0]
    widths = [c.get_linewidths()[0] for c in axis.collections if isinstance(c, LineCollection)]
    assert len(widths) == 2 and widths[0] > widths[1]  # expressways first
    crossings = [c for c in axis.collections if isinstance(c, PathCollection)]
    assert len(crossings) == 1 and crossings[0].get_offsets().tolist() == [[121.3, 31.15]]
    assert any(list(line.get_xdata()) == [121.3, 121.3] for line in axis.lines)  # the river


def _replay() -> pd.DataFrame:
    rows = []
    for config in ("baseline", "smart"):
        for frame in range(3):
            rows += [{"situation": "weekday", "config": config, "frame": frame, "clock_h": 6.0 + frame,
                      "kind": "incident", "state": state, "priority": priority, "lon": 121.1 + 0.05 * frame,
                      "lat": 31.1} for state, priority in (("waiting", 1), ("on scene", 3))]
            rows += [{"situation": "weekday", "config": config, "frame": frame, "clock_h": 6.0 + frame,
                      "kind": "unit", "state": state, "priority": pd.NA, "lon": 121.2, "lat": 31.2}
                     for state in ("busy", "free", "free")]
    return pd.DataFrame(rows).astype({"priority": "Int64"})


def test_replay_moves_incidents_and_units_hour_by_hour(tmp_path):
    """Baseline and smart side by side; each hour shows that hour's incidents (where they are) and the counts,
    drawn from replay.csv as `citysim plot` reads it (priorities as text)."""
    from citysim.output.replay_chart import replay_chart

    _replay().to_csv(tmp_path / "replay.csv", index=False)
    stored = pd.read_csv(tmp_path / "replay.csv", dtype={"priority": str})
    chart = replay_chart(stored, _map_layers(), "weekday")
    assert [a.get_title() for a in chart.figure.axes] == ["baseline", "smart"] and chart.frames == [0, 1, 2]
    chart.show(2)
    assert "08:00" in chart.figure.get_suptitle()
    placed = [c.get_offsets() for c in chart.figure.axes[0].collections if len(c.get_offsets()) == 1
              and c.get_offsets()[0][1] == pytest.approx(31.1)]
    assert len(placed) == 2 and all(xy[0][0] == pytest.approx(121.2) for xy in placed)  # frame 2's place
    counts = [t.get_text() for t in chart.figure.axes[0].texts if "open incidents" in t.get_text()]
    assert counts == ["open incidents 2 (1 waiting for a unit)\nunits busy 1 of 3 on duty or on a job"]


def test_replay_renders_as_a_gif_of_one_frame_an_hour():
    """The GIF written for the report has one frame per hour of the replay table."""
    import io
    from functools import partial

    from PIL import Image

    from citysim.output.figures import _rendered_gif
    from citysim.output.replay_chart import replay_animation

    data = _rendered_gif(partial(replay_animation, _replay(), _map_layers(), "weekday"))[0]
    image = Image.open(io.BytesIO(data))
    assert image.format == "GIF" and image.n_frames == 3


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


def _tornado() -> pd.DataFrame:
    return pd.DataFrame({"lever": ["x", "x", "y", "y"], "setting": ["low", "high"] * 2, "strength": 0.1,
                         "metric": "arrival", "reduction_pct": [9.0, 11.0, 5.0, 14.0], "ci_low_pct": 0.5,
                         "ci_high_pct": 1.5, "change_pct_points": [-1.0, 1.0, -5.0, 4.0]})


def test_tornado_chart_has_low_and_high_bars_per_lever():
    """A low and a high bar per lever, biggest swing on top, each from the reduction with every lever as set."""
    axis = plots.tornado_chart(_tornado(), "arrival", 20.0).axes[0]
    assert [t.get_text() for t in axis.get_yticklabels()] == ["x", "y"]
    assert len(axis.patches) == 4
    assert {patch.get_x() for patch in axis.patches} == {10.0}  # reduction_pct - change_pct_points


def test_tornado_chart_draws_the_claim_where_it_is():
    """A labelled vertical line at the claimed reduction, inside the axis even when no bar reaches it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = plots.tornado_chart(_tornado(), "arrival", 35.0)
    FigureCanvasAgg(figure).draw()
    axis = figure.axes[0]
    claim = [line for line in axis.lines if list(line.get_xdata()) == [35.0, 35.0]]
    assert len(claim) == 1 and claim[0].get_linestyle() == "--"
    assert axis.get_xlim()[0] < 35.0 < axis.get_xlim()[1]
    assert "claimed 35 %" in [t.get_text() for t in figure.legends[0].get_texts()]


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
    assert (figures / "districts-script-alert-1-script.png").is_file()  # the choropleth, from the same polygons
    assert (figures / "replay-script-alert-1-script.gif").is_file()
    assert len(list(figures.glob("*.png"))) >= 5
    report = (results_folder / "report.md").read_text(encoding="utf-8")
    assert "figures/claims.png" in report
    html = (results_folder / "report.html").read_text(encoding="utf-8")
    assert 'id="claims"' in html and "data:image/png;base64," in html and "http" not in html.split("<body>")[1]
    assert "data:image/gif;base64," in html and "figures/replay-script-alert-1-script.gif" in report


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
