"""The uncertainty study: how likely each claim is given the evidence, which input decides it, and
what each lever alone would have to reach.

1. The inputs of a priors file (`citysim.config.priors`) are sampled by a quasi-random design
   (`citysim.experiment.design`). Each design point is a configuration: every situation's baseline
   with the point's operational inputs, and its smart twin with those and the point's lever strengths.
2. Every configuration runs on the same random numbers (replication k of each uses the experiment's
   child seed k), so the differences between points are the inputs' doing, not noise. A run is keyed
   by a digest of its scenario, so points that differ only in lever strengths share their baseline run.
3. Per situation and metric: the reduction at every point (ratio of the replication means), P(claim)
   with a bootstrap interval, the verdict in words, and Sobol (or Morris) indices.
4. Break-evens: in one situation, each chosen input alone is moved over its search range (a lever's
   strength over [0, 1], another input over its prior's support) with every other input at the
   scenarios' defaults, and bisection on common random numbers finds where each claim is reached.

Runs go through the result store as the claim check's do, so an interrupted study resumes (`--resume`)
and its tables do not depend on the executor or the order runs finished.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from citysim.config import Scenario
from citysim.config.experiment import Metric, Uncertainty, resolve
from citysim.config.priors import Priors, describe, is_probability_target, load_priors
from citysim.config.yaml_loader import LoadedDocument
from citysim.errors import InputError
from citysim.experiment.batch import Failure
from citysim.experiment.claim_check import Pair, pairs_of
from citysim.experiment.configurations import ConfigurationRunner
from citysim.experiment.contract import EXIT_OK, EXIT_RUNS_FAILED, Options, Outcome
from citysim.experiment.design import Design, claim_probability, make_design, sensitivity_indices, verdict_of
from citysim.experiment.provenance import begin, edited_during_run, report_failures
from citysim.experiment.size import most_runs
from citysim.experiment.store import UnitStore
from citysim.output import layout
from citysim.output.files import write_csv, write_json
from citysim.output.manifest import build_manifest
from citysim.progress import QUIET, Reporter

PROBABILITY_COLUMNS = ["situation", "metric", "claimed_pct", "p_reaches_claim", "p_within_margin", "reduction_p05",
                       "reduction_p50", "reduction_p95", "samples"]
VERDICT_COLUMNS = ["situation", "metric", "claimed_pct", "margin_pct", "verdict", "probability", "p_fell_short",
                   "p_within_margin", "p_exceeded", "p_reaches_claim", "p_reaches_claim_ci_low",
                   "p_reaches_claim_ci_high", "samples"]
INDEX_COLUMNS = ["situation", "lever", "metric", "first_order", "first_order_ci_low", "first_order_ci_high",
                 "total_order", "total_order_ci_low", "total_order_ci_high", "mu_star", "mu_star_ci_low",
                 "mu_star_ci_high", "sigma", "method", "inputs"]
BREAK_EVEN_COLUMNS = ["situation", "metric", "lever", "claimed_pct", "status", "break_even", "default",
                      "evidence_p05", "evidence_p95", "p_evidence_reaches", "search_low", "search_high",
                      "reduction_at_default_pct", "reduction_at_low_pct", "reduction_at_high_pct"]
REDUCTION_COLUMNS = ["situation", "point", "block", "metric", "baseline_mean_min", "smart_mean_min", "reduction_pct"]
PRIOR_COLUMNS = ["input", "target", "apply", "distribution", "p05", "p50", "p95", "source", "year"]

REACHED_ANYWHERE, OUT_OF_REACH, NEEDS_AT_LEAST, NEEDS_AT_MOST = (
    "reached across the range", "out of reach alone", "needs at least", "needs at most")


def _means(runner: ConfigurationRunner, situation: str, configs: list[tuple[str, Scenario]]) -> list[dict[str, float]]:
    """Each configuration's metric means averaged over the replications (NaN if one is missing), in order."""
    return [{m.name: float(np.mean([means[(k, m.name)] for k in range(runner.replications)]))
             for m in runner.metrics} for means in runner.replication_means(situation, configs)]


