"""Experiments: paired-reduction statistics and verdicts, experiment files, `citysim experiment`
(`citysim compare`: tests/test_compare.py).

Simulations use conftest's small two-district scenario (about 10 ms a replication); experiment, levers
and scenario files are written into each test's tmp_path.
"""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from citysim.city.loading import load_scenario
from citysim.cli import EXIT_BAD_INPUT, EXIT_OK, main
from citysim.config.experiment import load_experiment
from citysim.config.levers import Levers
from citysim.errors import InputError
from citysim.experiment.claim_check import CLAIM_COLUMNS, RUN_COLUMNS
from citysim.analysis.stats import (
    EXCEEDED,
    FELL_SHORT,
    REPRODUCED,
    UNDETERMINED,
    Reduction,
    paired_reduction,
    verdict,
)
from conftest import SMALL_BUSY_YAML, SMALL_OPS_SCENARIO_YAML, SMALL_SMART_YAML

# --------------------------------------------------------------------------- statistics


def test_paired_reduction_known_values():
    """Ratio of means and delta-method t-interval match a hand computation on four pairs."""
    b = np.array([10.0, 12.0, 11.0, 13.0])
    s = np.array([7.0, 9.5, 8.0, 9.5])
    result = paired_reduction(b, s, 0.95)
    ratio = 34.0 / 46.0  # sum(s) / sum(b)
    assert result.n == 4
    assert result.baseline_mean == pytest.approx(11.5) and result.smart_mean == pytest.approx(8.5)
    assert result.reduction_pct == pytest.approx(100 * (1 - ratio))
    d = [si - ratio * bi for bi, si in zip(b, s, strict=True)]
    d_mean = sum(d) / 4  # zero by construction of the ratio
    sd = math.sqrt(sum((x - d_mean) ** 2 for x in d) / 3)
    half = stats.t.ppf(0.975, 3) * sd / (math.sqrt(4) * 11.5)
    assert half > 0.01
    assert result.ci_low_pct == pytest.approx(100 * (1 - ratio - half), rel=1e-12)
    assert result.ci_high_pct == pytest.approx(100 * (1 - ratio + half), rel=1e-12)
    assert result.half_width_pct == pytest.approx(100 * half, rel=1e-12)


def test_paired_reduction_confidence_level_widens():
    """A 99 % interval is wider than a 90 % one around the same reduction, by the ratio of t quantiles."""
    b, s = np.array([10.0, 12.0, 11.0, 13.0, 9.0]), np.array([7.0, 9.5, 8.0, 9.5, 7.5])
    narrow, wide = paired_reduction(b, s, 0.90), paired_reduction(b, s, 0.99)
    assert narrow.reduction_pct == wide.reduction_pct
    assert wide.half_width_pct / narrow.half_width_pct == pytest.approx(stats.t.ppf(0.995, 4) / stats.t.ppf(0.95, 4))


def test_paired_reduction_single_pair_has_no_interval():
    """With one pair the reduction is known but the interval is NaN, and the verdict undetermined."""
    result = paired_reduction(np.array([10.0]), np.array([8.0]), 0.95)
    assert result.n == 1 and result.reduction_pct == pytest.approx(20.0)
    assert math.isnan(result.ci_low_pct) and math.isnan(result.ci_high_pct)
    assert verdict(result, 20.0) == UNDETERMINED


def test_paired_reduction_zero_variance_zero_width():
    """Smart exactly 0.8 x baseline in every pair: reduction 20 % with an interval of zero width."""
    b = np.array([10.0, 12.5, 11.0, 9.0, 14.0])
    result = paired_reduction(b, 0.8 * b, 0.95)
    assert result.reduction_pct == pytest.approx(20.0)
    assert result.ci_low_pct == pytest.approx(20.0, abs=1e-9) and result.ci_high_pct == pytest.approx(20.0, abs=1e-9)


