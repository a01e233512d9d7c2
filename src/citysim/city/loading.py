"""Scenario files loaded and checked whole: the schema (`citysim.config`) and the city the file
describes, whose road network is built now, so that a broken one is reported against the file and
line that describe it rather than in the middle of a run."""

from __future__ import annotations

from pathlib import Path

from citysim.city.context import city_context
from citysim.city.geography import DistrictGrid
from citysim.city.surface import demand_surface
from citysim.config.loading import load_document, validate_schema
from citysim.config.schema import Scenario
from citysim.config.yaml_loader import LoadedDocument
from citysim.errors import InputError


def validate_document(document: LoadedDocument, path: str | Path) -> Scenario:
    """Validate merged YAML data: schema, cross-field rules, district land and demand surface, and a road
    network that builds."""
    scenario = validate_schema(document, path)
    try:
        grid = DistrictGrid.from_scenario(scenario)
        demand_surface(scenario, grid)
        if scenario.network is not None and scenario.traffic is not None:
            city_context(scenario, grid)
    except InputError as exc:
        origin = document.origin_of(exc.key_path)
        raise InputError(origin.file if origin else path, exc.problem, exc.key_path,
                         origin.line if origin else None) from None
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Load, merge (`extends`) and validate a scenario file; raise InputError on any problem."""
    return validate_document(load_document(path), path)
