"""The uncertainty study's report: the answer first (what the evidence says about each claim, which input
decides it, what a lever alone would need), then the charts and the tables it came from. Everything is
read back from the folder's tables, so `citysim plot DIR` can rewrite it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from citysim.output import layout
from citysim.output.files import write_text


def _read(folder: Path, name: str) -> pd.DataFrame:
    path = folder / name
    return pd.read_csv(path) if path.is_file() and path.stat().st_size else pd.DataFrame()


def _deciding(indices: pd.DataFrame, situation: str, metric: str) -> str:
    rows = indices[(indices["situation"] == situation) & (indices["metric"] == metric)]
    if rows.empty:
        return ""
    column = "total_order" if rows["total_order"].notna().any() else "mu_star"
    if not rows[column].notna().any():
        return ""
    top = rows.sort_values(column).iloc[-1]
    if column == "mu_star":
        return f"it turns on {top['lever']} (Morris mu* {top[column]:.2f})"
    # An estimate above 1, or an interval wider than [0, 1], ranks the input but does not measure it.
    rough = top[column] > 1 or top["total_order_ci_high"] - top["total_order_ci_low"] > 1
    note = "; a rough estimate: too few samples to measure it, only to rank it first" if rough else ""
    return f"it turns on {top['lever']} (total Sobol index {top[column]:.2f}{note})"


def _break_even(break_evens: pd.DataFrame, situation: str, metric: str) -> str:
    rows = break_evens[(break_evens["situation"] == situation) & (break_evens["metric"] == metric)]
    if rows.empty:
        return ""
    needs = rows[rows["status"].isin(["needs at least", "needs at most"])]
    if not needs.empty:
        # The input whose evidence most supports the value needed (the prior probability of it).
        best = needs.sort_values("p_evidence_reaches", ascending=False, kind="stable").iloc[0]
        sign = ">=" if best["status"] == "needs at least" else "<="
        return (f"alone it would need {best['lever']} {sign} {best['break_even']:.2f}, against evidence of "
                f"{best['evidence_p05']:.2f}-{best['evidence_p95']:.2f} (5-95 %; prior probability "
                f"{best['p_evidence_reaches']:.2f})")
    if (rows["status"] == "reached across the range").all():
        return "no single input decides it: it is reached with any one of them anywhere in its range"
    if (rows["status"] == "out of reach alone").all():
        return "no input alone reaches it anywhere in its range, the others at their defaults"
    return ""


def answer_sentences(folder: Path) -> list[str]:
    """One sentence per situation and metric: P(claim), the verdict, the deciding input, the break-even."""
    verdicts = _read(folder, layout.VERDICTS)
    indices = _read(folder, layout.SENSITIVITY_INDICES)
    break_evens = _read(folder, layout.BREAK_EVENS)
    sentences = []
    for row in verdicts.to_dict("records"):
        situation, metric = str(row["situation"]), str(row["metric"])
        probability = "n/a" if math.isnan(row["probability"]) else f"{row['probability']:.2f}"
        parts = [f"Given the evidence, P({metric} cut >= {row['claimed_pct']:g} %) = {row['p_reaches_claim']:.2f} "
                 f"[{row['p_reaches_claim_ci_low']:.2f}, {row['p_reaches_claim_ci_high']:.2f}] in {situation}: "
                 f"{row['verdict']} ({probability})"]
        parts += [text for text in (_deciding(indices, situation, metric), _break_even(break_evens, situation, metric))
                  if text]
        sentences.append("; ".join(parts) + ".")
    return sentences


def _markdown_table(frame: pd.DataFrame) -> list[str]:
    if frame.empty:
        return ["(none)"]
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in row) + " |")
    return lines


def write_uncertainty_report(folder: Path, manifest: dict[str, Any]) -> None:
    """report.md: the answer first, then the charts and the tables."""
    verdicts = _read(folder, layout.VERDICTS)
    lines = [f"# {manifest.get('experiment', 'uncertainty')}: the claims under the evidence's uncertainty", ""]
    lines += [f"- {s}" for s in answer_sentences(folder)]
    lines += ["", f"Method: {manifest.get('method')} design, {manifest.get('samples')} base samples, "
              f"{manifest.get('design_points')} points, {manifest.get('replications')} replication(s) per "
              f"configuration on common random numbers; margin of 'about X %': +-{manifest.get('margin_pct')} "
              f"points; a verdict needs probability >= {manifest.get('decisive_probability')}, else it is "
              "'undecided by the evidence'. Intervals: bootstrap over base samples "
              f"({manifest.get('confidence')}).", ""]
    figures = [f for pattern in ("uncertainty-*.png", "sobol-*.png", "break-even*.png")
               for f in sorted((folder / layout.FIGURES).glob(pattern))]
    lines += [f"![{f.stem}]({layout.FIGURES}/{f.name})" for f in figures]
    lines += ["", "## Verdicts", "", *_markdown_table(verdicts), ""]
    indices = _read(folder, layout.SENSITIVITY_INDICES)
    if not indices.empty:
        shown = indices[["situation", "lever", "metric", "first_order", "total_order", "mu_star"]]
        lines += ["## Sensitivity indices", "", *_markdown_table(shown), ""]
    break_evens = _read(folder, layout.BREAK_EVENS)
    if not break_evens.empty:
        shown = break_evens[["metric", "lever", "status", "break_even", "evidence_p05", "evidence_p95",
                             "p_evidence_reaches"]]
        lines += ["## Break-evens (one lever alone, the others at their defaults)", "", *_markdown_table(shown), ""]
    lines += ["## The evidence (priors)", "", *_markdown_table(_read(folder, layout.PRIORS)
                                                              [["input", "distribution", "p05", "p95", "year"]]), ""]
    write_text("\n".join(lines), folder / layout.REPORT_MD)
