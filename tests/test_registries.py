"""The registries agree with what they index: levers with the schema and the model, experiment kinds with
their runners, and the generated levers page with the facts."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest

import citysim
from citysim.config.experiment import EXPERIMENT_SCHEMAS, ExperimentSpec
from citysim.config.lever_effects import LeverEffects, effective_scenario, lever_effects
from citysim.config.levers import LEVERS, Levers, levers_markdown
from citysim.experiment.kinds import KINDS

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_every_lever_block_has_its_facts() -> None:
    """Each lever in the schema has a mechanism, default, range and source, and each fact names a lever."""
    assert list(LEVERS) == list(Levers.model_fields)
    for name, info in LEVERS.items():
        assert 0 <= info.low <= info.default <= info.high <= 1, name
        assert info.mechanism and info.source, name


@pytest.fixture(scope="module")
def smart() -> citysim.Scenario:
    return citysim.load_scenario(REPO_ROOT / "scenarios" / "shanghai" / "smart.yaml")


@pytest.mark.parametrize("name", list(LEVERS))
def test_every_lever_at_its_default_changes_a_model_effect(smart: citysim.Scenario, name: str) -> None:
    """A lever alone at its sourced default changes what the model reads (LeverEffects) or the scenario's
    parameters: a lever wired into the schema but not into the model fails here."""
    block = getattr(smart.levers, name)
    assert block is not None, f"smart.yaml has no {name} block"
    levers = Levers(**{name: block.model_copy(update={"strength": LEVERS[name].default})})
    baseline = smart.model_copy(update={"levers": Levers()})
    scenario = smart.model_copy(update={"levers": levers})
    assert lever_effects(baseline) == LeverEffects()
    changed_effects = lever_effects(scenario) != LeverEffects()
    changed_parameters = effective_scenario(scenario).model_copy(update={"levers": Levers()}) != baseline
    assert changed_effects or changed_parameters, f"{name} at {LEVERS[name].default} changes nothing"


def test_experiment_kinds_have_schemas_and_runners() -> None:
    """Every kind an experiment file may name has a schema in the union and a runner in KINDS."""
    assert set(KINDS) == set(EXPERIMENT_SCHEMAS)
    assert set(typing.get_args(ExperimentSpec)) == set(EXPERIMENT_SCHEMAS.values())
    for kind, schema in EXPERIMENT_SCHEMAS.items():
        assert typing.get_args(schema.model_fields["kind"].annotation) == (kind,)


def test_levers_page_is_current() -> None:
    """docs/levers.md is what `citysim levers --priors scenarios/shanghai/priors.yaml --out docs/levers.md`
    writes today (run from the repository's root)."""
    from citysim.config.priors import load_priors, priors_markdown

    page = (REPO_ROOT / "docs" / "levers.md").read_text(encoding="utf-8")
    command = "citysim levers --priors scenarios/shanghai/priors.yaml --out docs/levers.md"
    priors = load_priors(REPO_ROOT / "scenarios" / "shanghai" / "priors.yaml")
    assert page == levers_markdown(command) + priors_markdown(priors, "scenarios/shanghai/priors.yaml")


@pytest.mark.parametrize("path", sorted((REPO_ROOT / "experiments").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_experiments_use_the_registered_metrics(path: Path) -> None:
    """Every metric of a shipped experiment is a registered one (config/metrics.py) with its clock and its
    claimed reduction, so `citysim compare --metric NAME` measures what the experiment does."""
    from citysim.config.experiment import load_experiment
    from citysim.config.metrics import METRICS

    experiment, _ = load_experiment(path)
    for metric in experiment.metrics:
        known = METRICS[metric.name]
        assert (metric.start, metric.end, metric.claimed_reduction_pct) == (
            known.start, known.end, known.claimed_reduction_pct), metric.name