def test_paired_reduction_drops_unpaired_and_degenerate():
    """Pairs with a NaN are dropped; no pairs, or a zero baseline mean, give NaN throughout."""
    dropped = paired_reduction(np.array([10.0, np.nan, 12.0, 11.0]), np.array([8.0, 5.0, np.nan, 9.0]), 0.95)
    assert dropped.n == 2 and dropped.baseline_mean == pytest.approx(10.5) and dropped.smart_mean == pytest.approx(8.5)
    for b, s in ((np.array([]), np.array([])), (np.zeros(3), np.ones(3))):
        empty = paired_reduction(b, s, 0.95)
        assert math.isnan(empty.reduction_pct) and math.isnan(empty.ci_low_pct)
        assert verdict(empty, 20.0) == UNDETERMINED


@pytest.mark.parametrize(("low", "high", "claimed", "expected"), [
    (15.0, 25.0, 20.0, REPRODUCED),
    (20.0, 25.0, 20.0, REPRODUCED),  # the claim on the interval's edge is inside it
    (15.0, 20.0, 20.0, REPRODUCED),
    (20.0, 20.0, 20.0, REPRODUCED),
    (20.000001, 25.0, 20.0, EXCEEDED),
    (15.0, 19.999999, 20.0, FELL_SHORT),
    (-5.0, 3.0, 35.0, FELL_SHORT),
    (40.0, 50.0, 35.0, EXCEEDED),
    (math.nan, math.nan, 20.0, UNDETERMINED),
])
def test_verdict_boundaries(low, high, claimed, expected):
    """reproduced if low <= claim <= high, exceeded if low > claim, fell short if high < claim, else undetermined."""
    reduction = Reduction(10.0, 8.0, 20.0, low, high, 5)
    assert verdict(reduction, claimed) == expected


def test_paired_reduction_coverage():
    """In 2,000 synthetic experiments of 10 pairs the 95 % interval covers the true 25 % reduction 93-97 % of times."""
    rng = np.random.default_rng(20240601)
    trials, n = 2000, 10
    baseline = rng.normal(10.0, 1.0, size=(trials, n))
    smart = 0.75 * baseline + rng.normal(0.0, 0.3, size=(trials, n))
    covered = 0
    for b, s in zip(baseline, smart, strict=True):
        result = paired_reduction(b, s, 0.95)
        covered += result.ci_low_pct <= 25.0 <= result.ci_high_pct
    coverage = covered / trials
    assert 0.93 <= coverage <= 0.97, coverage


def test_paired_interval_narrower_than_unpaired():
    """Pairing helps: with correlated pairs the delta-method interval is far narrower than Welch's on the means."""
    rng = np.random.default_rng(7)
    b = rng.normal(10.0, 1.0, 10)
    s = 0.75 * b + rng.normal(0.0, 0.3, 10)
    paired = paired_reduction(b, s, 0.95)
    welch = stats.ttest_ind(s, b, equal_var=False).confidence_interval(0.95)
    unpaired_half_pct = 100 * (welch.high - welch.low) / 2 / b.mean()
    assert paired.half_width_pct < 0.5 * unpaired_half_pct


# --------------------------------------------------------------------------- experiment files

SMART_LEVERS, BUSY = SMALL_SMART_YAML, SMALL_BUSY_YAML
EXPERIMENT = textwrap.dedent("""\
    kind: claim_check
    name: tiny-claim
    description: two small situations, two levers
    seed: 4242
    smart_levers: smart.yaml
    situations:
      - {name: ordinary, scenario: scenario.yaml}
      - {name: busy, scenario: busy.yaml}
    metrics:
      - {name: arrival, start: t_call, end: t_arrive, claimed_reduction_pct: 20}
      - {name: handling, start: t_arrive, end: t_clear, claimed_reduction_pct: 35}
    replications: {min: 2, max: 3, batch: 1, target_half_width_pct: 0.001}
    confidence: 0.95
    by_priority: true
    """)


@pytest.fixture
def experiment_file(ops_scenario_file: Path, write_yaml) -> Path:
    """A claim-check file over the small scenario and a busier variant, with its smart-levers file."""
    write_yaml("smart.yaml", SMART_LEVERS)
    write_yaml("busy.yaml", BUSY)
    return write_yaml("experiment.yaml", EXPERIMENT)


