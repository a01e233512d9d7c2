"""docs/reference.md: every key of scenario, experiment and priors files, generated from the pydantic schema.

The page is walked out of the models themselves (their fields, annotations, constraints, defaults and
descriptions, discriminated unions by their tag), never listed by hand, so a key added to the schema
appears on the page and `tests/test_reference.py` fails until the page is regenerated. The log columns
come from `citysim.simulation.logs.LOG_SCHEMAS` and the Python API from the package's `__all__`.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from citysim.config.distributions import DISTRIBUTIONS
from citysim.config.district_overrides import OVERRIDABLE, OVERRIDES_KEY
from citysim.config.experiment import EXPERIMENT_SCHEMAS
from citysim.config.priors import PriorsFile
from citysim.config.schema import Scenario
from citysim.simulation.kpis import POLICE_CASES
from citysim.simulation.logs import LOG_SCHEMAS

#: Reproduces summary.csv's arrival_min_mean (priority "all") from a `citysim run` folder; tests/test_reference.py
#: runs the copy on the page.
ARRIVAL_MEAN_SNIPPET = """
import numpy as np
import pandas as pd

folder = "results/shanghai-baseline"  # the folder `citysim run scenarios/shanghai/baseline.yaml` wrote
incidents = pd.read_parquet(f"{folder}/incidents.parquet")
# police cases: reported in the KPI window (neither warm-up nor drain) and sent a unit
cases = incidents[~incidents["warmup"] & ~incidents["drain"] & (incidents["n_units"] > 0)]
# each replication's mean of call to first unit on scene (cases never reached drop out) ...
per_replication = [(one["t_arrive"] - one["t_call"]).dropna().mean() for _, one in cases.groupby("replication")]
# ... and their mean, as summary.csv has it (not the mean over all replications' cases pooled)
arrival_min_mean = float(np.mean(per_replication))
print(f"arrival_min_mean = {arrival_min_mean:.2f} min over {len(per_replication)} replications")
"""
#: Where a distribution block's own keys are listed: a distribution-valued key points here.
DISTRIBUTION = "<distribution>"
#: What a mapping's user-chosen key (a category's name, a lever group's name) is shown as in a key path.
NAME = "<name>"

#: Key-name suffixes and the unit they state, longest first (the schema's units-in-names convention).
UNIT_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("_veh_per_hour_per_lane", "vehicles/h per lane"),
    ("_veh_per_lane_km", "vehicles per lane-km"),
    ("_veh_h_per_h", "vehicle-h per h"),
    ("_vehicle_h", "vehicle-h"),
    ("_per_day", "per day"),
    ("_per_hour", "per hour"),
    ("_per_km", "per km"),
    ("_lat_lon", "[lat, lon] degrees WGS84"),
    ("_km2", "km²"),
    ("_kmh", "km/h"),
    ("_pct", "%"),
    ("_deg", "degrees"),
    ("_min", "min"),
    ("_km", "km"),
    ("_veh", "vehicles"),
    ("_h", "clock hour"),
    ("_s", "s"),
    ("_prob", "probability (0-1)"),
    ("_share", "share (0-1)"),
    ("_fraction", "share (0-1)"),
)
#: Whole key names whose unit the suffix rule cannot see.
UNIT_NAMES = {"share": "share (0-1)", "lat": "degrees WGS84", "lon": "degrees WGS84",
              "centre": "[lat, lon] degrees WGS84", "points": "[lat, lon] degrees WGS84", "strength": "share (0-1)",
              "crash_strength": "share (0-1)",
              "weight": "share (0-1)", "cv": "ratio (sd / mean)", "noise_cv": "ratio (sd / mean)",
              "running_time_cv": "ratio (sd / mean)", "departure_cv": "share of the headway",
              "confidence": "probability (0-1)", "decisive_probability": "probability (0-1)"}
#: The `_by_hour` suffix: 24 values, one per clock hour; the unit is the rest of the name's.
BY_HOUR = "_by_hour"

_BOUND_TEXT = {annotated_types.Ge: ">= {}", annotated_types.Gt: "> {}", annotated_types.Le: "<= {}",
               annotated_types.Lt: "< {}", annotated_types.MinLen: "at least {} entries",
               annotated_types.MaxLen: "at most {} entries"}
_BOUND_ATTR = {annotated_types.Ge: "ge", annotated_types.Gt: "gt", annotated_types.Le: "le",
               annotated_types.Lt: "lt", annotated_types.MinLen: "min_length", annotated_types.MaxLen: "max_length"}


@dataclass(frozen=True)
class KeyRow:
    """One key of an input file, as the reference lists it."""

    path: str
    type: str
    unit: str
    default: str
    allowed: str
    meaning: str


def unit_of(name: str) -> str:
    """The unit a key's name states (the suffix convention), '' when it states none."""
    hourly = name.endswith(BY_HOUR)
    stem = name.removesuffix(BY_HOUR)
    unit = UNIT_NAMES.get(stem, "")
    if not unit:
        unit = next((text for suffix, text in UNIT_SUFFIXES if stem.endswith(suffix)), "")
    if hourly:
        return f"{unit}, by clock hour 0-23" if unit else "by clock hour 0-23"
    return unit


