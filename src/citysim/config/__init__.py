"""Scenario and experiment configuration: schemas, YAML loading with `extends`, distributions, levers."""

from citysim.config.loading import dump_scenario, load_document, validate_schema
from citysim.config.schema import Scenario

__all__ = ["Scenario", "dump_scenario", "load_document", "validate_schema"]
