"""The uncertainty study: priors, designs and estimators against known answers, and the experiment's
tables (exact columns, serial = parallel, resumable)."""

from __future__ import annotations

import contextlib
import io
import math
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from citysim.cli import EXIT_BAD_INPUT, main
from citysim.config.priors import Mixture, Pert, load_priors
from citysim.experiment.design import claim_probability, make_design, sensitivity_indices
from citysim.experiment.uncertainty import BREAK_EVEN_COLUMNS, INDEX_COLUMNS, PROBABILITY_COLUMNS
from conftest import SMALL_BUSY_YAML, SMALL_OPS_SCENARIO_YAML, SMALL_SMART_YAML

# --------------------------------------------------------------------------- estimators on known answers


def _ishigami(x: np.ndarray) -> np.ndarray:
    return np.sin(x[:, 0]) + 7 * np.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * np.sin(x[:, 0])


def test_sobol_indices_match_ishigami():
    """Ishigami (a = 7, b = 0.1) on [-pi, pi]^3: S1 = (0.314, 0.442, 0), ST = (0.558, 0.442, 0.244)."""
    design = make_design("sobol", ["x1", "x2", "x3"], {}, 1024, seed=7)
    indices = sensitivity_indices(design, _ishigami(-np.pi + 2 * np.pi * design.unit), 0.95, 200, seed=1)
    first = [i.first_order for i in indices]
    total = [i.total_order for i in indices]
    assert np.allclose(first, [0.3139, 0.4424, 0.0], atol=0.06)
    assert np.allclose(total, [0.5576, 0.4424, 0.2437], atol=0.06)
    for index, truth in zip(indices, [0.5576, 0.4424, 0.2437], strict=True):
        assert index.total_order_ci[0] < truth < index.total_order_ci[1]


def test_grouped_sobol_index_covers_its_members():
    """Grouping x1 with x3 gives one index whose total order is that of the pair: 1 - ST-complement (x2's S1)."""
    design = make_design("sobol", ["x1", "x2", "x3"], {"pair": ["x1", "x3"]}, 1024, seed=7)
    assert design.groups == ["pair", "x2"]
    assert len(design.unit) == 1024 * (2 + 2)
    indices = {i.group: i for i in sensitivity_indices(design, _ishigami(-np.pi + 2 * np.pi * design.unit),
                                                        0.95, 200, seed=1)}
    assert indices["pair"].total_order == pytest.approx(1 - 0.4424, abs=0.06)


def test_morris_ranks_ishigami_inputs():
    """Morris mu* ranks the Ishigami inputs x2 > x1 > x3 (Saltelli et al. 2008), and gives no Sobol values."""
    design = make_design("morris", ["x1", "x2", "x3"], {}, 60, seed=7)
    assert len(design.unit) == 60 * 4
    indices = sensitivity_indices(design, _ishigami(-np.pi + 2 * np.pi * design.unit), 0.95, 200, seed=1)
    mu = [i.mu_star for i in indices]
    assert mu[1] > mu[0] > mu[2]
    assert all(math.isnan(i.total_order) for i in indices)


def test_claim_probability_covers_a_known_answer():
    """A synthetic model with a known answer: reduction = 50 s, s ~ PERT(0.1, 0.4, 0.9), so
    P(reduction >= 20) = P(s >= 0.4). Over 100 independently scrambled designs of 16 base samples the
    bootstrap 95 % interval covers it at least 90 % of the time, and the estimates are unbiased."""
    prior = Pert(kind="pert", low=0.1, mode=0.4, high=0.9)
    truth = 1.0 - float(prior.cdf(np.array([0.4]))[0])
    covered, estimates = 0, []
    for seed in range(100):
        design = make_design("sobol", ["s", "other"], {}, 16, seed=seed)
        reductions = 50.0 * prior.ppf(design.unit[:, 0])
        result = claim_probability(reductions, design.block, 20.0, 2.5, 0.95, 400, seed)
        covered += result.p_reaches_ci[0] <= truth <= result.p_reaches_ci[1]
        estimates.append(result.p_reaches)
    assert covered >= 90
    assert abs(np.mean(estimates) - truth) < 0.02
    assert result.p_below + result.p_within + result.p_above == pytest.approx(1.0)


# --------------------------------------------------------------------------- distributions


def test_pert_has_the_pert_mean():
    prior = Pert(kind="pert", low=0.2, mode=0.5, high=0.9)
    u = (np.arange(20000) + 0.5) / 20000
    assert prior.ppf(u).mean() == pytest.approx((0.2 + 4 * 0.5 + 0.9) / 6, abs=1e-3)


