"""The experiment file: which situations to compare, how the claimed metrics are defined, how many
replications. Strict like scenario files: unknown keys are errors, and every error names the file,
the key and the line."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from citysim.config.base import Strict
from citysim.config.loading import resolve_data_files, validation_error_to_input_error
from citysim.config.metrics import METRICS
from citysim.config.yaml_loader import LoadedDocument, load_yaml_document
from citysim.errors import InputError, KeyPath
from citysim.names import slug_clashes

TimeColumn = Literal["t_occur", "t_call", "t_answer", "t_queue", "t_dispatch", "t_arrive", "t_clear", "t_closed"]


class Situation(Strict):
    """A baseline scenario; its smart twin is the same file with the experiment's smart levers."""

    name: str = Field(description="the situation's name in tables and charts (unique)", min_length=1)
    scenario: str = Field(description="path of the baseline scenario, relative to the experiment file")


TIME_ORDER = ("t_occur", "t_call", "t_answer", "t_queue", "t_dispatch", "t_arrive", "t_clear", "t_closed")


class Metric(Strict):
    """A claimed time: end - start over incidents that have both times, and its claimed reduction."""

    name: str = Field(description="the metric's name in tables (unique)", min_length=1)
    start: TimeColumn = Field(description="the incident log's time column the metric starts at")
    end: TimeColumn = Field(
        description="the time column it ends at (later in the order t_occur < t_call < ... < t_closed)")
    claimed_reduction_pct: float = Field(description="the reduction claimed for it, in percent", ge=0, le=100)

    @model_validator(mode="after")
    def _end_after_start(self) -> Metric:
        if TIME_ORDER.index(self.end) <= TIME_ORDER.index(self.start):
            raise ValueError(f"end must come after start in the order {' < '.join(TIME_ORDER)}")
        return self

    @model_validator(mode="after")
    def _registered_clock(self) -> Metric:
        """A registered name means its registered clock everywhere (`config/metrics.py`), so that 'arrival'
        in one results folder is 'arrival' in every other."""
        known = METRICS.get(self.name)
        if known is not None and (self.start, self.end) != (known.start, known.end):
            raise ValueError(f"the metric name '{self.name}' is the clock {known.start} -> {known.end} "
                             f"({known.meaning}); give the clock {self.start} -> {self.end} another name")
        return self


def registered_metric(name: str) -> Metric:
    """The registered metric of this name (`config/metrics.py`); an unknown name is an InputError
    listing the known ones."""
    known = METRICS.get(name)
    if known is None:
        raise InputError(None, f"unknown metric '{name}'; expected one of: {', '.join(METRICS)}.", ("--metric",))
    return Metric.model_validate({"name": name, "start": known.start, "end": known.end,
                                  "claimed_reduction_pct": known.claimed_reduction_pct})


class Replications(Strict):
    """Sequential rule: add replications until the reduction's CI half-width is small enough."""

    min: int = Field(description="replications every situation runs at least", ge=2, le=1_000_000)
    max: int = Field(
        description="replications it runs at most, even if the target half-width is not reached by then",
        ge=2, le=1_000_000)
    batch: int = Field(ge=1, le=1_000_000, description="replications added at a time")
    target_half_width_pct: float = Field(gt=0, description="in percentage points of the reduction")

    @model_validator(mode="after")
    def _ordered(self) -> Replications:
        if self.max < self.min:
            raise ValueError("max must be at least min")
        return self


def _check_unique(what: str, names: list[str]) -> None:
    """Each name once, and each name its own file names: two names that slug alike would overwrite each
    other's charts and scenario files."""
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"{what} names must be unique; repeated: {', '.join(repeated)}")
    clashes = slug_clashes(names)
    if clashes:
        first, second, part = clashes[0]
        raise ValueError(f"{what} names {first!r} and {second!r} give the same file name '{part}' (names are "
                         "reduced to lower-case letters, digits and hyphens); rename one of them")


