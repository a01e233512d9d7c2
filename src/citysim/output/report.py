"""The reports of a claim check, built from its results folder alone (so `citysim plot` can redo them):
report.md and a self-contained report.html that open with the answer and its warnings, then the claims
table, the traffic services, the charts, the attribution and sensitivity findings (from folders named
with --include), the levers' sources and the manifest. Every string that comes from a scenario or
experiment file is escaped in HTML.
"""

from __future__ import annotations

import base64
import json
import math
from concurrent.futures import Executor
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd

from citysim.analysis.run_checks import grouped_warnings
from citysim.config.levers import LEVERS, POLICING, SERVICES
from citysim.errors import InputError
from citysim.output import interactive, layout
from citysim.output.answer import answer_sentences
from citysim.simulation.services import metric_label

README_START, README_END = "<!-- claims:start -->", "<!-- claims:end -->"
SERVICE_HEADER = ["service", "metric", "baseline", "smart", "reduction", "CI", "reduction over all situations"]
CLAIM_HEADER = ["situation", "metric", "baseline (min)", "smart (min)", "reduction", "CI", "claimed", "verdict",
                "pairs", "matched incidents"]
MANIFEST_FACTS = ("citysim_version", "git_commit", "command", "seed", "replications", "replication_rule",
                  "warmup_min", "started_utc", "finished_utc", "wall_seconds", "machine", "packages")


def _pct(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1f} %"


@dataclass(frozen=True)
class ReportInputs:
    """What the reports show, read from a results folder (and the folders it includes)."""

    claims: pd.DataFrame
    manifest: dict[str, Any]
    figures: list[Path]
    attribution: pd.DataFrame | None = None
    search: pd.DataFrame | None = None
    services: pd.DataFrame | None = None
    steps: pd.DataFrame | None = None
    warnings: pd.DataFrame | None = None
    districts: pd.DataFrame | None = None

    @property
    def overall(self) -> pd.DataFrame:
        return self.claims[self.claims["priority"].astype(str) == "all"]


def load_report_inputs(folder: Path, include: list[Path], figures: list[Path],
                       manifest: dict[str, Any] | None = None) -> ReportInputs:
    """Read claims.csv, the manifest (unless given), and any attribution or sensitivity results."""
    claims = pd.read_csv(folder / layout.CLAIMS, dtype={"priority": str})
    if manifest is None:
        manifest = json.loads((folder / layout.MANIFEST).read_text(encoding="utf-8"))
    attribution = search = None
    for other in include:
        if (other / layout.ATTRIBUTION).is_file():
            attribution = pd.read_csv(other / layout.ATTRIBUTION)
        if (other / layout.WHAT_WOULD_IT_TAKE).is_file():
            search = pd.read_csv(other / layout.WHAT_WOULD_IT_TAKE)
    services, steps, warnings, districts = (
        pd.read_csv(folder / name) if (folder / name).is_file() else None
        for name in (layout.SERVICES, layout.STEPS, layout.WARNINGS, layout.DISTRICTS))
    return ReportInputs(claims, manifest, figures, attribution, search, services, steps, warnings, districts)


def answer(inputs: ReportInputs) -> tuple[list[str], list[str]]:
    """The verdicts (two sentences or so) and why: what the report opens with."""
    return answer_sentences(inputs.claims, inputs.steps, inputs.warnings, inputs.attribution)


def warning_groups(inputs: ReportInputs) -> list[tuple[str, str, list[str]]]:
    """warnings.csv by kind (title, advice, messages), as the terminal printed them too."""
    if inputs.warnings is None or inputs.warnings.empty:
        return []
    return grouped_warnings(inputs.warnings)


def claim_cells(row: dict[Any, Any]) -> list[str]:
    return [str(row["scenario"]), str(row["metric"]), f"{row['baseline_mean_min']:.2f}",
            f"{row['smart_mean_min']:.2f}", _pct(row["reduction_pct"]),
            f"{_pct(row['ci_low_pct'])} to {_pct(row['ci_high_pct'])}", f"{row['claimed_pct']:g} %",
            str(row["verdict"]), str(row["replications"]), _pct(row.get("matched_reduction_pct", float("nan")))]