def test_mixture_with_a_null_result_inverts_exactly():
    """A null study as a point at 0 (weight 0.3) beside uniform(0.5, 1): the lowest 30 % of quantiles are
    exactly 0, the rest follow the uniform, and cdf(ppf(u)) >= u everywhere."""
    mixture = Mixture.model_validate({"kind": "mixture", "components": [
        {"weight": 0.3, "evidence": "null", "distribution": {"kind": "point", "value": 0.0}},
        {"weight": 0.7, "evidence": "effect", "distribution": {"kind": "uniform", "low": 0.5, "high": 1.0}}]})
    u = np.array([0.0, 0.1, 0.3, 0.65, 1.0])
    assert mixture.ppf(u).tolist() == pytest.approx([0.0, 0.0, 0.0, 0.75, 1.0], abs=1e-12)
    grid = np.linspace(0, 1, 501)
    assert np.all(mixture.cdf(mixture.ppf(grid)) >= grid - 1e-12)
    assert stats.kstest(mixture.ppf((np.arange(4000) + 0.5) / 4000)[1200:], "uniform", args=(0.5, 0.5)).pvalue > 0.5


# --------------------------------------------------------------------------- priors files

PRIORS = textwrap.dedent("""\
    priors:
      command_centre:
        target: levers.command_centre.strength
        apply: set
        distribution: {kind: pert, low: 0.1, mode: 0.34, high: 0.6}
        source: "test evidence"
        year: 2023
      mobile_terminals:
        target: levers.mobile_terminals.strength
        apply: set
        distribution:
          kind: mixture
          components:
            - {weight: 0.3, evidence: "a null study", distribution: {kind: point, value: 0.0}}
            - {weight: 0.7, evidence: "two positive studies",
               distribution: {kind: pert, low: 0.5, mode: 0.8, high: 1.0}}
        source: "test evidence"
        year: 2020
      units_on_duty:
        target: districts.*.units
        apply: scale
        distribution: {kind: uniform, low: 0.75, high: 1.25}
        source: "ASSUMPTION for the test"
        year: null
    """)
STUDY = textwrap.dedent("""\
    kind: uncertainty
    name: tiny-uncertainty
    seed: 4242
    smart_levers: smart.yaml
    priors: priors.yaml
    situations:
      - {name: ordinary, scenario: scenario.yaml}
      - {name: busy, scenario: busy.yaml}
    metrics:
      - {name: arrival, start: t_call, end: t_arrive, claimed_reduction_pct: 20}
      - {name: handling_call_to_closed, start: t_call, end: t_closed, claimed_reduction_pct: 35}
    method: sobol
    samples: 4
    groups: {}
    replications: 1
    margin_pct: 2.5
    decisive_probability: 0.8
    confidence: 0.95
    resamples: 200
    break_even: {situation: ordinary, inputs: [command_centre, mobile_terminals, units_on_duty], steps: 3}
    """)


@pytest.fixture
def study_file(ops_scenario_file: Path, write_yaml) -> Path:
    write_yaml("smart.yaml", SMALL_SMART_YAML)
    write_yaml("busy.yaml", SMALL_BUSY_YAML)
    write_yaml("priors.yaml", PRIORS)
    return write_yaml("uncertainty.yaml", STUDY)


def test_priors_apply_to_their_targets(study_file):
    from citysim.city.loading import load_scenario

    priors = load_priors(study_file.parent / "priors.yaml")
    folder = study_file.parent
    baseline, smart = load_scenario(folder / "scenario.yaml"), load_scenario(folder / "smart.yaml")
    point = {"command_centre": 0.2, "mobile_terminals": 0.0, "units_on_duty": 1.25}
    twin = priors.apply(smart, point, levers=True)
    assert twin.levers.command_centre.strength == 0.2 and twin.levers.mobile_terminals.strength == 0.0
    assert [d.units for d in twin.districts] == [10, 8]  # 8 x 1.25 and 6 x 1.25, rounded
    base = priors.apply(baseline, point, levers=False)
    assert base.levers == baseline.levers and [d.units for d in base.districts] == [10, 8]
    assert priors.default("command_centre", baseline, smart) == 0.34
    assert priors.default("units_on_duty", baseline, smart) == 1.0