class _ManySituations(Strict):
    """What claim-check and uncertainty files share: named situations and metrics, each name once."""

    name: str = Field(description="the experiment's name (results go to results/<name> by default)", min_length=1)
    description: str = Field(default="", description="free text shown in the report")
    seed: int = Field(
        description="root seed; replication k of every configuration uses child k, so configurations are paired "
                    "(common random numbers)", ge=0)
    smart_levers: str = Field(description="scenario file whose `levers` block is the smart configuration")
    situations: Annotated[list[Situation], Field(min_length=1)] = Field(
        description="the situations, each a baseline scenario")
    metrics: Annotated[list[Metric], Field(min_length=1)] = Field(
        description="the claimed times, each an end - start over police cases")

    @field_validator("situations")
    @classmethod
    def _unique_situations(cls, items: list[Situation]) -> list[Situation]:
        _check_unique("situation", [item.name for item in items])
        return items

    @field_validator("metrics")
    @classmethod
    def _unique_metrics(cls, items: list[Metric]) -> list[Metric]:
        _check_unique("metric", [item.name for item in items])
        return items


class Experiment(_ManySituations):
    """The claim check: each situation's baseline against its smart twin."""

    kind: Literal["claim_check"] = Field(description="`claim_check`")
    replications: Replications = Field(
        description="the sequential rule that chooses how many paired replications each situation runs")
    confidence: float = Field(description="confidence level of every interval", gt=0.5, lt=1)
    by_priority: bool = Field(
        description="true: runs.csv and claims.csv also give every metric per priority class (their `priority` "
        "column), besides the rows over all police cases (`all`); false: the `all` rows only")


class _OneSituation(Strict):
    """What attribution and sensitivity files share: one situation, the smart levers, the metrics."""

    name: str = Field(description="the experiment's name (results go to results/<name> by default)", min_length=1)
    description: str = Field(default="", description="free text shown in the report")
    seed: int = Field(
        description="root seed; replication k of every configuration uses child k (common random numbers)", ge=0)
    situation: Situation = Field(description="the one situation studied")
    smart_levers: str = Field(
        description="scenario file whose `levers` block is the smart configuration, relative to this file")
    metrics: Annotated[list[Metric], Field(min_length=1)] = Field(
        description="the claimed times, each an end - start over police cases")


class Attribution(_OneSituation):
    """Shapley attribution of a situation's reductions to groups of smart levers."""

    kind: Literal["attribution"] = Field(description="`attribution`")
    groups: Annotated[dict[str, Annotated[list[str], Field(min_length=1)]], Field(min_length=1)] = Field(
        description="the players: each a name and the levers it switches on together"
    )
    method: Literal["exact", "permutations"] = Field(
        description="exact: all 2^k combinations of the groups; permutations: a sample of orderings"
    )
    permutations: int | None = Field(
        default=None, ge=1, le=1_000_000, validate_default=True, description="orderings sampled: required with "
        "method permutations, and only there (method exact runs every coalition)")
    replications: int = Field(
        description="paired replications of every lever combination (coalition) run, each on the same random "
                    "numbers: the number of runs is coalitions x replications", ge=1, le=1_000_000)

    @field_validator("groups")
    @classmethod
    def _known_levers(cls, groups: dict[str, list[str]]) -> dict[str, list[str]]:
        from citysim.config.levers import LEVERS

        named = [lever for levers in groups.values() for lever in levers]
        unknown = sorted(set(named) - set(LEVERS))
        if unknown:
            raise ValueError(f"unknown lever(s) {', '.join(unknown)}; expected some of: {', '.join(LEVERS)}")
        if len(set(named)) != len(named):
            raise ValueError("a lever may belong to one group only")
        return groups

    @field_validator("permutations")
    @classmethod
    def _used_by_method(cls, permutations: int | None, info: ValidationInfo) -> int | None:
        method = info.data.get("method")
        if method == "permutations" and permutations is None:
            raise ValueError("a count of orderings to sample, since method 'permutations' needs one (e.g. "
                             "permutations: 20)")
        if method == "exact" and permutations is not None:
            raise ValueError("method 'exact' runs all 2^k coalitions and samples no orderings, so 'permutations' "
                             "would be ignored; remove it (or use method: permutations)")
        return permutations

    @model_validator(mode="after")
    def _tractable(self) -> Attribution:
        if self.method == "exact" and len(self.groups) > 10:
            raise ValueError("exact attribution over more than 10 groups needs over 1,024 configurations; "
                             "use method: permutations")
        return self

    @property
    def orderings(self) -> int:
        """Orderings sampled: `permutations` for method permutations, 0 for exact."""
        return self.permutations if self.permutations is not None else 0