def _reduction(baseline: float, smart: float) -> float:
    return 100.0 * (1.0 - smart / baseline) if baseline else math.nan


@dataclass(frozen=True)
class StudyResult:
    priors: pd.DataFrame
    design: pd.DataFrame
    reductions: pd.DataFrame
    probabilities: pd.DataFrame
    verdicts: pd.DataFrame
    indices: pd.DataFrame
    break_evens: pd.DataFrame
    runs: pd.DataFrame
    failures: list[Failure]
    points: int
    wall_seconds: float


def run_uncertainty(spec: Uncertainty, spec_path: Path, out: Path, resume: bool = False,
                    reporter: Reporter = QUIET, executor: Executor | None = None) -> StudyResult:
    """The whole study into tables (nothing written but the store); `reporter` shows the runs done."""
    started = time.perf_counter()
    priors = load_priors(resolve(spec_path, spec.priors))
    pairs = pairs_of(spec, spec_path)
    _check_inputs(spec, spec_path, priors, pairs)
    design = make_design(spec.method, priors.names, spec.groups, spec.samples, spec.seed)
    values = priors.values(design.unit)
    store = UnitStore(out, resume)
    with reporter.counter("uncertainty", most_runs(spec, spec_path)[0]) as progress:
        runner = ConfigurationRunner(store, executor, spec.seed, spec.replications, spec.metrics,
                                     progress=progress)
        reduction_rows: list[tuple[object, ...]] = []
        probability_rows: list[tuple[object, ...]] = []
        verdict_rows: list[tuple[object, ...]] = []
        index_rows: list[tuple[object, ...]] = []
        for pair in pairs:
            reporter.note(f"situation {pair.name}: {len(values)} design points, baseline and smart")
            configs = []
            for row in values:
                point = dict(zip(priors.names, (float(v) for v in row), strict=True))
                configs += [("baseline", priors.apply(pair.baseline, point, levers=False)),
                            ("smart", priors.apply(pair.smart, point, levers=True))]
            means = _means(runner, pair.name, configs)
            for metric in spec.metrics:
                base = np.array([m[metric.name] for m in means[0::2]])
                smart = np.array([m[metric.name] for m in means[1::2]])
                reductions = np.array([_reduction(b, s) for b, s in zip(base, smart, strict=True)])
                reduction_rows += [(pair.name, i, int(design.block[i]), metric.name, base[i], smart[i], reductions[i])
                                   for i in range(len(reductions))]
                probability_rows.append(_probability(spec, pair.name, metric, reductions, design, verdict_rows))
                index_rows += _index_rows(spec, pair.name, metric.name, design, reductions)
        break_evens = pd.DataFrame(columns=BREAK_EVEN_COLUMNS)
        if spec.break_even is not None:
            pair = next(p for p in pairs if p.name == spec.break_even.situation)
            reporter.note(f"break-evens in situation {pair.name}")
            break_evens = _break_evens(spec, pair, priors, runner)
    return StudyResult(
        _priors_table(priors), _design_table(design, values, priors.names),
        pd.DataFrame(reduction_rows, columns=REDUCTION_COLUMNS),
        pd.DataFrame(probability_rows, columns=PROBABILITY_COLUMNS),
        pd.DataFrame(verdict_rows, columns=VERDICT_COLUMNS),
        pd.DataFrame(index_rows, columns=INDEX_COLUMNS), break_evens, store.runs_frame(), runner.failures,
        len(values), time.perf_counter() - started)


def _check_inputs(spec: Uncertainty, spec_path: Path, priors: Priors, pairs: list[Pair]) -> None:
    named: dict[tuple[str, ...], list[str]] = {("groups",): [m for members in spec.groups.values() for m in members]}
    if spec.break_even is not None:
        named[("break_even", "inputs")] = spec.break_even.inputs
    for key, names in named.items():
        unknown = sorted(set(names) - set(priors.names))
        if unknown:
            raise InputError(spec_path, f"'{key[-1]}' names input(s) {', '.join(unknown)} that the priors file "
                             f"{spec.priors} does not define; expected some of: {', '.join(priors.names)}.", key)
    for pair in pairs:
        priors.check_against(pair.baseline, pair.smart)


