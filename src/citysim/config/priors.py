"""The evidence behind uncertain inputs, as probability distributions (a priors file).

Each prior names one input of a scenario (a key path, `*` for every entry of a list or mapping), how a
sampled value acts on it (`set`: replaces it; `scale`: multiplies it), its distribution (uniform,
triangular, beta-PERT, a point, or a mixture of those for conflicting studies, null results included),
and its source with the year. Inputs under `levers.` act on the smart configuration only; every other
input acts on a situation's baseline and its smart twin alike.

Sampling is by quantile: a point u of the unit hypercube becomes each input's `ppf(u)`, so a
quasi-random design on the cube becomes one on the priors.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, ValidationError, field_validator, model_validator

from citysim.arrays import FloatArray
from citysim.config.base import Strict
from citysim.config.loading import validation_error_to_input_error
from citysim.config.schema import Scenario, cross_field_problems
from citysim.config.yaml_loader import LoadedDocument, load_yaml_document
from citysim.errors import InputError

#: Bisection steps that invert a mixture's distribution function (2^-60 of its support: exact in float64).
_INVERSION_STEPS = 60


class _Bounded(Strict):
    low: float = Field(description="the lowest value")
    high: float = Field(description="the highest value (above low)")

    @model_validator(mode="after")
    def _ordered(self) -> _Bounded:
        if not self.high > self.low:
            raise ValueError("high must be greater than low")
        return self

    def support(self) -> tuple[float, float]:
        return self.low, self.high


class Uniform(_Bounded):
    """Every value between low and high equally likely (sources give a range and nothing more)."""

    kind: Literal["uniform"] = Field(description="`uniform`")

    def ppf(self, u: FloatArray) -> FloatArray:
        return self.low + u * (self.high - self.low)

    def cdf(self, x: FloatArray) -> FloatArray:
        return np.clip((x - self.low) / (self.high - self.low), 0.0, 1.0)


class _Moded(_Bounded):
    """A range with a most likely value; quantiles and probabilities from the scipy distribution `_frozen`."""

    mode: float = Field(description="the most likely value, between low and high")

    @model_validator(mode="after")
    def _mode_inside(self) -> _Moded:
        if not self.low <= self.mode <= self.high:
            raise ValueError("mode must lie between low and high")
        return self

    def _frozen(self) -> Any:
        raise NotImplementedError

    def ppf(self, u: FloatArray) -> FloatArray:
        return np.asarray(self._frozen().ppf(u), dtype=np.float64)

    def cdf(self, x: FloatArray) -> FloatArray:
        return np.asarray(self._frozen().cdf(x), dtype=np.float64)


class Triangular(_Moded):
    """A range with a most likely value, weighted linearly towards it."""

    kind: Literal["triangular"] = Field(description="`triangular`")

    def _frozen(self) -> Any:
        from scipy.stats import triang

        width = self.high - self.low
        return triang((self.mode - self.low) / width, loc=self.low, scale=width)


class Pert(_Moded):
    """Beta-PERT: a range with a most likely value, its mean (low + 4 mode + high) / 6."""

    kind: Literal["pert"] = Field(description="`pert`")

    def _frozen(self) -> Any:
        from scipy.stats import beta

        width = self.high - self.low
        return beta(1 + 4 * (self.mode - self.low) / width, 1 + 4 * (self.high - self.mode) / width,
                    loc=self.low, scale=width)


class Point(Strict):
    """One value for certain: in a mixture, the reading of a study that found no effect."""

    kind: Literal["point"] = Field(description="`point`")
    value: float = Field(description="the value")

    def support(self) -> tuple[float, float]:
        return self.value, self.value

    def ppf(self, u: FloatArray) -> FloatArray:
        return np.full(np.shape(u), self.value, dtype=np.float64)

    def cdf(self, x: FloatArray) -> FloatArray:
        return (np.asarray(x) >= self.value).astype(np.float64)


Simple = Annotated[Uniform | Triangular | Pert | Point, Field(discriminator="kind")]


class Component(Strict):
    """One reading of the evidence in a mixture, with the weight it gets."""

    weight: float = Field(description="this reading's weight (the weights sum to 1)", gt=0, le=1)
    evidence: str = Field(min_length=1, description="the study or studies this component stands for")
    distribution: Simple = Field(description="its distribution")


class Mixture(Strict):
    """Conflicting evidence: each component a reading (a null result is a point at 'no effect')."""

    kind: Literal["mixture"] = Field(description="`mixture`")
    components: Annotated[list[Component], Field(min_length=2)] = Field(
        description="the readings of the evidence, weights summing to 1")

    @field_validator("components")
    @classmethod
    def _weights_sum_to_one(cls, components: list[Component]) -> list[Component]:
        total = sum(c.weight for c in components)
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"the component weights must sum to 1; they sum to {total:g}")
        return components

    def support(self) -> tuple[float, float]:
        ends = [c.distribution.support() for c in self.components]
        return min(e[0] for e in ends), max(e[1] for e in ends)

    def cdf(self, x: FloatArray) -> FloatArray:
        x = np.asarray(x, dtype=np.float64)
        return np.asarray(sum(c.weight * c.distribution.cdf(x) for c in self.components), dtype=np.float64)

    def ppf(self, u: FloatArray) -> FloatArray:
        """The smallest x with cdf(x) >= u, by bisection (the cdf may jump at a point component)."""
        u = np.asarray(u, dtype=np.float64)
        low, high = self.support()
        lo, hi = np.full(u.shape, low), np.full(u.shape, high)
        for _ in range(_INVERSION_STEPS):
            middle = (lo + hi) / 2
            above = self.cdf(middle) >= u
            hi = np.where(above, middle, hi)
            lo = np.where(above, lo, middle)
        # Bisection stops a hair above a point component's value; the answer is the value itself.
        for value in sorted(c.distribution.value for c in self.components if isinstance(c.distribution, Point)):
            at = self.cdf(np.array(value))
            hi = np.where((at >= u) & (value <= hi), value, hi)
        return np.asarray(hi, dtype=np.float64)


PriorDistribution = Annotated[Uniform | Triangular | Pert | Point | Mixture, Field(discriminator="kind")]


class Prior(Strict):
    """One uncertain input: where it acts, how, its distribution and its evidence."""

    target: str = Field(min_length=1, description="key path in the scenario, dots between keys, * for every entry")
    apply: Literal["set", "scale"] = Field(
        description="set: the value replaces the target; scale: it multiplies every value the target names")
    distribution: PriorDistribution = Field(description="the input's distribution")
    source: str = Field(description="the evidence, with its year; ASSUMPTION where there is none", min_length=1)
    year: int | None = Field(ge=1900, le=2100, description="year of the newest evidence; null for an ASSUMPTION")

    @model_validator(mode="after")
    def _assumption_marked(self) -> Prior:
        if self.year is None and "ASSUMPTION" not in self.source:
            raise ValueError("a prior without a year must say ASSUMPTION in its source")
        return self

    @property
    def keys(self) -> list[str]:
        """The target's key path, one key (or `*`) per item."""
        return self.target.split(".")

    @property
    def acts_on_levers(self) -> bool:
        return self.keys[0] == "levers"

    def quantiles(self, probabilities: list[float]) -> list[float]:
        return [float(v) for v in self.distribution.ppf(np.array(probabilities, dtype=np.float64))]


