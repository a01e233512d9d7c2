"""The interactive view of a claim check's report.html: pick a situation, a metric, a priority and a district,
and hover (or tap) a chart's row for its values.

The page stays one offline file. The view is a few kilobytes of hand-written JavaScript (`interactive.js`
beside this module) that draws SVG charts from the folder's tables, embedded as JSON in a
`<script type="application/json">` block: Bokeh's inline bundle would add 1.6 MB to every report and Plotly's
4.8 MB, for three small charts (docs/report.md, "The interactive view"). Strings from input files reach the
page only through the JSON block, with `<`, `>` and `&` escaped, and the script writes them with
`textContent`, never as markup. The page's Content-Security-Policy admits no request at all and runs only
the inline scripts whose hashes it names, so a string that did get through would not run.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from html import escape
from importlib.resources import files
from typing import Any

import pandas as pd

from citysim.analysis.stats import paired_reduction
from citysim.output.style import BASELINE, NEUTRAL, SMART, VERDICT_COLOURS
from citysim.simulation.services import metric_label

#: The view's script, read once from the package.
SCRIPT = files("citysim.output").joinpath("interactive.js").read_text(encoding="utf-8")
#: What the pickers choose, in the order they are shown: (field, label).
PICKERS = (("situation", "Situation"), ("metric", "Metric"), ("priority", "Priority"), ("district", "District"))
#: The values shown for the chosen claims row and the chosen district: (field, label).
CLAIM_FIELDS = (("baseline", "baseline (min)"), ("smart", "smart (min)"), ("reduction", "reduction"),
                ("ci", "CI"), ("claimed", "claimed"), ("verdict", "verdict"), ("pairs", "pairs"),
                ("matched", "matched incidents"))
DISTRICT_FIELDS = (("baseline", "baseline (min)"), ("smart", "smart (min)"), ("reduction", "reduction"),
                   ("ci", "CI"), ("pairs", "pairs"), ("incidents", "police cases per replication"))


def _number(value: Any) -> float | None:
    """A finite float, or None (JSON has no NaN)."""
    number = float(value)
    return number if math.isfinite(number) else None


def _pct(value: Any) -> str:
    number = _number(value)
    return "n/a" if number is None else f"{number:.1f} %"


def _minutes(value: Any) -> str:
    number = _number(value)
    return "n/a" if number is None else f"{number:.2f}"


def claim_rows(claims: pd.DataFrame) -> list[dict[str, Any]]:
    """claims.csv's rows (every priority) with their numbers and the texts the page shows, formatted as in
    the claims table."""
    rows = []
    for row in claims.to_dict("records"):
        matched = row.get("matched_reduction_pct", math.nan)
        rows.append({
            "situation": str(row["scenario"]), "metric": str(row["metric"]), "priority": str(row["priority"]),
            "reduction": _number(row["reduction_pct"]), "ci_low": _number(row["ci_low_pct"]),
            "ci_high": _number(row["ci_high_pct"]), "claimed": _number(row["claimed_pct"]),
            "verdict": str(row["verdict"]),
            "shown": {"baseline": _minutes(row["baseline_mean_min"]), "smart": _minutes(row["smart_mean_min"]),
                      "reduction": _pct(row["reduction_pct"]),
                      "ci": f"{_pct(row['ci_low_pct'])} to {_pct(row['ci_high_pct'])}",
                      "claimed": f"{row['claimed_pct']:g} %", "verdict": str(row["verdict"]),
                      "pairs": str(row["replications"]), "matched": _pct(matched)}})
    return rows


def district_rows(districts: pd.DataFrame, confidence: float = 0.95) -> list[dict[str, Any]]:
    """Each situation's districts: the mean over paired replications of the mean arrival from the call,
    baseline and smart, and the reduction 1 - smart / baseline with its paired interval (as the claims')."""
    rows = []
    for (situation, district), group in districts.groupby(["situation", "district"], sort=False):
        table = group.pivot(index="replication", columns="config", values="arrival_min")
        if "baseline" not in table or "smart" not in table:
            continue
        paired = table[["baseline", "smart"]].dropna()
        incidents = group[group["replication"].isin(paired.index)]["incidents"]
        found = paired_reduction(paired["baseline"].to_numpy(dtype=float), paired["smart"].to_numpy(dtype=float),
                                 confidence)
        rows.append({
            "situation": str(situation), "district": str(district), "baseline": _number(found.baseline_mean),
            "smart": _number(found.smart_mean),
            "shown": {"baseline": _minutes(found.baseline_mean), "smart": _minutes(found.smart_mean),
                      "reduction": _pct(found.reduction_pct),
                      "ci": f"{_pct(found.ci_low_pct)} to {_pct(found.ci_high_pct)}", "pairs": str(len(paired)),
                      "incidents": f"{incidents.mean():.0f}" if len(incidents) else "n/a"}})
    return rows


def service_rows(services: pd.DataFrame) -> list[dict[str, Any]]:
    """services.csv's rows with the texts the page shows."""
    return [{"situation": str(row["situation"]), "cells": [
        str(row["service"]), metric_label(str(row["metric"])), f"{row['baseline']:.3g}", f"{row['smart']:.3g}",
        _pct(row["reduction_pct"]), f"{_pct(row['ci_low_pct'])} to {_pct(row['ci_high_pct'])}"]}
        for row in services.to_dict("records")]


def view_data(claims: pd.DataFrame, districts: pd.DataFrame | None, services: pd.DataFrame | None,
              confidence: float = 0.95) -> dict[str, Any]:
    """Everything the script needs, as plain JSON-able data."""
    return {
        "claims": claim_rows(claims),
        "districts": district_rows(districts, confidence) if districts is not None else [],
        "services": service_rows(services) if services is not None else [],
        "colours": {"baseline": BASELINE, "smart": SMART, "neutral": NEUTRAL, "verdicts": VERDICT_COLOURS},
    }


def json_for_html(data: dict[str, Any]) -> str:
    """`data` as JSON that cannot end its `<script>` block or open markup: `<`, `>` and `&` as \\u escapes."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _value_list(list_id: str, fields: tuple[tuple[str, str], ...]) -> str:
    items = "".join(f'<dt>{escape(label)}</dt><dd data-field="{field}">n/a</dd>' for field, label in fields)
    return f'<dl id="{list_id}" class="explore-values">{items}</dl>'


def explore_section(claims: pd.DataFrame, districts: pd.DataFrame | None, services: pd.DataFrame | None,
                    confidence: float = 0.95) -> str:
    """The `<section id="explore">` of the report: the pickers, the chosen values, the charts and their data."""
    pickers = "".join(f'<label>{label} <select id="explore-{field}"></select></label>' for field, label in PICKERS)
    data = json_for_html(view_data(claims, districts, services, confidence))
    service_head = "".join(f"<th>{escape(h)}</th>" for h in
                           ("service", "metric", "baseline", "smart", "reduction", "CI"))
    return f"""<section id="explore"><h2>Explore</h2>
<p>Pick a situation, a metric, a priority class and a district; hover over a chart's row (or tap it) for its
values, click it to pick it.</p>
<div class="explore-pickers">{pickers}</div>
<div class="explore-panels"><div><h3>The chosen claim</h3>{_value_list("explore-claim", CLAIM_FIELDS)}</div>
<div><h3>The chosen district: arrival from the call, all priorities</h3>{_value_list("explore-district",
                                                                                      DISTRICT_FIELDS)}</div></div>
<h3>Reduction by metric, with its CI and the claim</h3><svg id="explore-reductions" class="explore-chart"
role="img" aria-label="reduction by metric"></svg>
<div id="explore-districts-part"><h3>Arrival from the call by district, baseline and smart (min)</h3>
<svg id="explore-districts" class="explore-chart" role="img" aria-label="arrival by district"></svg></div>
<div id="explore-services-part"><h3>Traffic services in the chosen situation</h3>
<table id="explore-services"><thead><tr>{service_head}</tr></thead><tbody></tbody></table></div>
<div id="explore-tip" role="tooltip" hidden></div>
<script type="application/json" id="explore-data">{data}</script>
<script>{SCRIPT}</script>
</section>"""


#: The view's styles, for the page's `<style>` block.
STYLE = """.explore-pickers label{margin-right:1.2em}.explore-panels{display:flex;gap:2em;flex-wrap:wrap}
.explore-values{display:grid;grid-template-columns:auto auto;gap:2px 1em;margin:0}.explore-values dt{color:#555}
.explore-values dd{margin:0;font-variant-numeric:tabular-nums}.explore-chart{width:100%;max-width:760px;display:block}
.explore-chart .row{cursor:pointer}.explore-chart text{font-size:12px}
#explore-tip{position:absolute;background:#fff;border:1px solid #888;padding:4px 8px;white-space:pre-line;
font-size:85%;pointer-events:none;box-shadow:1px 1px 4px #0003}"""


def content_security_policy() -> str:
    """The page's policy: no request of any kind (images only as data: URLs), inline styles, and only the
    view's own script."""
    digest = base64.b64encode(hashlib.sha256(SCRIPT.encode("utf-8")).digest()).decode("ascii")
    return (f"default-src 'none'; img-src data:; media-src data:; style-src 'unsafe-inline'; "
            f"script-src 'sha256-{digest}'")