class Sensitivity(_OneSituation):
    """One-at-a-time sweep of each lever over its sourced range, and the search for what it would take."""

    kind: Literal["sensitivity"] = Field(description="`sensitivity`")
    replications: int = Field(description="paired replications of every lever strength tried", ge=2, le=1_000_000)
    confidence: float = Field(description="confidence level of every interval", gt=0.5, lt=1)
    search_steps: int = Field(
        ge=1, le=20, description="bisection steps of the what-would-it-take search: every lever's strength is scaled "
        "by one factor s (each capped at its sourced high) and the smallest s whose reduction reaches the claim is "
        "bisected, per metric; each step halves the interval of s and costs one configuration x replications")


class BreakEven(Strict):
    """Where and how finely to search each lever's break-even strength."""

    situation: str = Field(min_length=1, description="the situation (by name) whose break-evens are searched")
    inputs: Annotated[list[str], Field(min_length=1)] = Field(
        description="the priors' inputs to search, each alone (levers over [0, 1], others over their support)")
    steps: int = Field(ge=1, le=20, description="bisection steps per input and metric")


class Uncertainty(_ManySituations):
    """Verdicts under the evidence's uncertainty: the inputs of a priors file sampled quasi-randomly, each
    sample a paired baseline/smart run of every situation on common random numbers."""

    kind: Literal["uncertainty"] = Field(description="`uncertainty`")
    priors: str = Field(description="priors file (distributions of the uncertain inputs), relative to this file")
    method: Literal["sobol", "morris"] = Field(
        description="sobol: Saltelli design, Sobol indices; morris: elementary effects (small budgets)")
    samples: int = Field(ge=1, le=4096, description="sobol: base samples N (a power of 2); morris: trajectories")
    groups: dict[str, Annotated[list[str], Field(min_length=1)]] = Field(
        description="inputs whose sensitivity is measured together (one index per group); {} for none")
    replications: int = Field(ge=1, le=100, description="replications of every configuration (common random numbers)")
    margin_pct: float = Field(default=2.5, gt=0, le=50,
                              description="equivalence margin of 'about X %', in percentage points")
    decisive_probability: float = Field(gt=0.5, lt=1, description="probability a verdict needs; else undecided")
    confidence: float = Field(description="confidence level of every interval", gt=0.5, lt=1)
    resamples: int = Field(ge=10, le=10_000, description="bootstrap resamples of every interval")
    break_even: BreakEven | None = Field(
        description="the break-even search (each input alone, where a verdict flips); null: none")

    @model_validator(mode="after")
    def _consistent(self) -> Uncertainty:
        if self.method == "sobol" and self.samples & (self.samples - 1):
            raise ValueError(f"samples must be a power of 2 for the sobol method (Sobol' sequences balance only "
                             f"then); got {self.samples}")
        if self.break_even is not None and self.break_even.situation not in [s.name for s in self.situations]:
            raise ValueError(f"break_even.situation '{self.break_even.situation}' is not one of the situations")
        named = [member for members in self.groups.values() for member in members]
        if len(set(named)) != len(named):
            raise ValueError("an input may belong to one group only")
        return self


#: The experiment kinds by their `kind:` name (the runners: `citysim.experiment.kinds.KINDS`).
EXPERIMENT_SCHEMAS: dict[str, type[Experiment | Attribution | Sensitivity | Uncertainty]] = {
    "claim_check": Experiment, "attribution": Attribution, "sensitivity": Sensitivity, "uncertainty": Uncertainty,
}
ExperimentSpec = Experiment | Attribution | Sensitivity | Uncertainty
ExperimentFile = Annotated[ExperimentSpec, Field(discriminator="kind")]


