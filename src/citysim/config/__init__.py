"""Scenario configuration: schema, YAML loading with `extends`, distributions."""

from citysim.config.loading import dump_scenario, load_document, load_scenario, validate_document
from citysim.config.schema import Scenario

__all__ = ["Scenario", "dump_scenario", "load_document", "load_scenario", "validate_document"]
