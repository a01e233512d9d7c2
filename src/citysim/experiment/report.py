"""report.md of a claim check: the claims table, the verdicts in words, and how it was run."""

from __future__ import annotations

import math
from typing import Any

from citysim.experiment.claims import ClaimCheck
from citysim.experiment.config import Experiment


def _pct(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1f} %"


def verdict_sentence(row: dict[str, Any]) -> str:
    """One sentence for one row of the claims table."""
    interval = f"{_pct(row['ci_low_pct'])} to {_pct(row['ci_high_pct'])}"
    return (f"{row['scenario']}, {row['metric']}: {row['baseline_mean_min']:.1f} -> {row['smart_mean_min']:.1f} "
            f"min, a reduction of {_pct(row['reduction_pct'])} (95 % CI {interval}) against the claimed "
            f"{row['claimed_pct']:g} %: {row['verdict']}.")


def report_markdown(check: ClaimCheck, experiment: Experiment, manifest: dict[str, Any]) -> str:
    claims = check.claims[check.claims["priority"] == "all"]
    lines = [
        f"# Claim check: {experiment.name}",
        "",
        experiment.description,
        "",
        "Each situation's baseline and its smart twin (the same scenario with the smart levers) ran on the",
        "same random numbers, replication by replication; the reduction is 1 - mean(smart) / mean(baseline)",
        "with a delta-method 95 % interval over the paired replications, over police cases (incidents sent",
        "a unit) reported after the warm-up. Verdict: *reproduced* if the",
        "interval contains the claimed reduction, *exceeded* if it lies above, *fell short* if below.",
        "",
        "| situation | metric | baseline min | smart min | reduction | 95 % CI | claimed | verdict | pairs |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in claims.to_dict("records"):
        lines.append(
            f"| {row['scenario']} | {row['metric']} | {row['baseline_mean_min']:.2f} | {row['smart_mean_min']:.2f} | "
            f"{_pct(row['reduction_pct'])} | {_pct(row['ci_low_pct'])} to {_pct(row['ci_high_pct'])} | "
            f"{row['claimed_pct']:g} % | {row['verdict']} | {row['replications']} |")
    lines += ["", "## In words", ""]
    lines += [f"- {verdict_sentence({str(k): v for k, v in row.items()})}" for row in claims.to_dict("records")]
    lines += [
        "",
        "## How it was run",
        "",
        f"- citysim {manifest['citysim_version']}, commit {manifest['git_commit']}, seed {experiment.seed}; "
        f"{check.wall_seconds:.0f} s on {manifest['machine']['processor']} with {manifest['machine']['cpus']} CPUs.",
        f"- Replications per situation: {manifest['replications']} (rule: {manifest['replication_rule']}).",
        "- Per priority class: `claims.csv`; every replication's values: `runs.csv`; the resolved scenarios:",
        "  `scenarios/`; versions, seeds and input hashes: `manifest.json`.",
        "",
    ]
    return "\n".join(lines)