def _probability(spec: Uncertainty, situation: str, metric: Metric, reductions: np.ndarray, design: Design,
                 verdicts: list[tuple[object, ...]]) -> tuple[object, ...]:
    claimed = metric.claimed_reduction_pct
    result = claim_probability(reductions, design.block, claimed, spec.margin_pct, spec.confidence, spec.resamples,
                               spec.seed)
    verdict, probability = verdict_of(result, spec.decisive_probability)
    verdicts.append((situation, metric.name, claimed, spec.margin_pct, verdict, probability, result.p_below,
                     result.p_within, result.p_above, result.p_reaches, *result.p_reaches_ci, result.points))
    return (situation, metric.name, claimed, result.p_reaches, result.p_within, *result.quantiles, result.points)


def _index_rows(spec: Uncertainty, situation: str, metric: str, design: Design,
                reductions: np.ndarray) -> list[tuple[object, ...]]:
    members = {g: [i for i, owner in zip(design.inputs, design.group_of, strict=True) if owner == g]
               for g in design.groups}
    return [(situation, ix.group, metric, ix.first_order, *ix.first_order_ci, ix.total_order, *ix.total_order_ci,
             ix.mu_star, *ix.mu_star_ci, ix.sigma, design.method, " ".join(members[ix.group]))
            for ix in sensitivity_indices(design, reductions, spec.confidence, spec.resamples, spec.seed)]


def search_range(priors: Priors, name: str) -> tuple[float, float]:
    """Where a break-even is searched: a lever's strength or share over [0, 1] (beyond its evidence, to show
    how far off a claim is); any other input over its prior's support (the values the evidence allows)."""
    prior = priors[name]
    return (0.0, 1.0) if is_probability_target(prior) else prior.distribution.support()


def _break_evens(spec: Uncertainty, pair: Pair, priors: Priors, runner: ConfigurationRunner) -> pd.DataFrame:
    """Each chosen input alone over its search range, the rest at the defaults: where is each claim reached?"""
    assert spec.break_even is not None
    names = spec.break_even.inputs
    claims = {m.name: m.claimed_reduction_pct for m in spec.metrics}

    def reductions(points: list[tuple[str, float]]) -> list[dict[str, float]]:
        """The reduction at the defaults, then at each (input, value) point (its baseline too, if it acts there)."""
        configs = [("baseline", pair.baseline), ("smart", pair.smart)]
        for name, x in points:
            configs += [("baseline", priors.apply(pair.baseline, {name: x}, levers=False)),
                        ("smart", priors.apply(pair.smart, {name: x}, levers=True))]
        means = _means(runner, pair.name, configs)
        return [{m: _reduction(b[m], s[m]) for m in claims} for b, s in zip(means[0::2], means[1::2], strict=True)]

    ends = reductions([(name, x) for name in names for x in search_range(priors, name)])
    at_default = ends[0]
    low_end = dict(zip(names, ends[1::2], strict=True))
    high_end = dict(zip(names, ends[2::2], strict=True))
    brackets: dict[tuple[str, str], tuple[float, float]] = {}
    for name in names:
        for metric, claimed in claims.items():
            if (low_end[name][metric] >= claimed) != (high_end[name][metric] >= claimed):
                brackets[(name, metric)] = search_range(priors, name)
    for _ in range(spec.break_even.steps):
        pending = sorted(brackets)
        if not pending:
            break
        middles = [(name, sum(brackets[(name, metric)]) / 2) for name, metric in pending]
        for (name, metric), (_, middle), result in zip(pending, middles, reductions(middles)[1:], strict=True):
            low, high = brackets[(name, metric)]
            like_low_end = (result[metric] >= claims[metric]) == (low_end[name][metric] >= claims[metric])
            brackets[(name, metric)] = (middle, high) if like_low_end else (low, middle)
    rows = []
    for metric, claimed in claims.items():
        for name in names:
            prior = priors[name]
            r_low, r_high = low_end[name][metric], high_end[name][metric]
            if (name, metric) in brackets:
                low, high = brackets[(name, metric)]
                if r_low < claimed:
                    status, point = NEEDS_AT_LEAST, high
                    p_reaches = 1.0 - float(prior.distribution.cdf(np.array([point]))[0])
                else:
                    status, point = NEEDS_AT_MOST, low
                    p_reaches = float(prior.distribution.cdf(np.array([point]))[0])
            elif r_low >= claimed:
                status, point, p_reaches = REACHED_ANYWHERE, math.nan, 1.0
            else:
                status, point, p_reaches = OUT_OF_REACH, math.nan, 0.0
            p05, p95 = prior.quantiles([0.05, 0.95])
            rows.append((pair.name, metric, name, claimed, status, point,
                         priors.default(name, pair.baseline, pair.smart), p05, p95, p_reaches,
                         *search_range(priors, name), at_default[metric], r_low, r_high))
    return pd.DataFrame(rows, columns=BREAK_EVEN_COLUMNS)