def _strip(annotation: Any) -> tuple[Any, list[Any]]:
    """An annotation without its `Annotated` layers, and the constraints they carried."""
    constraints: list[Any] = []
    while get_origin(annotation) is Annotated:
        args = get_args(annotation)
        annotation = args[0]
        for meta in args[1:]:
            constraints += meta.metadata if isinstance(meta, FieldInfo) else [meta]
    return annotation, constraints


def _union_members(annotation: Any) -> list[Any]:
    return list(get_args(annotation)) if get_origin(annotation) in (Union, types.UnionType) else [annotation]


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _is_distribution(annotation: Any) -> bool:
    members = [_strip(m)[0] for m in _union_members(_strip(annotation)[0])]
    return set(members) == set(DISTRIBUTIONS.values())


def _tag(model: type[BaseModel]) -> tuple[str, str] | None:
    """The discriminator (`kind` or `dist`) of a union member and its value."""
    for name in ("kind", "dist"):
        field = model.model_fields.get(name)
        if field is not None and get_origin(field.annotation) is Literal:
            return name, str(get_args(field.annotation)[0])
    return None


def _bounds(constraints: list[Any]) -> list[str]:
    lengths = {type(c): c for c in constraints if isinstance(c, annotated_types.MinLen | annotated_types.MaxLen)}
    low, high = lengths.get(annotated_types.MinLen), lengths.get(annotated_types.MaxLen)
    if low is not None and high is not None and low.min_length == high.max_length:
        constraints = [c for c in constraints if c not in (low, high)]
        texts = [f"exactly {low.min_length} entries"]
    else:
        texts = []
    for item in constraints:
        for cls, template in _BOUND_TEXT.items():
            if isinstance(item, cls):
                texts.append(template.format(f"{getattr(item, _BOUND_ATTR[cls]):,}"))
    return [text.replace(" 1 entries", " 1 entry") for text in texts]


def _text_bounds(bounds: list[str]) -> list[str]:
    """A text's length bounds in characters ('at least 1 entries' of a name is 'not empty')."""
    return ["not empty" if b == "at least 1 entry" else b.replace("entries", "characters") for b in bounds]


def type_name(annotation: Any, outer: list[Any] | None = None) -> tuple[str, list[str]]:
    """A readable type of an annotation, and its bounds and allowed values; `outer` are the constraints
    pydantic moved from the field's own `Annotated` into its metadata."""
    if _is_distribution(annotation):
        return "distribution", [f"see [Distributions](#distributions) (`{DISTRIBUTION}`)"]
    bare, constraints = _strip(annotation)
    bounds = _bounds([*(outer or []), *constraints])
    members = _union_members(bare)
    if len(members) > 1:
        kept = [m for m in members if m is not type(None)]
        names = [type_name(m) for m in kept]
        text = " or ".join(n for n, _ in names)
        allowed = [b for _, found in names for b in found]
        if all(_is_model(_strip(m)[0]) for m in kept) and len(kept) > 1:
            tags = [_tag(_strip(m)[0]) for m in kept]
            text = "block, by " + (tags[0][0] if tags[0] else "kind")
            allowed = [", ".join(f"`{t[1]}`" for t in tags if t)]
        bounds = _text_bounds(bounds) if str in kept else bounds
        return (text + " or null" if type(None) in members else text), bounds + allowed
    if get_origin(bare) is Literal:
        return "text", bounds + ["one of " + ", ".join(f"`{v}`" for v in get_args(bare))]
    if get_origin(bare) is list:
        item, item_bounds = type_name(get_args(bare)[0])
        return f"list of {item}s" if item == "block" else f"list of {item}", bounds + [_each(b) for b in item_bounds]
    if get_origin(bare) is dict:
        item, item_bounds = type_name(get_args(bare)[1])
        return f"mapping of name to {item}", bounds + [_each(b) for b in item_bounds]
    if _is_model(bare):
        return "block", bounds
    if bare is str:
        return "text", _text_bounds(bounds)
    simple = {int: "integer", float: "number", bool: "true/false"}
    return simple.get(bare, getattr(bare, "__name__", str(bare))), bounds