def _bad(experiment_file: Path, old: str, new: str) -> tuple[Path, str]:
    text = experiment_file.read_text(encoding="utf-8")
    assert old in text
    text = text.replace(old, new, 1)
    experiment_file.write_text(text, encoding="utf-8")
    return experiment_file, text


def test_experiment_file_loads(experiment_file):
    """The tiny experiment file loads: two situations, two metrics, the replication rule as written."""
    experiment, _ = load_experiment(experiment_file)
    assert [s.name for s in experiment.situations] == ["ordinary", "busy"]
    assert [m.name for m in experiment.metrics] == ["arrival", "handling"]
    assert (experiment.replications.min, experiment.replications.max) == (2, 3)


@pytest.mark.parametrize(("old", "new", "key", "needle", "line_needle"), [
    ("seed: 4242", "seed: 4242\nconfidenc: 0.9", "confidenc", "Did you mean 'confidence'?", "confidenc:"),
    ("scenario: busy.yaml", "scenario: busier.yaml", "situations[1].scenario", "'busier.yaml' does not exist",
     "busier.yaml"),
    ("smart_levers: smart.yaml", "smart_levers: smarter.yaml", "smart_levers", "'smarter.yaml' does not exist",
     "smarter.yaml"),
    ("end: t_arrive", "end: t_arrival", "metrics[0].end", "'t_arrival'", "t_arrival"),
    ("min: 2, max: 3", "min: 4, max: 3", "replications", "max must be at least min", "replications:"),
    ("claimed_reduction_pct: 35", "claimed_reduction_pct: 135", "metrics[1].claimed_reduction_pct",
     "less than or equal to 100", "135"),
    pytest.param("name: busy,", "name: ordinary,", "situations", "situation names must be unique", "situations:"),
    pytest.param("name: handling, start: t_arrive, end: t_clear", "name: arrival, start: t_call, end: t_arrive",
                 "metrics", "metric names must be unique", "metrics:"),
    pytest.param("name: handling,", "name: arrival,", "metrics[1]", "'arrival' is the clock t_call -> t_arrive",
                 "name: arrival, start: t_arrive"),
    pytest.param("kind: claim_check\n", "", "kind", "kind", "name: tiny-claim"),
], ids=["unknown-key", "missing-situation", "missing-levers", "bad-column", "max-below-min", "claim-above-100",
        "duplicate-situation", "duplicate-metric", "registered-name-other-clock", "missing-kind"])
def test_bad_experiment_file(old, new, key, needle, line_needle, experiment_file, line_of):
    """A bad experiment file is an InputError naming the file, the key path and the line."""
    path, text = _bad(experiment_file, old, new)
    with pytest.raises(InputError) as info:
        load_experiment(path)
    error, message = info.value, str(info.value)
    assert error.file == str(path), message
    assert f"at key '{key}'" in message and needle in message, message
    assert error.line == line_of(text, line_needle), message