def claims_markdown_table(claims: pd.DataFrame) -> list[str]:
    """The claims table (priority 'all') as Markdown lines."""
    overall = claims[claims["priority"].astype(str) == "all"]
    lines = ["| " + " | ".join(CLAIM_HEADER) + " |", "|" + "---|" * len(CLAIM_HEADER)]
    lines += ["| " + " | ".join(claim_cells(row)) + " |" for row in overall.to_dict("records")]
    return lines


def replace_readme_block(readme: str, table: list[str], command: str) -> str:
    """The README with the block between the claims markers replaced by the current table."""
    if README_START not in readme or README_END not in readme:
        raise ValueError(f"the README has no {README_START} ... {README_END} block")
    head, rest = readme.split(README_START, 1)
    _old, tail = rest.split(README_END, 1)
    block = [README_START, f"<!-- generated by `{command}`; do not edit by hand -->", *table, README_END]
    return head + "\n".join(block) + tail


def finding_sentences(inputs: ReportInputs) -> list[str]:
    """The attribution and what-would-it-take findings, as sentences (empty if not included)."""
    sentences = []
    if inputs.attribution is not None:
        for metric, rows in inputs.attribution.groupby("metric", sort=False):
            parts = rows[rows["group"] != "total"].sort_values("contribution_pct", ascending=False)
            total = float(rows[rows["group"] == "total"]["contribution_pct"].iloc[0])
            top = ", ".join(f"{r['group']} {r['contribution_pct']:.1f}" for r in parts.head(3).to_dict("records"))
            sentences.append(f"Attribution, {metric}: {total:.1f} points in all; largest shares {top} points.")
    if inputs.search is not None:
        for row in inputs.search.to_dict("records"):
            if bool(row["reachable"]):
                sentences.append(f"What it would take, {row['metric']}: the claimed {row['claimed_pct']:g} % "
                                 f"needs the levers at {row['scale']:.2f}x their smart strengths (each capped "
                                 "at its sourced high value).")
            else:
                sentences.append(f"What it would take, {row['metric']}: the claimed {row['claimed_pct']:g} % is out "
                                 "of reach even with every lever at its sourced high value.")
    return sentences


def service_rows(services: pd.DataFrame) -> list[list[str]]:
    """The services table of the first situation, each metric with the range of its reduction over all."""
    first = services[services["situation"] == services["situation"].iloc[0]]
    ranges = services.groupby("metric")["reduction_pct"].agg(["min", "max"])
    return [[str(row["service"]), metric_label(str(row["metric"])), f"{row['baseline']:.3g}", f"{row['smart']:.3g}",
             _pct(row["reduction_pct"]), f"{_pct(row['ci_low_pct'])} to {_pct(row['ci_high_pct'])}",
             f"{_pct(ranges.loc[row['metric'], 'min'])} to {_pct(ranges.loc[row['metric'], 'max'])}"]
            for row in first.to_dict("records")]


def service_levers() -> dict[str, list[str]]:
    """Each traffic service and the levers that act on its process steps (none for a service whose metrics
    move only through the others' levers)."""
    services: dict[str, list[str]] = {service: [] for service in SERVICES if service != POLICING}
    for name, info in LEVERS.items():
        if info.service != POLICING:
            services[info.service].append(name)
    return services


def lever_list(names: list[str], markdown: bool) -> str:
    if not names:
        return "no lever of its own (its metrics move only through the other services' levers)"
    return ", ".join(f"`{n}`" if markdown else n for n in names)


def services_intro(services: pd.DataFrame) -> str:
    situation = services["situation"].iloc[0]
    return (f"The traffic services, baseline against smart, in '{situation}' (the same paired replications as "
            f"the claims; every metric lower-is-better, so a negative reduction is a worsening), and the range of "
            f"each reduction over the {services['situation'].nunique()} situations (`services.csv`).")


METHOD = ("Each situation's baseline and its smart twin (the same scenario with the smart levers) ran on the same "
          "random numbers, replication by replication; the reduction is 1 - mean(smart) / mean(baseline) with a "
          "delta-method {confidence:g} % interval over the paired replications, over police cases (incidents "
          "reported in the KPI window and sent a unit). Verdict: reproduced if the interval contains the "
          "claimed reduction, exceeded if it lies above it, fell short if below.")