@pytest.mark.parametrize(("old", "new", "needle"), [
    ("year: 2023", "year: 2023\n    sorce: x", "sorce"),
    ("levers.command_centre.strength", "levers.command_centre.strenght", "names no number"),
    ("low: 0.1, mode: 0.34, high: 0.6", "low: 0.1, mode: 0.34, high: 1.6", "make the scenario invalid"),
    ("source: \"ASSUMPTION for the test\"", "source: \"a guess\"", "must say ASSUMPTION"),
    ("weight: 0.7", "weight: 0.6", "weights must sum to 1"),
    ("low: 0.1, mode: 0.34", "low: 0.4, mode: 0.34", "mode must lie between"),
])
def test_bad_priors_file_gets_one_clear_error(study_file, old, new, needle, capsys):
    """Each mistake in a priors file is one paragraph naming the priors file; nothing runs."""
    path = study_file.parent / "priors.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    out = study_file.parent / "out"
    assert main(["experiment", str(study_file), "--out", str(out), "--workers", "1"]) == EXIT_BAD_INPUT
    error = capsys.readouterr().err
    assert needle in error and "priors.yaml" in error and "Traceback" not in error
    assert not list(out.glob("units/*.unit.json"))


def test_samples_option_is_checked(study_file, tmp_path, capsys):
    assert main(["experiment", str(study_file), "--samples", "3", "--out", str(tmp_path / "o")]) == EXIT_BAD_INPUT
    assert "power of 2" in capsys.readouterr().err


# --------------------------------------------------------------------------- the experiment