def _priors_table(priors: Priors) -> pd.DataFrame:
    rows = []
    for name in priors.names:
        prior = priors[name]
        rows.append((name, prior.target, prior.apply, describe(prior.distribution),
                     *prior.quantiles([0.05, 0.5, 0.95]), prior.source, prior.year))
    return pd.DataFrame(rows, columns=PRIOR_COLUMNS)


def _design_table(design: Design, values: np.ndarray, names: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(values, columns=names)
    frame.insert(0, "block", design.block)
    frame.insert(0, "point", np.arange(len(frame)))
    return frame


def write_folder(spec: Uncertainty, document: LoadedDocument, path: Path, out: Path, options: Options) -> Outcome:
    """Run the study into `out`: the tables, charts and report, then the manifest (last)."""
    from citysim.output.figures import draw_folder
    from citysim.output.uncertainty_report import answer_sentences, write_uncertainty_report

    inputs = begin(spec, path, document, out, options.resume)
    result = run_uncertainty(spec, path, out, options.resume, options.reporter, options.executor)
    tables = {layout.PRIORS: result.priors, layout.DESIGN: result.design, layout.REDUCTIONS: result.reductions,
              layout.CLAIM_PROBABILITIES: result.probabilities, layout.VERDICTS: result.verdicts,
              layout.SENSITIVITY_INDICES: result.indices, layout.BREAK_EVENS: result.break_evens}
    tables[layout.RUNS] = result.runs
    for name, table in tables.items():
        write_csv(table, out / name)
    warnings = report_failures(out, result.failures)
    if result.failures:
        warnings.append(f"{len(result.failures)} run(s) failed ({layout.FAILURES}); the points they belong to "
                        "count as missing and the sensitivity indices of their situation are NaN.")
    draw_folder(out, executor=options.executor)
    manifest = build_manifest(
        command=f"citysim experiment {path}", inputs=inputs, started=options.started, experiment=spec.name,
        description=spec.description, seed=spec.seed, method=spec.method, samples=spec.samples,
        design_points=result.points, replications=spec.replications, margin_pct=spec.margin_pct,
        decisive_probability=spec.decisive_probability, confidence=spec.confidence,
        runs=len(result.runs[["situation", "config", "replication"]].drop_duplicates()),
        wall_seconds=round(result.wall_seconds, 1))
    write_uncertainty_report(out, manifest)
    write_json(manifest, out / layout.MANIFEST)
    warnings += edited_during_run(inputs)
    summary = result.verdicts[["situation", "metric", "claimed_pct", "verdict", "probability", "p_reaches_claim"]]
    title = "\n".join([f"Uncertainty '{spec.name}' ({spec.method}, {result.points} points): results in {out}",
                       *answer_sentences(out)])
    return Outcome(title, summary, warnings, EXIT_RUNS_FAILED if result.failures else EXIT_OK, width=200)

