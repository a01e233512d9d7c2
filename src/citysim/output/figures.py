"""Draw every chart a results folder's tables allow, and save each as PNG and SVG in `figures/`.

`citysim plot DIR` and the end of `citysim experiment` both call `draw_folder`, so the charts of a
folder can always be redrawn from its stored tables without re-running the simulation.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from concurrent.futures import Executor
from functools import partial
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from citysim.names import slug
from citysim.output import layout, plots
from citysim.simulation.services import metric_label


def _read(folder: Path, name: str) -> pd.DataFrame | None:
    path = folder / name
    return pd.read_csv(path, dtype={"priority": str}) if path.is_file() else None


def _of(table: pd.DataFrame, situation: str) -> pd.DataFrame:
    return table[table["situation"] == situation]


def folder_figures(folder: Path) -> dict[str, Callable[[], Figure]]:
    """Name -> drawing function for every chart the folder's tables support (nothing drawn yet)."""
    charts: dict[str, Callable[[], Figure]] = {}
    claims = _read(folder, layout.CLAIMS)
    if claims is not None:
        charts["claims"] = partial(plots.claim_chart, claims)
    services = _read(folder, layout.SERVICES)
    if services is not None and not services.empty:
        labels = {metric: metric_label(metric) for metric in dict.fromkeys(services["metric"])}
        charts["services"] = partial(plots.services_chart, services, labels)
    samples, hourly, districts, city_map = (
        _read(folder, n) for n in (layout.SAMPLES, layout.HOURLY, layout.DISTRICTS, layout.MAP))
    situations = list(dict.fromkeys(claims["scenario"])) if claims is not None else []
    for situation in situations:
        part = slug(situation)
        # Each chart holds only its situation's rows, so that it is cheap to hand to another process.
        if samples is not None:
            charts[f"distributions-{part}"] = partial(plots.distribution_chart, _of(samples, situation), situation)
        if hourly is not None:
            of_hourly = _of(hourly, situation)
            charts[f"time-of-day-{part}"] = partial(plots.time_of_day_chart, of_hourly, situation)
            charts[f"resources-{part}"] = partial(plots.resources_chart, of_hourly, situation)
        if districts is not None:
            charts[f"districts-{part}"] = partial(plots.district_map, _of(districts, situation), situation)
        if city_map is not None and (city_map["situation"] == situation).any():
            charts[f"map-{part}"] = partial(plots.city_map, _of(city_map, situation), situation)
    attribution = _read(folder, layout.ATTRIBUTION)
    if attribution is not None:
        for metric in dict.fromkeys(attribution["metric"]):
            charts[f"attribution-{slug(metric)}"] = partial(plots.attribution_waterfall, attribution, metric)
    tornado = _read(folder, layout.SENSITIVITY)
    if tornado is not None:
        for metric in dict.fromkeys(tornado["metric"]):
            charts[f"tornado-{slug(metric)}"] = partial(plots.tornado_chart, tornado, metric)
    charts.update(_uncertainty_figures(folder))
    return charts


def _uncertainty_figures(folder: Path) -> dict[str, Callable[[], Figure]]:
    charts: dict[str, Callable[[], Figure]] = {}
    reductions, verdicts, indices, break_evens = (
        _read(folder, n) for n in (layout.REDUCTIONS, layout.VERDICTS, layout.SENSITIVITY_INDICES, layout.BREAK_EVENS))
    if reductions is None or verdicts is None:
        return charts
    for situation in dict.fromkeys(verdicts["situation"]):
        part = slug(str(situation))
        charts[f"uncertainty-{part}"] = partial(plots.reduction_distribution_chart, reductions, verdicts, situation)
        if indices is not None and not indices.empty:
            charts[f"sobol-{part}"] = partial(plots.sobol_chart, indices, situation)
    if break_evens is not None and ((break_evens["search_low"] == 0) & (break_evens["search_high"] == 1)).any():
        charts["break-evens"] = partial(plots.break_even_chart, break_evens)
    return charts


def _write(data: bytes, path: Path) -> None:
    path.write_bytes(data)


def _rendered(draw: Callable[[], Figure]) -> tuple[bytes, bytes]:
    """Draw one chart and render it as PNG and SVG bytes (in a worker, which may not share the disk)."""
    figure = draw()
    rendered = []
    for fmt in ("png", "svg"):
        buffer = io.BytesIO()
        figure.savefig(buffer, format=fmt)
        rendered.append(buffer.getvalue())
    return rendered[0], rendered[1]


def draw_folder(folder: Path, include: list[Path] | None = None, executor: Executor | None = None) -> list[Path]:
    """Save every chart of the folder (and of the included folders) as figures/<name>.png and .svg;
    return the PNG paths. With an executor the charts are drawn in its workers, so that the end of an
    experiment does not serialise it; the files are written here."""
    from citysim.output.files import write_bytes_atomically

    out = folder / layout.FIGURES
    for stale in [*out.glob("*.png"), *out.glob("*.svg")]:  # generated output: redrawn whole every time
        stale.unlink()
    charts = folder_figures(folder)
    for other in include or []:
        charts.update(folder_figures(other))
    if executor is None:
        drawn = [_rendered(draw) for draw in charts.values()]
    else:
        drawn = [future.result() for future in [executor.submit(_rendered, draw) for draw in charts.values()]]
    written = []
    for name, files in zip(charts, drawn, strict=True):
        for suffix, data in zip(("png", "svg"), files, strict=True):
            write_bytes_atomically(out / f"{name}.{suffix}", partial(_write, data))
        written.append(out / f"{name}.png")
    return written
