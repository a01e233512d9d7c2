"""`district_overrides:` change named districts' keys under `extends` without copying the districts list;
bad overrides are errors at the override's line."""

from __future__ import annotations

import pytest

from citysim.city.loading import load_scenario
from citysim.config import dump_scenario, load_document
from citysim.errors import InputError

CHILD = "extends: scenario.yaml\nname: fewer-south\n"


def test_an_override_changes_one_district_and_leaves_the_rest(scenario_file, write_yaml):
    """South's units go from 3 to 1 and its stations from 1 to 2; North and every other key stay as in the
    parent, and the resolved scenario has no district_overrides left."""
    parent = load_scenario(scenario_file)
    child = load_scenario(write_yaml("child.yaml", CHILD + "district_overrides:\n  South: {units: 1, stations: 2}\n"))
    north, south = child.districts
    assert (south.units, south.stations) == (1, 2)
    assert north == parent.districts[0]
    assert south.model_copy(update={"units": 3, "stations": 1}) == parent.districts[1]
    assert "district_overrides" not in child.model_dump() and "district_overrides" not in dump_scenario(child)


def test_overrides_merge_under_extends(scenario_file, write_yaml):
    """A grandchild's override adds to its parent's: both keys apply, the nearest file winning on a clash."""
    write_yaml("child.yaml", CHILD + "district_overrides:\n  South: {units: 1, stations: 2}\n")
    grandchild = write_yaml("grand.yaml", "extends: child.yaml\nname: grand\n"
                            "district_overrides:\n  South: {units: 2}\n  North: {units: 5}\n")
    north, south = load_scenario(grandchild).districts
    assert (north.units, south.units, south.stations) == (5, 2, 2)


def test_a_bad_override_value_is_reported_at_the_override(scenario_file, write_yaml, line_of):
    """The schema's error for a negative unit count names the override's file and line, and the district's
    key path."""
    text = CHILD + "district_overrides:\n  South:\n    units: -1\n"
    with pytest.raises(InputError) as caught:
        load_scenario(write_yaml("child.yaml", text))
    error = caught.value
    assert error.file.endswith("child.yaml") and error.line == line_of(text, "units: -1")
    assert error.key_path == ("districts", 1, "units") and "greater than or equal to 0" in str(error)


@pytest.mark.parametrize(("block", "key_path", "needle", "expected"), [
    ("  Sourth: {units: 1}\n", ("district_overrides", "Sourth"), "Sourth",
     "'Sourth' is not a district. Did you mean 'South'? Expected one of: North, South."),
    ("  South: {unit: 1}\n", ("district_overrides", "South", "unit"), "unit:",
     "unknown key 'unit'. Did you mean 'units'? Expected one of: population"),
    ("  South: {name: East}\n", ("district_overrides", "South", "name"), "name: East", "edit its entry in districts"),
    ("  South: 3\n", ("district_overrides", "South"), "South", "expected a mapping of district keys"),
    ("  - South\n", ("district_overrides",), "district_overrides", "expected a mapping of district names"),
])
def test_bad_overrides_name_the_file_line_and_key(block, key_path, needle, expected, scenario_file, write_yaml,
                                                  line_of):
    """An unknown district (with the valid names), an unknown or renaming key, or a block of the wrong shape:
    one paragraph at the override's line."""
    text = CHILD + "district_overrides:\n" + block
    with pytest.raises(InputError) as caught:
        load_scenario(write_yaml("child.yaml", text))
    error = caught.value
    assert error.key_path == key_path and expected in str(error) and "\n" not in str(error)
    assert error.file.endswith("child.yaml") and error.line == line_of(text, needle, start=3)


def test_an_override_without_districts_is_an_error(write_yaml):
    """A file with overrides but no districts to apply them to says so."""
    with pytest.raises(InputError, match="no list of districts"):
        load_document(write_yaml("lone.yaml", "name: lone\ndistrict_overrides: {South: {units: 1}}\n"))


def test_shanghai_prefix_suggests_the_full_name(shanghai_path, write_yaml):
    """'Pudong' is not a Shanghai district's name; the error suggests 'Pudong New Area'."""
    text = f"extends: {shanghai_path}\nname: p\ndistrict_overrides: {{Pudong: {{units: 300}}}}\n"
    child = write_yaml("pudong.yaml", text)
    with pytest.raises(InputError, match="Did you mean 'Pudong New Area'"):
        load_document(child)
