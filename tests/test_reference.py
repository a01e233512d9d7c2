"""docs/reference.md is current, complete and true: regenerating it gives the same page, every schema field
has a meaning, every key the shipped files use is listed, the log columns are what a run writes, and the
page's pandas snippet reproduces the summary's arrival_min_mean."""

from __future__ import annotations

import contextlib
import io
import re
import types
from pathlib import Path
from typing import Any, get_args, get_origin

import pandas as pd
import pytest
import yaml
from pydantic import BaseModel

import citysim
from citysim.cli import EXIT_OK, main
from citysim.output.reference import all_models, reference_markdown
from citysim.simulation.logs import LOG_SCHEMAS
from conftest import REPO_ROOT, SMALL_OPERATIONS_YAML, SMALL_SCENARIO_YAML

DOC = REPO_ROOT / "docs" / "reference.md"
API = {name: getattr(citysim, name) for name in citysim.__all__}


def _page() -> str:
    return DOC.read_text(encoding="utf-8")


def test_reference_doc_is_current():
    """The committed page equals what `citysim reference --out docs/reference.md` writes now."""
    assert _page() == reference_markdown("citysim reference --out docs/reference.md", API)


def test_reference_command_writes_the_page(tmp_path):
    """`citysim reference --out FILE` writes the page (the same keys, only the command line differs)."""
    out = tmp_path / "reference.md"
    assert main(["reference", "--out", str(out)]) == EXIT_OK
    assert out.read_text(encoding="utf-8") == reference_markdown(f"citysim reference --out {out}", API)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """Every model class an annotation refers to (through Annotated, unions, lists and mappings)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    if get_origin(annotation) is not None or isinstance(annotation, types.UnionType):
        for arg in get_args(annotation):
            found += _models_in(arg)
    return found


def _reachable(roots: list[type[BaseModel]]) -> list[type[BaseModel]]:
    seen: list[type[BaseModel]] = []
    todo = list(roots)
    while todo:
        model = todo.pop()
        if model not in seen:
            seen.append(model)
            for field in model.model_fields.values():
                todo += _models_in(field.annotation)
    return seen


def test_every_schema_field_has_a_description():
    """Each field of every model a scenario, experiment or priors file can hold says what it means."""
    models = _reachable(all_models())
    assert len(models) > 40  # the walk really went down the blocks
    missing = [f"{m.__module__}.{m.__name__}.{name}" for m in models for name, field in m.model_fields.items()
               if not (field.description or "").strip()]
    assert missing == []


def _leaf_paths(node: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every key path of a YAML document down to its values, list indices as '[]'."""
    if isinstance(node, dict):
        return [p for key, child in node.items() for p in _leaf_paths(child, (*prefix, str(key)))] or [prefix]
    if isinstance(node, list) and node and all(isinstance(item, dict) for item in node):
        return [p for item in node for p in _leaf_paths(item, (*prefix[:-1], prefix[-1] + "[]"))]
    return [prefix]


def _listed(page: str) -> dict[str, str]:
    """The key paths in the page's tables with their types, and every prefix of them (`districts[]` of
    `districts[].units`, type '')."""
    rows = dict(re.findall(r"^\| `([^`]+)` \| ([^|]+) \|", page, flags=re.M))
    prefixes = {".".join(p.split(".")[:n]): "" for p in rows for n in range(1, p.count(".") + 1)}
    return {**prefixes, **{path: kind.strip() for path, kind in rows.items()}}


def _find(path: tuple[str, ...], listed: dict[str, str]) -> str | None:
    """The page's key path for a YAML path: each key as written or, for a mapping of named entries, `<name>`
    (the last key may be a name in a mapping of plain values); the keys of a distribution block under
    `<distribution>`."""
    found = ""
    for index, key in enumerate(path):
        for candidate in (f"{found}.{key}" if found else key, f"{found}.<name>" + key[len(key.rstrip("[]")):]):
            if candidate in listed:
                found = candidate
                break
        else:
            kind = listed.get(found, "")
            if index == len(path) - 1 and kind.startswith("mapping of name to") and "block" not in kind:
                return found
            rest = ".".join(path[index:])
            return f"<distribution>.{rest}" if f"<distribution>.{rest}" in listed else None
    return found