def _run(study_file: Path, out: Path, *extra: str) -> tuple[int, str]:
    """`citysim experiment` in this process: its exit status and what it printed."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["experiment", str(study_file), "--out", str(out), *extra])
    return code, printed.getvalue()


TABLES = ["claim_probabilities.csv", "verdicts.csv", "sensitivity_indices.csv", "break_evens.csv",
          "reductions.csv", "design.csv", "runs.csv", "priors.csv"]


@pytest.fixture(scope="module")
def study_runs(tmp_path_factory):
    """The tiny study three ways: serially with --samples 2, on 2 workers, and the serial folder as an
    interruption leaves it (half the runs and none of the tables) resumed."""

    folder = tmp_path_factory.mktemp("study")
    (folder / "scenario.yaml").write_text(SMALL_OPS_SCENARIO_YAML, encoding="utf-8")
    (folder / "smart.yaml").write_text(SMALL_SMART_YAML, encoding="utf-8")
    (folder / "busy.yaml").write_text(SMALL_BUSY_YAML, encoding="utf-8")
    (folder / "priors.yaml").write_text(PRIORS, encoding="utf-8")
    study = folder / "uncertainty.yaml"
    study.write_text(STUDY, encoding="utf-8")
    serial = _run(study, folder / "serial", "--workers", "1", "--samples", "2")
    parallel = _run(study, folder / "parallel", "--workers", "2", "--samples", "2")
    resumed = folder / "resumed"
    shutil.copytree(folder / "serial", resumed)
    units = sorted((resumed / "units").glob("*.unit.json"))
    for unit in units[::2]:  # an interruption: half the runs never finished, nor did the tables
        unit.unlink()
    for table in TABLES:
        (resumed / table).unlink()
    (resumed / "manifest.json").unlink()
    again = _run(study, resumed, "--workers", "1", "--samples", "2", "--resume")
    return folder, {"serial": serial, "parallel": parallel, "again": again}, len(units)


def test_study_writes_both_tables_with_their_columns(study_runs):
    """--samples 2 over two situations and two metrics: claim_probabilities.csv and sensitivity_indices.csv
    have the documented columns, a row for every situation and metric (and input), and sane values."""
    folder, done, _ = study_runs
    assert done["serial"][0] == 0
    assert "Given the evidence, P(arrival cut >= 20 %)" in done["serial"][1]
    out = folder / "serial"
    probabilities = pd.read_csv(out / "claim_probabilities.csv")
    assert list(probabilities.columns) == PROBABILITY_COLUMNS
    assert set(zip(probabilities["situation"], probabilities["metric"], strict=True)) == {
        (s, m) for s in ("ordinary", "busy") for m in ("arrival", "handling_call_to_closed")}
    assert (probabilities["samples"] == 2 * (3 + 2)).all()
    assert probabilities["p_reaches_claim"].between(0, 1).all()
    assert (probabilities["reduction_p05"] <= probabilities["reduction_p50"]).all()
    indices = pd.read_csv(out / "sensitivity_indices.csv")
    assert list(indices.columns) == INDEX_COLUMNS
    assert len(indices) == 2 * 2 * 3 and indices["total_order"].notna().all()
    verdicts = pd.read_csv(out / "verdicts.csv")
    assert set(verdicts["verdict"]) <= {"reproduced (within margin)", "exceeded", "fell short",
                                        "undecided by the evidence"}
    assert np.allclose(verdicts[["p_fell_short", "p_within_margin", "p_exceeded"]].sum(axis=1), 1.0)
    break_evens = pd.read_csv(out / "break_evens.csv")
    assert list(break_evens.columns) == BREAK_EVEN_COLUMNS
    assert set(break_evens["lever"]) == {"command_centre", "mobile_terminals", "units_on_duty"}
    ranges = break_evens.drop_duplicates("lever").set_index("lever")[["search_low", "search_high"]]
    assert ranges.loc["mobile_terminals"].tolist() == [0.0, 1.0]  # a lever: its whole range
    assert ranges.loc["units_on_duty"].tolist() == [0.75, 1.25]  # an assumption: its prior's support
    for name in ("uncertainty-ordinary", "sobol-busy", "break-evens"):
        assert (out / "figures" / f"{name}.png").is_file()
    assert (out / "report.md").read_text(encoding="utf-8").splitlines()[2].startswith("- Given the evidence")


def test_baselines_are_shared_between_points_that_differ_in_levers_only(study_runs):
    """A baseline run is keyed by its scenario: the points' baselines differ only through units_on_duty, so
    there are as many as distinct unit counts, not one per point (the busy situation, which has no
    break-evens)."""
    folder, _, _ = study_runs
    runs = pd.read_csv(folder / "serial" / "runs.csv")
    busy = runs[(runs["situation"] == "busy") & (runs["metric"] == "arrival")]
    design = pd.read_csv(folder / "serial" / "design.csv")
    counts = {(round(8 * f), round(6 * f)) for f in design["units_on_duty"]}
    assert busy["config"].str.startswith("baseline-").sum() == len(counts) < len(design)
    assert busy["config"].str.startswith("smart-").sum() == len(design)
    assert not runs.duplicated(["situation", "config", "replication", "metric", "priority"]).any()


def test_study_is_identical_serial_parallel_and_resumed(study_runs):
    """The tables are byte-identical on 1 and 2 workers, and after an interruption resumed with --resume."""
    folder, done, stored = study_runs
    assert done["parallel"][0] == 0 and done["again"][0] == 0
    for table in TABLES:
        serial = (folder / "serial" / table).read_bytes()
        assert (folder / "parallel" / table).read_bytes() == serial, table
        assert (folder / "resumed" / table).read_bytes() == serial, table
    assert len(list((folder / "resumed" / "units").glob("*.unit.json"))) == stored


def test_break_even_brackets_the_claim(study_runs):
    """Every break-even reaches the claim on its side and not one bisection step beyond it (the baseline
    moves too when the input acts on it)."""
    from citysim.city.loading import load_scenario
    from citysim.config.experiment import Metric
    from citysim.experiment.runs import run_metrics_unit

    folder, _, _ = study_runs
    rows = pd.read_csv(folder / "serial" / "break_evens.csv")
    found = rows[rows["status"].isin(["needs at least", "needs at most"])]
    assert not found.empty
    priors = load_priors(folder / "priors.yaml")
    baseline, smart = load_scenario(folder / "scenario.yaml"), load_scenario(folder / "smart.yaml")
    ends = {"arrival": ("t_call", "t_arrive"), "handling_call_to_closed": ("t_call", "t_closed")}
    for row in found.to_dict("records"):
        start, end = ends[row["metric"]]
        metric = Metric(name=row["metric"], start=start, end=end, claimed_reduction_pct=row["claimed_pct"])

        def reduction(x: float, row: dict = row, metric: Metric = metric) -> float:
            point = {row["lever"]: x}
            base, twin = (float(run_metrics_unit(scenario, ("x", "y", 0), 4242, [metric]).rows[0][5]) for scenario in
                          (priors.apply(baseline, point, levers=False), priors.apply(smart, point, levers=True)))
            return 100 * (1 - twin / base)

        step = (row["search_high"] - row["search_low"]) / 2**3
        beyond = row["break_even"] - step if row["status"] == "needs at least" else row["break_even"] + step
        assert reduction(row["break_even"]) >= row["claimed_pct"] > reduction(beyond)