class PriorsFile(Strict):
    """A priors file: its inputs by name, each a `Prior`."""

    description: str = Field(default="", description="free text")
    priors: Annotated[dict[str, Prior], Field(min_length=1)] = Field(description="the uncertain inputs by name")


def _walk(node: Any, keys: list[str]) -> list[tuple[Any, str | int]]:
    """(container, key) of every number the key path names (wildcards expanded)."""
    head, rest = keys[0], keys[1:]
    if head == "*":
        entries = list(node.items()) if isinstance(node, dict) else list(enumerate(node)) if isinstance(node, list) \
            else []
    elif isinstance(node, dict) and head in node:
        entries = [(head, node[head])]
    elif isinstance(node, list) and head.isdigit() and int(head) < len(node):
        entries = [(int(head), node[int(head)])]
    else:
        return []
    found = []
    for key, child in entries:
        if not rest:
            if isinstance(child, int | float) and not isinstance(child, bool):
                found.append((node, key))
        elif isinstance(child, dict | list):
            found += _walk(child, rest)
    return found


def set_inputs(data: dict[str, Any], priors: dict[str, Prior], values: dict[str, float]) -> dict[str, Any]:
    """A copy of scenario data with each named input's value applied (ints stay ints, rounded)."""
    data = copy.deepcopy(data)
    for name, value in values.items():
        prior = priors[name]
        for container, key in _walk(data, prior.keys):
            old = container[key]
            new = value if prior.apply == "set" else old * value
            container[key] = round(new) if isinstance(old, int) else float(new)
    return data