def report_markdown(inputs: ReportInputs) -> str:
    """report.md: the answer and its why first, the warnings, then the tables, charts and provenance."""
    manifest = inputs.manifest
    verdicts, why = answer(inputs)
    lines = [f"# Claim check: {manifest.get('experiment', '')}", "", str(manifest.get("description", "")), "",
             "## The answer", "", " ".join(verdicts), "", " ".join(why)]
    groups = warning_groups(inputs)
    if groups:
        lines += ["", "## Warnings", ""]
        for title, advice, messages in groups:
            lines += [f"- **{title}.** {advice}".rstrip(), *[f"  - {m}" for m in messages]]
    lines += ["", "## The claims", "", METHOD.format(confidence=100 * float(manifest.get("confidence", 0.95))), "",
              *claims_markdown_table(inputs.claims)]
    if inputs.services is not None and not inputs.services.empty:
        lines += ["", "## Traffic services", "", services_intro(inputs.services), "",
                  "| " + " | ".join(SERVICE_HEADER) + " |", "|" + "---|" * len(SERVICE_HEADER),
                  *["| " + " | ".join(cells) + " |" for cells in service_rows(inputs.services)], "",
                  "The levers acting on each service:", "",
                  *[f"- {service}: {lever_list(names, True)}" for service, names in service_levers().items()]]
    findings = finding_sentences(inputs)
    if findings:
        lines += ["", "## Attribution and sensitivity", "", *[f"- {s}" for s in findings]]
    if inputs.figures:
        lines += ["", "## Charts", "", *[f"![{p.stem}](figures/{p.name})" for p in inputs.figures]]
    lines += [
        "", "## Assumptions and sources", "",
        "The smart levers, their defaults, ranges and sources: `citysim levers` (docs/levers.md). The baseline's",
        "calibration and assumptions: the scenario files' comments, docs/calibration.md and docs/model.md.",
        "", "## How it was run", "",
        f"- citysim {manifest.get('citysim_version')}, commit {manifest.get('git_commit')}, seed "
        f"{manifest.get('seed')}; {manifest.get('wall_seconds')} s.",
        f"- Replications per situation: {manifest.get('replications')} (rule: {manifest.get('replication_rule')}).",
        "- Per priority class: `claims.csv`; every replication's values: `runs.csv`; what the times are made of:",
        "  `steps.csv`; every run's health (open at the end, P(wait for a unit)): `diagnostics.csv`; the resolved",
        "  scenarios: `scenarios/`; versions, seeds and input hashes: `manifest.json`.",
        "",
    ]
    return "\n".join(lines)


