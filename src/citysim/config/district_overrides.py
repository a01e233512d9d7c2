"""`district_overrides:` in a scenario file: change some keys of named districts without copying the list.

Under `extends` a list replaces its parent's whole, so cutting one district's units would mean copying all
of `districts`. Instead a file may write, at the top level,

    district_overrides:
      Pudong New Area: {units: 300}

which is applied to the merged scenario, after every `extends`, before validation: each key replaces that
district's value, and remembers its own file and line, so a bad value is reported at the override. The
block merges key by key under `extends` like any mapping, and is gone from the resolved scenario.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from citysim.config.schema import District
from citysim.config.yaml_loader import LoadedDocument
from citysim.errors import InputError, KeyPath

OVERRIDES_KEY = "district_overrides"
#: The district keys an override may change (a district's name is the override's own key).
OVERRIDABLE = tuple(key for key in District.model_fields if key != "name")


def apply_district_overrides(document: LoadedDocument, fallback: Path) -> None:
    """Merge each override into the district of that name, in place, and drop the block; an InputError
    (at the override's line) for a block that is not a mapping, a name that is not a district, or a key
    that is not a district's."""
    if OVERRIDES_KEY not in document.data:
        return
    overrides = document.data.pop(OVERRIDES_KEY)
    block: KeyPath = (OVERRIDES_KEY,)

    def fail(path: KeyPath, problem: str) -> InputError:
        origin = document.origin_of(path)
        return InputError(origin.file if origin else fallback, problem, path, origin.line if origin else None)

    if not isinstance(overrides, dict) or not overrides:
        raise fail(block, "expected a mapping of district names to the keys to change, e.g. "
                   "{Pudong New Area: {units: 300}}.")
    districts = document.data.get("districts")
    if not isinstance(districts, list) or not all(isinstance(d, dict) for d in districts):
        raise fail(block, "there is no list of districts (mappings with a name) to override; expected "
                   "'districts' in this file or a file it extends.")
    position = {d.get("name"): index for index, d in enumerate(districts)}
    names = [str(name) for name in position]
    for name, change in overrides.items():
        path = (*block, name)
        if name not in position:
            raise fail(path, f"'{name}' is not a district.{_suggest(name, names)} Expected one of: {', '.join(names)}.")
        if not isinstance(change, dict) or not change:
            raise fail(path, "expected a mapping of district keys to new values, e.g. {units: 300}.")
        index = position[name]
        for key, value in change.items():
            if key == "name":
                raise fail((*path, key), "a district's name is the key of its override; to rename a district, "
                           "edit its entry in districts.")
            if key not in OVERRIDABLE:
                raise fail((*path, key), f"unknown key '{key}'.{_suggest(key, list(OVERRIDABLE))} Expected one of: "
                           f"{', '.join(OVERRIDABLE)}.")
            districts[index] = {**districts[index], key: value}
            _move_origins(document, (*path, key), ("districts", index, key))
    for key in [p for p in document.origins if p[:1] == block]:
        del document.origins[key]


def _suggest(given: Any, allowed: list[str]) -> str:
    """' Did you mean ...?' for a name that starts another (Pudong: Pudong New Area) or is close to one."""
    text = str(given)
    starts = [a for a in allowed if a.lower().startswith(text.lower())]
    close = starts or difflib.get_close_matches(text, allowed, n=1)
    return f" Did you mean '{close[0]}'?" if close else ""


def _move_origins(document: LoadedDocument, source: KeyPath, target: KeyPath) -> None:
    """Point `target` (and anything under it) at where `source` was written."""
    for key in [p for p in document.origins if p[: len(target)] == target]:
        del document.origins[key]
    for key, origin in list(document.origins.items()):
        if key[: len(source)] == source:
            document.origins[(*target, *key[len(source):])] = origin