class Priors:
    """A loaded priors file: the inputs in file order, and where each was written (for errors)."""

    def __init__(self, spec: PriorsFile, document: LoadedDocument, path: Path) -> None:
        self.spec = spec
        self.document = document
        self.path = path

    @property
    def names(self) -> list[str]:
        return list(self.spec.priors)

    def __getitem__(self, name: str) -> Prior:
        return self.spec.priors[name]

    def values(self, unit: FloatArray) -> FloatArray:
        """Each row of unit-cube points (columns in `names` order) as input values, by quantile."""
        columns = [self.spec.priors[n].distribution.ppf(unit[:, j]) for j, n in enumerate(self.names)]
        return np.column_stack(columns) if columns else np.empty((unit.shape[0], 0))

    def apply(self, scenario: Scenario, values: dict[str, float], levers: bool) -> Scenario:
        """The scenario with the inputs applied: the lever inputs too if `levers` (a smart twin)."""
        chosen = {n: v for n, v in values.items() if levers or not self.spec.priors[n].acts_on_levers}
        if not chosen:
            return scenario
        data = set_inputs(scenario.model_dump(mode="json"), self.spec.priors, chosen)
        try:
            applied = Scenario.model_validate(data)
        except ValidationError as exc:
            raise self._error(chosen, exc.errors()[0]["msg"]) from None
        problems = cross_field_problems(applied)
        if problems:
            raise self._error(chosen, problems[0][1])
        return applied

    def _error(self, values: dict[str, float], text: str) -> InputError:
        name = next(iter(values)) if len(values) == 1 else None
        where = ("priors", name) if name else ("priors",)
        origin = self.document.origin_of(where)
        shown = ", ".join(f"{n}={v:.4g}" for n, v in values.items())
        return InputError(origin.file if origin else self.path, f"the inputs {shown} make the scenario invalid: "
                          f"{text}. Expected distributions whose support keeps every target valid.", where,
                          origin.line if origin else None)

    def check_against(self, baseline: Scenario, smart: Scenario) -> None:
        """Every prior names values that exist, and both ends of its support give a valid scenario."""
        for name, prior in self.spec.priors.items():
            scenario = smart if prior.acts_on_levers else baseline
            if not _walk(scenario.model_dump(mode="json"), prior.keys):
                origin = self.document.origin_of(("priors", name, "target"))
                raise InputError(origin.file if origin else self.path,
                                 f"the target '{prior.target}' names no number in scenario '{scenario.name}' "
                                 "(expected a key path such as levers.mobile_terminals.strength or "
                                 "districts.*.units; inputs under levers. need the lever on in the smart "
                                 "levers file).", ("priors", name, "target"), origin.line if origin else None)
            for end in prior.distribution.support():
                self.apply(scenario, {name: end}, levers=True)

    def default(self, name: str, baseline: Scenario, smart: Scenario) -> float:
        """The input's value as the scenarios are written: the first value at its target (1 for a scale)."""
        prior = self.spec.priors[name]
        if prior.apply == "scale":
            return 1.0
        scenario = smart if prior.acts_on_levers else baseline
        container, key = _walk(scenario.model_dump(mode="json"), prior.keys)[0]
        return float(container[key])


def load_priors(path: str | Path) -> Priors:
    """Load and validate a priors file (strict: unknown keys are errors, named with file and line)."""
    document = load_yaml_document(path)
    try:
        spec = PriorsFile.model_validate(document.data)
    except ValidationError as exc:
        raise validation_error_to_input_error(exc, document, Path(path), PriorsFile) from None
    return Priors(spec, document, Path(path))


def describe(distribution: PriorDistribution) -> str:
    """A distribution in one line, for tables and docs/levers.md."""
    if isinstance(distribution, Mixture):
        return " + ".join(f"{c.weight:g} x {describe(c.distribution)} ({c.evidence})" for c in distribution.components)
    if isinstance(distribution, Point):
        return f"point {distribution.value:g}"
    if isinstance(distribution, Uniform):
        return f"uniform({distribution.low:g}, {distribution.high:g})"
    return f"{distribution.kind}({distribution.low:g}, {distribution.mode:g}, {distribution.high:g})"


def is_probability_target(prior: Prior) -> bool:
    """A lever input set directly (a strength or share between 0 and 1): break-evens search it on [0, 1]."""
    return prior.acts_on_levers and prior.apply == "set"



def priors_markdown(priors: Priors, shown_path: str) -> str:
    """The priors as a Markdown section (for docs/levers.md): each input's distribution and its evidence;
    `shown_path` is the priors file as the page names it."""
    lines = [
        "", "## The evidence as distributions", "",
        f"From `{shown_path}`, read by the uncertainty experiment (`experiments/uncertainty.yaml`). "
        "`set`: the value replaces the default; `scale`: it multiplies every value the target names. "
        "A point component of a mixture is a study that found no effect. Year 'none': an ASSUMPTION.", "",
        "| input | target | apply | distribution | 5 % | median | 95 % | year | source |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in priors.names:
        prior = priors[name]
        p05, p50, p95 = prior.quantiles([0.05, 0.5, 0.95])
        year = str(prior.year) if prior.year is not None else "none"
        lines.append(f"| `{name}` | `{prior.target}` | {prior.apply} | {describe(prior.distribution)} | {p05:.3g} | "
                     f"{p50:.3g} | {p95:.3g} | {year} | {prior.source} |")
    return "\n".join(lines) + "\n"