def _each(bound: str) -> str:
    return bound if bound.startswith("each ") else f"each {bound}"


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]
    if value is PydanticUndefined:
        return "required"
    if isinstance(value, BaseModel):
        value = value.model_dump(exclude_none=True)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f'"{value}"'
    return str(value).replace("'", "")


def _children(annotation: Any) -> list[tuple[str, type[BaseModel]]]:
    """The blocks a field holds: (path suffix, model) for a block, a list or mapping of blocks, or a tagged
    union of blocks (one per form, the suffix naming its tag)."""
    if _is_distribution(annotation):
        return []
    bare = _strip(annotation)[0]
    container = ""
    if get_origin(bare) is list:
        bare, container = _strip(get_args(bare)[0])[0], "[]"
    elif get_origin(bare) is dict:
        bare, container = _strip(get_args(bare)[1])[0], f".{NAME}"
    models = [m for m in (_strip(m)[0] for m in _union_members(bare)) if _is_model(m)]
    if _is_distribution(bare):
        return []
    return [(container, model) for model in models]


def walk(model: type[BaseModel], prefix: str = "", form: str = "") -> Iterator[KeyRow]:
    """Every key of `model`, depth first, each nested block's keys after the key that holds it; `form`
    names the tag value (`kind: staffed`) a key belongs to, when its block is one form of several."""
    for name, field in model.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        text, allowed = type_name(field.annotation, list(field.metadata))
        meaning = (field.description or "").strip()
        if form:
            meaning = f"({form}) {meaning}"
        unit = "min" if text.startswith("distribution") else unit_of(name)
        yield KeyRow(path, text, unit, _default(field), "; ".join(allowed), meaning)
        children = _children(field.annotation)
        for suffix, child in children:
            tag = _tag(child) if len(children) > 1 else None
            yield from walk(child, path + suffix, f"{tag[0]}: {tag[1]}" if tag else "")


def distribution_rows() -> Iterator[KeyRow]:
    """The keys of every distribution form, under `<distribution>`."""
    for tag, model in DISTRIBUTIONS.items():
        description = inspect.getdoc(model) or ""
        for row in walk(model, DISTRIBUTION, f"dist: {tag}"):
            yield row if row.path != f"{DISTRIBUTION}.dist" else KeyRow(
                row.path, row.type, row.unit, row.default, row.allowed, f"(dist: {tag}) {description}")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") if text else "-"


def key_table(rows: Iterator[KeyRow]) -> list[str]:
    """Rows as a Markdown table."""
    lines = ["| key | type | unit | default | allowed | meaning |", "|---|---|---|---|---|---|"]
    lines += [f"| `{r.path}` | {_cell(r.type)} | {_cell(r.unit)} | {_cell(r.default)} | {_cell(r.allowed)} | "
              f"{_cell(r.meaning)} |" for r in rows]
    return lines


def all_models() -> list[type[BaseModel]]:
    """Every model the page walks from: the scenario, each experiment kind, the priors file, the
    distributions (for the check that every field has a description)."""
    return [Scenario, *EXPERIMENT_SCHEMAS.values(), PriorsFile, *DISTRIBUTIONS.values()]


def _log_tables() -> list[str]:
    lines = ["## Log columns", "",
             "The tables a `citysim run` folder holds as `<name>.parquet` (one row per replication's record;",
             "columns in this order; times are minutes from the start of the run, NaN when it did not happen).",
             "Defined, with these meanings, in `citysim.simulation.logs.LOG_SCHEMAS`.", ""]
    for log, schema in LOG_SCHEMAS.items():
        lines += [f"### {log}", "", schema.description, "", "| column | type | meaning |", "|---|---|---|"]
        lines += [f"| `{c.name}` | {c.dtype} | {_cell(c.meaning)} |" for c in schema.columns]
        lines.append("")
    return lines


def _kpi_population() -> list[str]:
    return ["## Which incidents the KPIs count", "",
            f"The response KPIs (`arrival_min_*`, `handling_min_*`, ... in `kpis.csv` and `summary.csv`) and "
            f"every claimed metric are taken over **{POLICE_CASES}**; each duration over those of them that have "
            "both its times. `summary.csv` gives the mean over replications of each replication's mean (not the "
            "mean over all incidents pooled). This reproduces `arrival_min_mean` (priority `all`) from a "
            "`citysim run` folder exactly:", "",
            "<!-- snippet: arrival_min_mean -->", "```python", ARRIVAL_MEAN_SNIPPET.strip(), "```", "",
            "Filters that look right and give slightly different numbers: `resolution == \"dispatched\"` drops the "
            "police cases still open when the run ended; `~warmup` alone keeps the calls of the drain, reported after "
            "the KPI window; one mean over every replication's cases pooled weights each replication by its number "
            "of cases.", ""]