@pytest.mark.parametrize("relative", ["scenarios/shanghai/baseline.yaml", "scenarios/shanghai/smart.yaml",
                                      "scenarios/shanghai/priors.yaml", "experiments/claim_check.yaml",
                                      "experiments/attribution.yaml", "experiments/sensitivity.yaml",
                                      "experiments/uncertainty.yaml"])
def test_every_key_of_the_shipped_files_is_in_the_reference(relative):
    """The walker covers what real files use: every key path in the shipped Shanghai scenario (so any key
    picked from it), its smart levers, its priors and the shipped experiments appears on the page."""
    data = yaml.safe_load((REPO_ROOT / relative).read_text(encoding="utf-8"))
    data.pop("extends", None)
    paths = _leaf_paths(data)
    assert len(paths) > 3
    listed = _listed(_page())
    missing = [".".join(p) for p in paths if _find(p, listed) is None]
    assert missing == []


def test_a_misspelt_key_is_not_found_in_the_reference():
    """The matcher above can fail: a key the schema does not have is not on the page."""
    listed = _listed(_page())
    assert _find(("districts[]", "unit"), listed) is None
    assert _find(("districts[]", "units"), listed) == "districts[].units"
    assert _find(("demand", "categories", "theft", "scene", "mean_min"), listed) == "<distribution>.mean_min"


def _small_city_with_everything() -> dict[str, Any]:
    """The small scenario with operations, the tiny road network and crashes: every log has rows."""
    text = SMALL_SCENARIO_YAML.replace("units: 4", "units: 8").replace("units: 3", "units: 6") + SMALL_OPERATIONS_YAML
    data = yaml.safe_load(text)
    data.update(yaml.safe_load((REPO_ROOT / "tests" / "data" / "tiny_network.yaml").read_text(encoding="utf-8")))
    categories = data["demand"]["categories"]
    categories["crash"] = {**categories["routine"], "share": 0.0}
    data["operations"]["by_category"]["crash"] = data["operations"]["by_category"]["routine"]
    data["crashes"] = {
        "crashes_per_day": 50, "category": "crash", "jam_density_veh_per_lane_km": 150, "queue_storage_links": 3,
        "detour_min": 15, "severities": [{"name": "minor", "share": 1.0, "capacity_factor": 0.5,
                                          "self_clear": {"dist": "fixed", "value_min": 20},
                                          "self_cleared_check": {"dist": "fixed", "value_min": 2}}]}
    return data


def test_log_columns_are_what_a_run_writes():
    """Each log of a run has exactly the columns LOG_SCHEMAS lists, in order, with the listed pandas types."""
    logs = citysim.simulate(citysim.Scenario.model_validate(_small_city_with_everything())).logs
    for name, schema in LOG_SCHEMAS.items():
        frame = getattr(logs, name)
        assert len(frame) > 0, name
        assert [(c, str(t)) for c, t in frame.dtypes.items()] == [(c.name, c.dtype) for c in schema.columns], name


def _snippet(page: str) -> str:
    block = page.split("<!-- snippet: arrival_min_mean -->", 1)[1]
    return block.split("```python\n", 1)[1].split("```", 1)[0]


def test_kpi_snippet_on_the_page_reproduces_arrival_min_mean(tmp_path, monkeypatch):
    """The page's pandas code, run on a `citysim run` folder with a drain, gives summary.csv's arrival_min_mean
    exactly."""
    monkeypatch.chdir(tmp_path)
    scenario = Path("small.yaml")
    scenario.write_text(SMALL_SCENARIO_YAML.replace("warmup_min: 60", "warmup_min: 60\n  drain_min: 60"),
                        encoding="utf-8")
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["run", str(scenario), "--replications", "3", "--out", "results/shanghai-baseline"]) == EXIT_OK
    namespace: dict[str, Any] = {}
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        exec(_snippet(_page()), namespace)
    summary = pd.read_csv("results/shanghai-baseline/summary.csv", dtype={"priority": str})
    expected = summary.loc[(summary["kpi"] == "arrival_min_mean") & (summary["priority"] == "all"), "mean"].item()
    assert namespace["arrival_min_mean"] == expected
    assert "over 3 replications" in printed.getvalue()
    incidents = pd.read_parquet("results/shanghai-baseline/incidents.parquet")
    assert incidents["drain"].any()  # the drain is there to be cut