def _html_table(header: list[str], rows: list[list[str]], table_id: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    identity = f' id="{table_id}"' if table_id else ""
    return f"<table{identity}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def report_html(inputs: ReportInputs) -> str:
    """A self-contained HTML report (images embedded, no network access), every string escaped; it opens with
    the answer, then the interactive view."""
    manifest = inputs.manifest
    claims = _html_table(CLAIM_HEADER, [claim_cells(r) for r in inputs.overall.to_dict("records")], "claims")
    verdicts, why = answer(inputs)
    explore = interactive.explore_section(inputs.claims, inputs.districts, inputs.services,
                                          float(manifest.get("confidence", 0.95)))
    warnings = "".join(f"<li><strong>{escape(title)}.</strong> {escape(advice)}<ul>"
                       + "".join(f"<li>{escape(m)}</li>" for m in messages) + "</ul></li>"
                       for title, advice, messages in warning_groups(inputs))
    warnings = f'<section id="warnings"><h2>Warnings</h2><ul>{warnings}</ul></section>' if warnings else ""
    findings = "".join(f"<li>{escape(s)}</li>" for s in finding_sentences(inputs))
    services = ""
    if inputs.services is not None and not inputs.services.empty:
        acting = "".join(f"<li>{escape(service)}: {escape(lever_list(names, False))}</li>"
                         for service, names in service_levers().items())
        services = (f"<h2>Traffic services</h2><p>{escape(services_intro(inputs.services))}</p>"
                    f"{_html_table(SERVICE_HEADER, service_rows(inputs.services), 'services')}"
                    f"<p>The levers acting on each service:</p><ul>{acting}</ul>")
    images = "".join(
        f'<figure><img alt="{escape(p.stem)}" src="data:image/{p.suffix.lstrip(".")};base64,'
        f'{base64.b64encode(p.read_bytes()).decode("ascii")}"><figcaption>{escape(p.stem)}</figcaption></figure>'
        for p in inputs.figures)
    levers = _html_table(["lever", "mechanism", "default", "range", "source"],
                         [[n, i.mechanism, f"{i.default:g}", f"{i.low:g}-{i.high:g}", i.source]
                          for n, i in LEVERS.items()])
    facts = escape(json.dumps({k: manifest[k] for k in MANIFEST_FACTS if k in manifest}, indent=2))
    title = escape(str(manifest.get("experiment", "")))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Claim check: {title}</title>
<meta http-equiv="Content-Security-Policy" content="{interactive.content_security_policy()}">
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:3px 7px;font-size:90%}}
th{{background:#f3f3f3}}img{{max-width:100%}}figure{{margin:1.5em 0}}pre{{background:#f7f7f7;padding:1em}}
{interactive.STYLE}</style>
</head><body>
<section id="answer"><h1>Claim check: {title}</h1>
<p><strong>{escape(" ".join(verdicts))}</strong></p>
<p>{escape(" ".join(why))}</p></section>
{warnings}
{explore}
<h2>The claims</h2>
<p>{escape(METHOD.format(confidence=100 * float(manifest.get("confidence", 0.95))))}</p>
<p>{escape(str(manifest.get("description", "")))}</p>
{claims}
{services}
<h2>Attribution and sensitivity</h2><ul>{findings or "<li>Not included (see --include).</li>"}</ul>
<h2>Charts</h2>{images}
<h2>Assumptions and sources: the smart levers</h2>{levers}
<p>The calibration of the baseline and every other assumption are documented with their sources in the
scenario files' comments and in docs/ (calibration.md, model.md, levers.md).</p>
<h2>How it was run</h2><pre>{facts}</pre>
</body></html>
"""


def write_reports(folder: Path, include: list[Path], manifest: dict[str, Any] | None = None,
                  executor: Executor | None = None) -> None:
    """Draw the folder's charts (and those of the included folders; in `executor`'s workers if given) and
    write both reports."""
    from citysim.output.figures import draw_folder
    from citysim.output.files import write_text

    figures = draw_folder(folder, include, executor)
    inputs = load_report_inputs(folder, include, figures, manifest)
    write_text(report_markdown(inputs), folder / layout.REPORT_MD)
    write_text(report_html(inputs), folder / layout.REPORT_HTML)


def redraw_folder(folder: Path, include: list[Path]) -> list[Path]:
    """`citysim plot`: redraw a results folder's charts (with those of `include`) from its tables, and its
    reports if it is a finished claim check; the PNGs drawn."""
    from citysim.output.figures import draw_folder

    for path in [folder, *include]:
        if not path.is_dir():
            raise InputError(path, "expected a results folder (written by citysim experiment).")
    if (folder / layout.COMPARISON).is_file() and (folder / layout.MANIFEST).is_file():
        from citysim.output.compare_report import redraw_compare_folder

        written = redraw_compare_folder(folder)
    elif (folder / layout.CLAIMS).is_file() and (folder / layout.MANIFEST).is_file():
        write_reports(folder, include)
        written = sorted((folder / layout.FIGURES).glob("*.png"))
    else:
        written = draw_folder(folder, include)
        if (folder / layout.VERDICTS).is_file() and (folder / layout.MANIFEST).is_file():
            from citysim.output.uncertainty_report import write_uncertainty_report

            write_uncertainty_report(folder, json.loads((folder / layout.MANIFEST).read_text(encoding="utf-8")))
    if not written:
        raise InputError(folder, "no chart tables found; expected claims.csv, hourly.csv, districts.csv, "
                         "samples.csv, attribution.csv, sensitivity.csv or the uncertainty tables.")
    return written
