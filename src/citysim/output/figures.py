"""Draw every chart a results folder's tables allow, and save each as PNG and SVG in `figures/`, and each
animation (the replay) as a GIF.

`citysim plot DIR` and the end of `citysim experiment` both call `draw_folder`, so the charts of a
folder can always be redrawn from its stored tables without re-running the simulation.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from concurrent.futures import Executor
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.animation import Animation, PillowWriter
from matplotlib.figure import Figure

from citysim.names import slug
from citysim.output import layout, maps, plots
from citysim.output.replay_chart import FRAME_MS, replay_animation
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
        if city_map is not None and (city_map["situation"] == situation).any():
            of_map = _of(city_map, situation)
            charts[f"map-{part}"] = partial(maps.city_map, of_map, situation)
            if districts is not None:
                charts[f"districts-{part}"] = partial(maps.district_choropleth, of_map, _of(districts, situation),
                                                      situation)
    attribution = _read(folder, layout.ATTRIBUTION)
    if attribution is not None:
        for metric in dict.fromkeys(attribution["metric"]):
            charts[f"attribution-{slug(metric)}"] = partial(plots.attribution_waterfall, attribution, metric)
    tornado, search = _read(folder, layout.SENSITIVITY), _read(folder, layout.WHAT_WOULD_IT_TAKE)
    if tornado is not None and search is not None:  # the claims are in the search table, written beside it
        claimed = search.set_index("metric")["claimed_pct"]
        for metric in dict.fromkeys(tornado["metric"]):
            charts[f"tornado-{slug(metric)}"] = partial(plots.tornado_chart, tornado, metric, float(claimed[metric]))
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


def folder_animations(folder: Path) -> dict[str, Callable[[], Animation]]:
    """Name -> drawing function for every animation the folder's tables support: the replay of a city-day."""
    replay, city_map = _read(folder, layout.REPLAY), _read(folder, layout.MAP)
    if replay is None or city_map is None:
        return {}
    return {f"replay-{slug(str(situation))}": partial(replay_animation, _of(replay, situation),
                                                      _of(city_map, situation), situation)
            for situation in dict.fromkeys(replay["situation"])}


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


def _rendered_gif(draw: Callable[[], Animation]) -> tuple[bytes]:
    """Draw one animation and render it as GIF bytes (PillowWriter writes to a path, so through a scratch file)."""
    animation = draw()
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "animation.gif"
        animation.save(path, writer=PillowWriter(fps=1000 / FRAME_MS))
        return (path.read_bytes(),)


def draw_folder(folder: Path, include: list[Path] | None = None, executor: Executor | None = None) -> list[Path]:
    """Save every chart of the folder (and of the included folders) as figures/<name>.png and .svg, and
    every animation as figures/<name>.gif; return the PNG paths, then the GIF paths. With an executor the
    charts are drawn in its workers, so that the end of an experiment does not serialise it; the files
    are written here."""
    from citysim.output.files import write_bytes_atomically

    out = folder / layout.FIGURES
    for stale in [*out.glob("*.png"), *out.glob("*.svg"), *out.glob("*.gif")]:  # redrawn whole every time
        stale.unlink()
    charts = folder_figures(folder)
    for other in include or []:
        charts.update(folder_figures(other))
    jobs: list[tuple[str, tuple[str, ...], Callable[[Callable[[], Any]], tuple[bytes, ...]], Callable[[], Any]]] = [
        (name, ("png", "svg"), _rendered, draw) for name, draw in charts.items()]
    jobs += [(name, ("gif",), _rendered_gif, draw) for name, draw in folder_animations(folder).items()]
    if executor is None:
        drawn = [render(draw) for _, _, render, draw in jobs]
    else:
        drawn = [future.result() for future in [executor.submit(render, draw) for _, _, render, draw in jobs]]
    written = []
    for (name, suffixes, _, _), files in zip(jobs, drawn, strict=True):
        for suffix, data in zip(suffixes, files, strict=True):
            write_bytes_atomically(out / f"{name}.{suffix}", partial(_write, data))
        written.append(out / f"{name}.{suffixes[0]}")
    return written