class _Document(Strict):
    """Wrapper so one validation reads any kind of experiment file."""

    experiment: ExperimentFile


def load_experiment(path: str | Path) -> tuple[ExperimentSpec, LoadedDocument]:
    """Load and validate an experiment file (its `kind` says which); every path it names must exist."""
    document = load_yaml_document(path)
    kinds = tuple(EXPERIMENT_SCHEMAS)
    if document.data.get("kind") not in kinds:
        origin = document.origin_of(("kind",))  # the key's line, or the top of the file if it is missing
        raise InputError(path, f"expected 'kind' to be one of {', '.join(kinds)} (an experiment file says which "
                         f"kind it is); got {document.data.get('kind')!r}.", ("kind",),
                         origin.line if origin else 1)
    try:
        experiment = _Document.model_validate({"experiment": document.data}).experiment
    except ValidationError as exc:
        shifted = LoadedDocument({"experiment": document.data},
                                 {("experiment", *k): v for k, v in document.origins.items()}, document.files)
        error = validation_error_to_input_error(exc, shifted, Path(path), _Document)
        raise InputError(error.file, error.problem, error.key_path[1:], error.line) from None
    folder = Path(path).resolve().parent
    named: list[tuple[KeyPath, str]] = [(("smart_levers",), experiment.smart_levers)]
    if isinstance(experiment, Uncertainty):
        named.append((("priors",), experiment.priors))
    if isinstance(experiment, Experiment | Uncertainty):
        named += [(("situations", i, "scenario"), s.scenario) for i, s in enumerate(experiment.situations)]
    else:
        named.append((("situation", "scenario"), experiment.situation.scenario))
    for key, relative in named:
        if not (folder / relative).is_file():
            origin = document.origin_of(key)
            raise InputError(origin.file if origin else path, f"the file '{relative}' does not exist "
                             f"(looked for {folder / relative}).", key, origin.line if origin else None)
    return experiment, document


def with_samples(experiment: ExperimentSpec, samples: int, path: str | Path) -> Uncertainty:
    """An uncertainty experiment with `--samples` instead of its file's sample count (validated again)."""
    if not isinstance(experiment, Uncertainty):
        raise InputError(path, f"--samples applies to uncertainty experiments; this file's kind is {experiment.kind}.",
                         ("kind",))
    try:
        return Uncertainty.model_validate({**experiment.model_dump(), "samples": samples})
    except ValidationError as exc:
        raise InputError(path, f"--samples {samples}: {exc.errors()[0]['msg']}.", ("samples",)) from None


def resolve(experiment_path: str | Path, relative: str) -> Path:
    return (Path(experiment_path).resolve().parent / relative).resolve()


def referenced_scenarios(experiment: ExperimentSpec, experiment_path: str | Path) -> list[Path]:
    """Every scenario file an experiment names (the smart levers' file included)."""
    names = [experiment.smart_levers]
    names += [s.scenario for s in experiment.situations] if isinstance(experiment, Experiment | Uncertainty) \
        else [experiment.situation.scenario]
    return [resolve(experiment_path, name) for name in names]


def input_hashes(experiment: ExperimentSpec, experiment_path: str | Path,
                 document: LoadedDocument) -> dict[str, str]:
    """SHA-256 of the experiment file and of every scenario file it uses (with their `extends` chains and
    the data files they name)."""
    hashes = document.file_hashes()
    if isinstance(experiment, Uncertainty):
        hashes.update(load_yaml_document(resolve(experiment_path, experiment.priors)).file_hashes())
    for scenario in referenced_scenarios(experiment, experiment_path):
        loaded = load_yaml_document(scenario)
        hashes.update(loaded.file_hashes())
        for data_file in resolve_data_files(loaded):
            try:
                hashes[str(data_file)] = hashlib.sha256(data_file.read_bytes()).hexdigest()
            except OSError:
                continue  # reported with its key when the scenario is validated
    return hashes
