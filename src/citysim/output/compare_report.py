"""The report of `citysim compare`: report.md and a self-contained report.html (figures embedded as
base64, no network access, every string escaped), built from comparison.csv and the manifest alone, so
`citysim plot` can redo them. The answer comes first, in two sentences; then the overall, per-priority
and per-district tables and the figures."""

from __future__ import annotations

import base64
import io
import json
import math
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd

from citysim.output import layout
from citysim.output.compare_charts import change_by_district_chart, change_by_metric_chart
from citysim.output.files import write_bytes_atomically, write_text

HEADER = ["metric", "group", "A (min)", "B (min)", "change", "CI", "pairs", "incidents A / B", "B against A"]
CLAIM_HEADER = ["claimed cut", "verdict"]
MANIFEST_FACTS = ("citysim_version", "git_commit", "command", "a", "b", "seed", "replications", "confidence",
                  "metrics", "claims", "started_utc", "finished_utc", "machine")
SECTIONS = {"all": "All incidents", "priority": "By priority class", "district": "By the incident's district"}


def signed_pct(value: float) -> str:
    """A change in percent with its sign ('+42.0 %', '-3.1 %'), 'n/a' for NaN."""
    return "n/a" if math.isnan(value) else f"{value:+.1f} %"


def direction(change: float, low: float, high: float) -> str:
    """What a change of B against A says in words: longer, shorter, no clear difference (the interval
    holds 0), or the side of a change that has no interval (one pair)."""
    if math.isnan(change):
        return "no cases to compare"
    if math.isnan(low):
        side = "the same as" if change == 0 else "longer than" if change > 0 else "shorter than"
        return f"B {side} A (one pair: no interval)"
    if low > 0:
        return "B longer than A"
    if high < 0:
        return "B shorter than A"
    if low == high == 0:
        return "B the same as A"
    return "no clear difference (the interval holds 0)"


def _interval(row: dict[str, Any]) -> str:
    return f"{signed_pct(row['ci_low_pct'])} to {signed_pct(row['ci_high_pct'])}"


def _cells(row: dict[str, Any]) -> list[str]:
    cells = [str(row["metric"]), str(row["group"]), f"{row['a_mean_min']:.2f}", f"{row['b_mean_min']:.2f}",
             signed_pct(row["change_pct"]), _interval(row), str(row["pairs"]),
             f"{row['a_incidents']:,} / {row['b_incidents']:,}",
             direction(row["change_pct"], row["ci_low_pct"], row["ci_high_pct"])]
    if "verdict" in row:
        cells += [f"{row['claimed_pct']:g} %", str(row["verdict"])]
    return cells


def _title(manifest: dict[str, Any]) -> str:
    return f"B ({manifest.get('b', {}).get('scenario', '?')}) against A ({manifest.get('a', {}).get('scenario', '?')})"


def _named(manifest: dict[str, Any], side: str) -> str:
    entry = manifest.get(side.lower(), {})
    return f"{side} ({entry.get('scenario', '?')}, {entry.get('file', '?')})"


def answer_sentences(table: pd.DataFrame, manifest: dict[str, Any]) -> list[str]:
    """The answer in two sentences: every metric's change over all incidents with its interval and what it
    says; then how far the first metric's change spreads over the incidents' districts."""
    confidence = 100 * float(manifest.get("confidence", 0.95))
    parts = [f"{row['metric']} {row['a_mean_min']:.1f} -> {row['b_mean_min']:.1f} min, "
             f"{signed_pct(row['change_pct'])} ({confidence:g} % CI {_interval(row)}: "
             f"{direction(row['change_pct'], row['ci_low_pct'], row['ci_high_pct'])})"
             for row in table[table["group_kind"] == "all"].to_dict("records")]
    first = f"{_named(manifest, 'B')} against {_named(manifest, 'A')}, {manifest.get('replications')} paired " \
            f"replications: {'; '.join(parts)}."
    districts = table[(table["group_kind"] == "district") & (table["metric"] == table["metric"].iloc[0])]
    districts = districts[districts["change_pct"].notna()]
    if len(districts) < 2:
        return [first, "There are fewer than two districts with cases in both A and B, so no spread by district."]
    low, high = districts.loc[districts["change_pct"].idxmin()], districts.loc[districts["change_pct"].idxmax()]
    second = (f"By the incident's district, the change in {low['metric']} runs from {signed_pct(low['change_pct'])} "
              f"({low['group']}) to {signed_pct(high['change_pct'])} ({high['group']}).")
    return [first, second]


