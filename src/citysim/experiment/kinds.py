"""The experiment kinds, registered once: each `kind:` name with the function that runs it into its
results folder. A new kind is a schema in `citysim.config.experiment.EXPERIMENT_SCHEMAS`, a module here
with a `write_folder`, and one entry below (a test checks the two registries agree)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from citysim.config.yaml_loader import LoadedDocument
from citysim.experiment import attribution, claim_check, sensitivity, uncertainty
from citysim.experiment.contract import Options, Outcome

WriteFolder = Callable[[Any, LoadedDocument, Path, Path, Options], Outcome]

KINDS: dict[str, WriteFolder] = {
    "claim_check": claim_check.write_folder,
    "attribution": attribution.write_folder,
    "sensitivity": sensitivity.write_folder,
    "uncertainty": uncertainty.write_folder,
}