def test_bad_experiment_file_cli_exits_2(experiment_file, tmp_path, capsys):
    """`citysim experiment` on a bad file exits 2 with the error on stderr, writing no manifest."""
    path, _ = _bad(experiment_file, "end: t_arrive", "end: t_arrival")
    out = tmp_path / "out"
    assert main(["experiment", str(path), "--out", str(out)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert str(path) in err and "metrics[0].end" in err and "Traceback" not in err
    assert not (out / "manifest.json").exists()


# --------------------------------------------------------------------------- citysim experiment / compare


@pytest.fixture(scope="module")
def claim_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The results folder of `citysim experiment` on the tiny experiment file (run once for the module's
    read-only checks)."""
    folder = tmp_path_factory.mktemp("claim")
    for name, text in (("scenario.yaml", SMALL_OPS_SCENARIO_YAML), ("smart.yaml", SMART_LEVERS),
                       ("busy.yaml", BUSY), ("experiment.yaml", EXPERIMENT)):
        (folder / name).write_text(text, encoding="utf-8")
    out = folder / "results"
    assert main(["experiment", str(folder / "experiment.yaml"), "--out", str(out)]) == EXIT_OK
    return out


def test_experiment_writes_claims(claim_run):
    """claims.csv has the documented columns and one row per situation x metric x priority class."""
    claims = pd.read_csv(claim_run / "claims.csv", dtype={"priority": str})
    assert list(claims.columns) == [
        "scenario", "metric", "priority", "baseline_mean_min", "smart_mean_min", "reduction_pct", "ci_low_pct",
        "ci_high_pct", "claimed_pct", "verdict", "replications", "matched_reduction_pct", "matched_ci_low_pct",
        "matched_ci_high_pct"]
    assert list(claims.columns) == CLAIM_COLUMNS
    keys = set(zip(claims["scenario"], claims["metric"], claims["priority"], strict=True))
    assert keys == {(s, m, p) for s in ("ordinary", "busy") for m in ("arrival", "handling") for p in ("all", "1", "3")}
    assert len(claims) == len(keys) == 12
    # The tiny target half-width is never met: max replications (a class with no case in one of them
    # counts the others).
    assert (claims.loc[claims["priority"] == "all", "replications"] == 3).all()
    assert claims["replications"].between(1, 3).all()
    assert set(claims["verdict"]) <= {REPRODUCED, EXCEEDED, FELL_SHORT, UNDETERMINED}
    assert claims.set_index("metric")["claimed_pct"].groupby(level=0).unique().to_dict() == {
        "arrival": [20.0], "handling": [35.0]}
    assert (claims["ci_low_pct"] <= claims["reduction_pct"]).all()
    assert (claims["reduction_pct"] <= claims["ci_high_pct"]).all()
    for row in claims.to_dict("records"):
        reduction = Reduction(row["baseline_mean_min"], row["smart_mean_min"], row["reduction_pct"],
                              row["ci_low_pct"], row["ci_high_pct"], row["replications"])
        assert row["verdict"] == verdict(reduction, row["claimed_pct"])
    handling = claims[(claims["metric"] == "handling") & (claims["priority"] == "all")]
    # mobile terminals on 80 % of units spare them the back office's queue for look-ups: handling falls
    assert (handling["reduction_pct"] > 0).all(), handling


def test_experiment_claims_match_runs(claim_run):
    """Each claims row's means and reduction are the paired statistics of runs.csv's values."""
    runs = pd.read_csv(claim_run / "runs.csv", dtype={"priority": str})
    claims = pd.read_csv(claim_run / "claims.csv", dtype={"priority": str})
    assert list(runs.columns) == RUN_COLUMNS
    # situations x replications x configs x metrics x priority classes, less any class without a case in a
    # run, and the matched-incident rows (overall only) of both configurations
    matched = runs["config"].str.endswith("_matched")
    assert matched.sum() == 2 * 3 * 2 * 2 and (runs.loc[matched, "priority"] == "all").all()
    assert 2 * 3 * 2 * 2 * 2 < (~matched).sum() <= 2 * 3 * 2 * 2 * 3
    assert (runs.loc[~matched, "priority"] == "all").sum() == 2 * 3 * 2 * 2
    assert set(runs["config"]) == {"baseline", "smart", "baseline_matched", "smart_matched"}
    assert set(runs["replication"]) == {0, 1, 2}
    for row in claims.to_dict("records"):
        rows = runs[(runs["situation"] == row["scenario"]) & (runs["metric"] == row["metric"])
                    & (runs["priority"] == row["priority"])]
        table = rows.pivot(index="replication", columns="config", values="value_min")
        both = table[["baseline", "smart"]].dropna()
        assert len(both) == row["replications"]
        expected = paired_reduction(both["baseline"].to_numpy(), both["smart"].to_numpy(), 0.95)
        assert row["baseline_mean_min"] == pytest.approx(expected.baseline_mean)
        assert row["reduction_pct"] == pytest.approx(expected.reduction_pct)
        assert row["ci_low_pct"] == pytest.approx(expected.ci_low_pct)
        if row["priority"] == "all":
            matched = paired_reduction(table["baseline_matched"].to_numpy(), table["smart_matched"].to_numpy(), 0.95)
            assert row["matched_reduction_pct"] == pytest.approx(matched.reduction_pct)
        else:
            assert math.isnan(row["matched_reduction_pct"])


def test_experiment_writes_report_manifest_and_scenarios(claim_run):
    """report.md, manifest.json and the resolved baseline and smart scenarios are written."""
    report = (claim_run / "report.md").read_text(encoding="utf-8")
    assert "tiny-claim" in report and "| ordinary | arrival |" in report and "| busy | handling |" in report
    manifest = json.loads((claim_run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == 4242 and manifest["experiment"] == "tiny-claim"
    assert manifest["replications"] == {"ordinary": 3, "busy": 3}
    smart = load_scenario(claim_run / "scenarios" / "busy.smart.yaml")
    baseline = load_scenario(claim_run / "scenarios" / "busy.baseline.yaml")
    assert baseline.demand.calls_per_day == smart.demand.calls_per_day == 480
    assert baseline.levers.command_centre is None
    assert smart.levers.command_centre is not None and smart.levers.command_centre.strength == 0.34
    assert smart.levers.mobile_terminals is not None and smart.levers.avl_dispatch is None
    assert smart.model_copy(update={"levers": baseline.levers, "name": baseline.name}) == baseline


def test_experiment_manifest_hashes_every_input(claim_run, tmp_path):
    """manifest.json's input hashes cover the experiment file, every situation file and the smart-levers file."""
    manifest = json.loads((claim_run / "manifest.json").read_text(encoding="utf-8"))
    hashed = {Path(name).name for name in manifest["input_sha256"]}
    assert {"experiment.yaml", "scenario.yaml", "busy.yaml", "smart.yaml"} <= hashed


def test_experiment_is_deterministic(experiment_file, claim_run, tmp_path):
    """Running the same experiment again writes byte-identical claims.csv and runs.csv."""
    again = tmp_path / "again"
    assert main(["experiment", str(experiment_file), "--out", str(again)]) == EXIT_OK
    for name in ("claims.csv", "runs.csv"):
        assert (again / name).read_bytes() == (claim_run / name).read_bytes(), name


def test_experiment_stops_when_precise(experiment_file, tmp_path):
    """With a loose target half-width the sequential rule stops at min replications."""
    path, _ = _bad(experiment_file, "target_half_width_pct: 0.001", "target_half_width_pct: 1000")
    out = tmp_path / "loose"
    assert main(["experiment", str(path), "--out", str(out)]) == EXIT_OK
    claims = pd.read_csv(out / "claims.csv", dtype={"priority": str})
    assert (claims.loc[claims["priority"] == "all", "replications"] == 2).all()
    assert claims["replications"].between(1, 2).all()


def test_matched_incidents_are_the_same_cases_in_both_runs(ops_scenario_file):
    """draw_id names the same incident in a baseline and its smart twin (same occurrence time, place and
    category) even when prevention removes some; the matched estimator counts only cases in both runs."""
    from citysim.config.experiment import Metric
    from citysim.experiment.runs import matched_rows
    from citysim.simulation.kpis import police_cases
    from citysim.simulation.model import simulate_one

    baseline = load_scenario(ops_scenario_file)
    smart = baseline.model_copy(update={"levers": Levers.model_validate(
        {"prevention": {"strength": 0.5, "crash_strength": 0.0, "categories": ["routine"]}})})
    b = simulate_one(baseline, 0, 99).logs.incidents
    s = simulate_one(smart, 0, 99).logs.incidents
    assert len(s) < len(b)
    joined = b.merge(s, on="draw_id", suffixes=("_b", "_s"))
    assert len(joined) == len(s)
    for column in ("t_occur", "x_km", "category"):
        assert (joined[f"{column}_b"] == joined[f"{column}_s"]).all()
    metric = Metric(name="arrival", start="t_call", end="t_arrive", claimed_reduction_pct=20)
    rows = {config: n for config, _m, _v, n in matched_rows(b, s, [metric])}
    both = set(police_cases(b).dropna(subset=["t_arrive"])["draw_id"]) & \
        set(police_cases(s).dropna(subset=["t_arrive"])["draw_id"])
    assert rows == {"baseline_matched": len(both), "smart_matched": len(both)}
    assert len(both) < len(police_cases(b))