def _method(manifest: dict[str, Any]) -> str:
    return (f"Replication k of A and of B ran on the same random numbers (child k of seed {manifest.get('seed')}), "
            "so they are paired. Each metric is end - start in minutes over police cases (incidents sent a unit) "
            "reported after the warm-up. The change is 100 (mean B / mean A - 1) over the paired replication "
            f"means, with a delta-method {100 * float(manifest.get('confidence', 0.95)):g} % interval (minus the "
            "claim check's reduction, docs/experiments.md); positive means B is longer. Pairs: the replications "
            "where both A and B have cases of the group; incidents: counted over all replications.")


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(rows: pd.DataFrame) -> list[str]:
    header = HEADER + (CLAIM_HEADER if "verdict" in rows else [])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(_md_cell(c) for c in _cells(row)) + " |" for row in rows.to_dict("records")]


def report_markdown(table: pd.DataFrame, manifest: dict[str, Any], figures: list[Path]) -> str:
    lines = [f"# Compare: {_md_cell(_title(manifest))}", "", *answer_sentences(table, manifest), "",
             _method(manifest), ""]
    for kind, title in SECTIONS.items():
        rows = table[table["group_kind"] == kind]
        if len(rows):
            lines += [f"## {title}", "", *_md_table(rows), ""]
    lines += ["## Figures", "", *[f"![{p.stem}]({layout.FIGURES}/{p.name})" for p in figures], "",
              "## How it was run", "", "```json", json.dumps(_facts(manifest), indent=2, default=str), "```", ""]
    return "\n".join(lines)


def _facts(manifest: dict[str, Any]) -> dict[str, Any]:
    return {k: manifest[k] for k in MANIFEST_FACTS if k in manifest}


def _html_table(rows: pd.DataFrame) -> str:
    header = HEADER + (CLAIM_HEADER if "verdict" in rows else [])
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in _cells(row)) + "</tr>"
                   for row in rows.to_dict("records"))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def report_html(table: pd.DataFrame, manifest: dict[str, Any], figures: list[Path]) -> str:
    """The report as one HTML file that needs nothing else: figures inline, every string escaped."""
    answer = "".join(f"<p><strong>{escape(s)}</strong></p>" for s in answer_sentences(table, manifest))
    sections = "".join(f"<h2>{escape(title)}</h2>{_html_table(table[table['group_kind'] == kind])}"
                       for kind, title in SECTIONS.items() if (table["group_kind"] == kind).any())
    images = "".join(
        f'<figure><img alt="{escape(p.stem)}" src="data:image/png;base64,'
        f'{base64.b64encode(p.read_bytes()).decode("ascii")}"><figcaption>{escape(p.stem)}</figcaption></figure>'
        for p in figures)
    facts = escape(json.dumps(_facts(manifest), indent=2, default=str))
    title = escape(_title(manifest))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Compare: {title}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:3px 7px;font-size:90%}}
th{{background:#f3f3f3}}img{{max-width:100%}}figure{{margin:1.5em 0}}pre{{background:#f7f7f7;padding:1em}}</style>
</head><body>
<h1>Compare: {title}</h1>
{answer}
<p>{escape(_method(manifest))}</p>
{sections}
<h2>Figures</h2>{images}
<h2>How it was run</h2><pre>{facts}</pre>
</body></html>
"""


def _save_png(figure: Any, path: Path) -> Path:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    write_bytes_atomically(path, lambda tmp: tmp.write_bytes(buffer.getvalue()))
    return path


def draw_compare_figures(folder: Path, table: pd.DataFrame, confidence: float) -> list[Path]:
    """figures/change-by-metric.png and (if the table has district rows) figures/change-by-district.png."""
    out = folder / layout.FIGURES
    paths = [_save_png(change_by_metric_chart(table[table["group_kind"] == "all"], confidence),
                       out / "change-by-metric.png")]
    districts = table[table["group_kind"] == "district"]
    if len(districts):
        paths.append(_save_png(change_by_district_chart(districts, confidence), out / "change-by-district.png"))
    return paths


def write_compare_report(folder: Path, table: pd.DataFrame, manifest: dict[str, Any]) -> None:
    """Draw the figures and write report.md and report.html into the compare folder."""
    figures = draw_compare_figures(folder, table, float(manifest.get("confidence", 0.95)))
    write_text(report_markdown(table, manifest, figures), folder / layout.REPORT_MD)
    write_text(report_html(table, manifest, figures), folder / layout.REPORT_HTML)


def redraw_compare_folder(folder: Path) -> list[Path]:
    """`citysim plot` on a compare folder: the figures and both reports again from comparison.csv and the
    manifest; the PNGs drawn."""
    table = pd.read_csv(folder / layout.COMPARISON, dtype={"group": str})
    manifest = json.loads((folder / layout.MANIFEST).read_text(encoding="utf-8"))
    write_compare_report(folder, table, manifest)
    return sorted((folder / layout.FIGURES).glob("*.png"))