def _signature(item: Any) -> inspect.Signature:
    """The signature with defaults that are objects (whose text would hold a memory address) named by type."""
    signature = inspect.signature(item)
    plain = (type(None), bool, int, float, str)
    return signature.replace(parameters=[
        p if p.default is p.empty or isinstance(p.default, plain) else p.replace(default=_Named(type(p.default)))
        for p in signature.parameters.values()])


class _Named:
    """A default shown as its type's name (`Progress`), not as an object's address."""

    def __init__(self, kind: type) -> None:
        self.kind = kind

    def __repr__(self) -> str:
        return f"<a {self.kind.__name__}>"


def _api(api: dict[str, object]) -> list[str]:
    lines = ["## Python API", "", "`import citysim`: the names of `citysim.__all__`.", "",
             "| name | signature | what |", "|---|---|---|"]
    for name, item in api.items():
        if isinstance(item, type) and issubclass(item, BaseModel):
            signature = f"`{name}.model_validate(data)` (a pydantic model)"
        else:
            signature = f"`{name}{_signature(item)}`".replace("'", "") if callable(item) else "-"
        first = (inspect.getdoc(item) or "").strip().split("\n\n")[0].replace("\n", " ")
        lines.append(f"| `{name}` | {_cell(signature)} | {_cell(first)} |")
    return lines + [""]


def _loader_keys() -> list[str]:
    """The two keys the loader handles before the schema sees the file (so the schema walk cannot list them)."""
    return ["Two keys are read by the loader, before the schema: they are gone from the resolved scenario "
            "(`citysim show FILE` prints what is left).", "",
            "| key | type | meaning |", "|---|---|---|",
            "| `extends` | text | the path of a parent file, relative to this one; this file is deep-merged onto "
            "it (mappings key by key; a list replaces the parent's whole) |",
            f"| `{OVERRIDES_KEY}` | mapping of district name to block | some keys of named districts changed "
            f"without copying `districts` ({', '.join(f'`{k}`' for k in OVERRIDABLE)}), applied after every "
            "`extends`; an unknown district or key is an error |", "",
            "Every other key:", ""]


def reference_markdown(command: str, api: dict[str, object]) -> str:
    """The whole page; `api` maps the public names (`citysim.__all__`) to their objects (passed in, since
    the package's top level sits above this layer)."""
    lines = [
        "# Reference: input keys, log columns, Python API", "",
        f"<!-- Generated by `{command}` from the pydantic schema; do not edit by hand. -->", "",
        "Every key a scenario, experiment or priors file may hold. A key path reads as in YAML: `a.b` is key `b`",
        f"inside block `a`, `a[].b` is key `b` of each entry of list `a`, `a.{NAME}.b` key `b` of each entry of a "
        "mapping whose keys you name. Unknown keys are errors. Units follow the key's name (`_min` minutes, "
        "`_km`, `_kmh` km/h, `_km2`, `_pct` percent, `_per_day`, `_by_hour`: 24 values, one per clock hour "
        "0-23 of the day, whatever `run.start_clock_h` is). 'required' keys have no default; a block whose "
        "type says `or null` may be left out.", "",
        "Explanation of the model: [model.md](model.md); the errors a file can give: [errors.md](errors.md); "
        "the levers' sources: [levers.md](levers.md); the study's STRESS-DES report: [stress_des.md](stress_des.md).",
        "",
        "## Scenario files", "", *_loader_keys(), *key_table(walk(Scenario)), "",
        "## Distributions", "",
        f"A duration is a block `{{dist: <form>, ...}}`; its keys by form (written `{DISTRIBUTION}` above). Every "
        "form draws by inverse transform, so two scenarios fed the same random numbers stay paired.", "",
        *key_table(distribution_rows()), "",
        "## Experiment files", "",
        "The `kind:` key says which of these an experiment file is.", "",
    ]
    for kind, model in EXPERIMENT_SCHEMAS.items():
        doc = (inspect.getdoc(model) or "").replace("\n", " ")
        lines += [f"### kind: {kind}", "", doc, "", *key_table(walk(model)), ""]
    lines += ["## Priors files", "", (inspect.getdoc(PriorsFile) or "").replace("\n", " "), "",
              *key_table(walk(PriorsFile)), ""]
    lines += _log_tables() + _kpi_population() + _api(api)
    return "\n".join(lines).rstrip("\n") + "\n"
