"""One look for every chart: colour-blind-safe colours (Okabe & Ito), fonts, sizes, unit-labelled axes.

Figures are made with `matplotlib.figure.Figure` directly (no pyplot global state), so library code
never opens a window and charts can be drawn in worker processes.
"""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure

#: Okabe & Ito's colour-blind-safe palette.
BASELINE = "#0072B2"  # blue
SMART = "#E69F00"  # orange
NEUTRAL = "#999999"
VERDICT_COLOURS = {"exceeded": "#009E73", "reproduced": "#56B4E9", "fell short": "#D55E00", "undetermined": NEUTRAL}
CONFIG_COLOURS = {"baseline": BASELINE, "smart": SMART}
CONFIG_LABELS = {"baseline": "baseline", "smart": "smart"}

RC: dict[str, Any] = {"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "grid.alpha": 0.3, "figure.dpi": 110}


def new_figure(width_in: float = 7.0, height_in: float = 4.0) -> Figure:
    """A blank white figure, laid out by matplotlib's constrained layout."""
    figure = Figure(figsize=(width_in, height_in), layout="constrained", dpi=RC["figure.dpi"])
    figure.set_facecolor("white")
    return figure


def styled(figure: Figure) -> Figure:
    """Apply the house style's fonts and grid to every axis of a figure."""
    for axis in figure.axes:
        axis.title.set_fontsize(RC["axes.titlesize"])
        axis.xaxis.label.set_fontsize(RC["axes.labelsize"])
        axis.yaxis.label.set_fontsize(RC["axes.labelsize"])
        axis.tick_params(labelsize=RC["font.size"])
        axis.grid(True, alpha=RC["grid.alpha"])
        for side in ("top", "right"):
            axis.spines[side].set_visible(False)
    return figure


#: A change of B against A: longer, shorter, or no clear difference (Okabe & Ito: vermillion, blue, grey).
CHANGE_COLOURS = {"longer": "#D55E00", "shorter": BASELINE, "unclear": NEUTRAL}


def relative_luminance(colour: Any) -> float:
    """WCAG 2.x relative luminance of a matplotlib colour (0 black .. 1 white)."""
    from matplotlib.colors import to_rgb

    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in to_rgb(colour)]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def readable_text_colour(fill: Any) -> str:
    """Black or white, whichever contrasts more with `fill`: the better of the two always reaches a WCAG
    contrast ratio of at least 4.58 (the worst fill, of luminance 0.179, is equally far from both)."""
    luminance = relative_luminance(fill)
    return "black" if (luminance + 0.05) / 0.05 >= 1.05 / (luminance + 0.05) else "white"
