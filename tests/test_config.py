"""Scenario loading: every kind of bad input is one clear InputError; `extends`; the distribution registry."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from citysim.city.loading import load_scenario
from citysim.config import dump_scenario, load_document
from citysim.config.distributions import DISTRIBUTIONS, Distribution
from citysim.config.schema import Scenario
from citysim.errors import InputError, format_key_path


def load_error(path: Path) -> InputError:
    """Load `path`, expect an InputError, and check it is one paragraph naming a file."""
    with pytest.raises(InputError) as info:
        load_scenario(path)
    error = info.value
    text = str(error)
    assert "\n" not in text, "the message must be one paragraph"
    assert text.startswith("Error in "), text
    assert error.file is not None and error.file in text
    assert "Traceback" not in text
    return error


def same_file(a: str | Path | None, b: str | Path) -> bool:
    return a is not None and Path(a).resolve() == Path(b).resolve()


# --------------------------------------------------------------------------- happy path


def test_small_scenario_loads(scenario_file):
    """The shared small scenario is valid and loads into a Scenario."""
    scenario = load_scenario(scenario_file)
    assert isinstance(scenario, Scenario)
    assert scenario.name == "small-test"
    assert scenario.category_names == ["urgent", "routine"]


def test_shipped_scenarios_load(shipped_scenarios, shanghai_path, mmc_path):
    """Every scenario shipped in scenarios/ is valid."""
    assert shanghai_path in shipped_scenarios and mmc_path in shipped_scenarios
    for path in shipped_scenarios:
        assert isinstance(load_scenario(path), Scenario), path
    assert load_scenario(shanghai_path).name == "shanghai-baseline"


def test_format_key_path():
    """Key paths render as users see them in YAML (a.b[2].c)."""
    assert format_key_path(("districts", 2, "units")) == "districts[2].units"
    assert format_key_path(()) == "(top level)"


# --------------------------------------------------------------------------- YAML-level errors


def test_yaml_syntax_error_names_file_and_line(write_yaml):
    """A YAML syntax error is an InputError naming the file and the line of the problem."""
    path = write_yaml("bad.yaml", "name: x\nrun: [1, 2\ndemand: 3\n")
    error = load_error(path)
    assert same_file(error.file, path)
    assert error.line == 3
    assert "not valid YAML" in str(error)
    assert "line 3" in str(error)


def test_bad_indentation_is_syntax_error(write_yaml):
    """Inconsistent indentation is reported as invalid YAML with its line."""
    path = write_yaml("indent.yaml", "run:\n  seed: 1\n start_clock_h: 2\n")
    error = load_error(path)
    assert error.line == 3
    assert "not valid YAML" in str(error)


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_file(write_yaml, text):
    """An empty (or comment-only) file is an InputError saying the file is empty."""
    path = write_yaml("empty.yaml", text)
    error = load_error(path)
    assert same_file(error.file, path)
    assert "empty" in str(error)


@pytest.mark.parametrize(
    ("text", "line"),
    [("- a\n- b\n", 1), ("just text\n", 1), ("# header\n42\n", 2), ("\n[1, 2]\n", 2)],
)
def test_top_level_not_a_mapping(write_yaml, text, line):
    """A top level that is a list or scalar is an InputError asking for a mapping, with the line."""
    path = write_yaml("top.yaml", text)
    error = load_error(path)
    assert "mapping" in str(error)
    assert error.line == line


def test_duplicate_top_level_key(write_yaml, small_yaml, line_of):
    """A key repeated at the top level is an InputError naming the key and the second occurrence's line."""
    text = small_yaml + "name: again\n"
    path = write_yaml("dup.yaml", text)
    error = load_error(path)
    assert error.key_path == ("name",)
    assert error.line == len(text.splitlines())
    assert "twice" in str(error)


def test_duplicate_nested_key(write_yaml, small_yaml, line_of):
    """A key repeated inside a nested mapping names the full key path and its line."""
    text = small_yaml.replace("  seed: 12345\n", "  seed: 12345\n  seed: 999\n")
    path = write_yaml("dup.yaml", text)
    error = load_error(path)
    assert error.key_path == ("run", "seed")
    assert error.line == line_of(text, "seed: 999")


def test_duplicate_key_in_flow_mapping(write_yaml, small_yaml, line_of):
    """Duplicate keys inside a flow mapping ({...}) are also caught."""
    text = small_yaml.replace("{dist: exponential, mean_min: 2}", "{dist: exponential, mean_min: 2, mean_min: 3}")
    path = write_yaml("dup.yaml", text)
    error = load_error(path)
    assert error.key_path == ("demand", "categories", "urgent", "report_delay", "mean_min")
    assert error.line == line_of(text, "mean_min: 3")


def test_non_text_key(write_yaml, small_yaml):
    """A non-text key (e.g. a number) is an InputError with its line."""
    text = small_yaml + "42: answer\n"
    path = write_yaml("key.yaml", text)
    error = load_error(path)
    assert error.line == len(text.splitlines())
    assert "text" in str(error)


def test_missing_file(tmp_path):
    """A file that does not exist is an InputError naming it."""
    path = tmp_path / "nope.yaml"
    error = load_error(path)
    assert same_file(error.file, path)
    assert "does not exist" in str(error)


def test_not_utf8(tmp_path):
    """A file that is not UTF-8 text is an InputError, not a UnicodeDecodeError."""
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"name: \xff\xfe\x00\n")
    error = load_error(path)
    assert "UTF-8" in str(error)


# --------------------------------------------------------------------------- unsafe YAML


def test_python_name_tag_rejected(write_yaml, small_yaml, line_of):
    """A `!!python/name` scalar tag is refused by the safe constructor, naming its line."""
    text = small_yaml.replace("name: small-test", "name: !!python/name:os.system ''")
    path = write_yaml("tag.yaml", text)
    error = load_error(path)
    assert error.line == line_of(text, "python/name")
    assert "unsupported YAML content" in str(error)


def test_python_apply_tag_never_executes(write_yaml, small_yaml, tmp_path):
    """A `!!python/object/apply` tag never runs code, whatever the loader then makes of it."""
    marker = tmp_path / "pwned"
    for name, text in {
        "scalar.yaml": small_yaml.replace("name: small-test", f"name: !!python/object/apply:os.system '{marker}'"),
        "seq.yaml": small_yaml.replace("name: small-test", f"name: !!python/object/apply:os.system ['touch {marker}']"),
        "top.yaml": f"!!python/object/apply:os.system\nargs: ['touch {marker}']\n",
    }.items():
        path = write_yaml(name, text)
        with pytest.raises(InputError):
            load_scenario(path)
        assert not marker.exists()


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("call_centre:\n", "call_centre: !!python/object/apply:collections.OrderedDict\n"),
        ("  call_takers_by_hour: [", "  call_takers_by_hour: !!python/object/apply:builtins.list ["),
        ("name: small-test\n", "name: small-test\nextra: !!python/object/apply:os.system ['true']\n"),
    ],
    ids=["mapping", "sequence", "unknown-key-sequence"],
)
def test_python_apply_tag_on_collection_rejected(write_yaml, small_yaml, old, new):
    """A `!!python/object/apply` tag on a mapping or sequence is rejected as unsupported YAML content."""
    path = write_yaml("tag.yaml", small_yaml.replace(old, new, 1))
    error = load_error(path)
    assert "unsupported YAML content" in str(error)


def test_python_apply_tag_on_top_level_rejected(write_yaml, small_yaml):
    """A tagged top-level mapping (`--- !!python/object/apply:...`) is rejected."""
    path = write_yaml("tag.yaml", "--- !!python/object/apply:subprocess.Popen\n" + small_yaml)
    error = load_error(path)
    assert "unsupported YAML content" in str(error)


def test_recursive_alias_is_input_error(write_yaml, small_yaml):
    """A recursive YAML alias is an InputError, not a crash."""
    path = write_yaml("alias.yaml", small_yaml.replace("description: two", "loop: &a [*a]\ndescription: two"))
    load_error(path)


# --------------------------------------------------------------------------- schema errors


def test_unknown_top_level_key_did_you_mean(write_yaml, small_yaml, line_of):
    """An unknown top-level key names the key, its line and suggests the closest valid key."""
    text = small_yaml.replace("description:", "descripton:")
    path = write_yaml("typo.yaml", text)
    error = load_error(path)
    assert error.key_path == ("descripton",)
    assert error.line == line_of(text, "descripton:")
    assert "unknown key 'descripton'" in str(error)
    assert "Did you mean 'description'?" in str(error)


def test_misspelt_required_key_reports_both(write_yaml, small_yaml):
    """A misspelt required key reports the missing key and the unknown one with its hint, in one paragraph."""
    path = write_yaml("typo.yaml", small_yaml.replace("fleet:\n", "fleat:\n"))
    message = str(load_error(path))
    assert "'fleet'" in message and "missing" in message
    assert "unknown key 'fleat'" in message
    assert "Did you mean 'fleet'?" in message


def test_unknown_nested_key_did_you_mean(write_yaml, small_yaml, line_of):
    """An unknown nested key gives the full key path, the line and a 'did you mean' hint."""
    text = small_yaml.replace("  warmup_min: 60\n", "  warmup_min: 60\n  warmup_mins: 30\n")
    path = write_yaml("typo.yaml", text)
    error = load_error(path)
    assert error.key_path == ("run", "warmup_mins")
    assert error.line == line_of(text, "warmup_mins")
    assert "Did you mean 'warmup_min'?" in str(error)
    assert "run.warmup_mins" in str(error)


def test_unknown_key_in_distribution(write_yaml, small_yaml, line_of):
    """An unknown key inside a distribution block names the key path and line."""
    text = small_yaml.replace("{dist: exponential, mean_min: 5}", "{dist: exponential, mean: 5}")
    path = write_yaml("typo.yaml", text)
    error = load_error(path)
    assert error.key_path[:4] == ("demand", "categories", "routine", "report_delay")
    assert "unknown key 'mean'" in str(error)
    assert error.line == line_of(text, "{dist: exponential, mean: 5}")


@pytest.mark.parametrize(
    ("old", "new", "hint"),
    [("    units: 4\n", "    unit: 4\n", "units"), ("    priority: 3\n", "    priorty: 3\n", "priority")],
    ids=["district", "category"],
)
def test_unknown_key_in_list_or_dict_item_did_you_mean(write_yaml, small_yaml, old, new, hint):
    """An unknown key inside a district or a category also gets the 'did you mean' hint."""
    path = write_yaml("typo.yaml", small_yaml.replace(old, new, 1))
    error = load_error(path)
    assert f"Did you mean '{hint}'?" in str(error)


@pytest.mark.parametrize(
    ("old", "new", "key_path", "expected"),
    [
        ("  seed: 12345", "  seed: twelve", ("run", "seed"), "integer"),
        ("  seed: 12345", "  seed: 1.5", ("run", "seed"), "integer"),
        ("  duration_min: 600", "  duration_min: long", ("run", "duration_min"), "number"),
        ("  calls_per_day: 400", "  calls_per_day: [400]", ("demand", "calls_per_day"), "number"),
        ("  policy: home_district", "  policy: fastest", ("dispatch", "policy"), "home_district"),
        ("    stations: 2", "    stations: two", ("districts", 0, "stations"), "integer"),
    ],
    ids=["seed-text", "seed-float", "duration-text", "rate-list", "policy-enum", "stations-text"],
)
def test_wrong_type(write_yaml, small_yaml, line_of, old, new, key_path, expected):
    """A value of the wrong type names the key path, the line and what was expected."""
    text = small_yaml.replace(old, new, 1)
    path = write_yaml("type.yaml", text)
    error = load_error(path)
    assert error.key_path == key_path
    assert error.line == line_of(text, new.strip())
    assert expected in str(error)
    assert format_key_path(key_path) in str(error)


def test_mapping_where_list_expected(write_yaml, small_yaml, line_of):
    """A mapping where a list is expected (hourly profile) names the key path and line."""
    text = small_yaml.replace(f"  hourly_profile: {[1] * 24}", "  hourly_profile: {peak: 2}")
    assert text != small_yaml
    path = write_yaml("type.yaml", text)
    error = load_error(path)
    assert error.key_path == ("demand", "hourly_profile")
    assert error.line == line_of(text, "hourly_profile")


def test_missing_required_key(write_yaml, small_yaml, line_of):
    """A missing required key is named, at the line of the mapping that should hold it."""
    text = small_yaml.replace("  start_clock_h: 6\n", "")
    path = write_yaml("missing.yaml", text)
    error = load_error(path)
    assert error.key_path == ("run", "start_clock_h")
    assert "missing" in str(error)
    assert error.line == line_of(text, "run:")


@pytest.mark.parametrize(
    ("old", "new", "key_path"),
    [
        ("  calls_per_day: 400", "  calls_per_day: -5", ("demand", "calls_per_day")),
        ("  calls_per_day: 400", "  calls_per_day: 0", ("demand", "calls_per_day")),
        ("  duration_min: 600", "  duration_min: -600", ("run", "duration_min")),
        ("{dist: exponential, mean_min: 2}", "{dist: exponential, mean_min: -2}",
         ("demand", "categories", "urgent", "report_delay", "mean_min")),
        ("  noise_cv: 0.3", "  noise_cv: -0.3", ("travel", "noise_cv")),
        ("    units: 3", "    units: -3", ("districts", 1, "units")),
    ],
    ids=["calls-negative", "calls-zero", "duration", "dist-mean", "noise-cv", "units"],
)
def test_negative_rate_or_time(write_yaml, small_yaml, line_of, old, new, key_path):
    """A negative (or zero where positive is required) rate, time or count names key path and line."""
    text = small_yaml.replace(old, new, 1)
    path = write_yaml("negative.yaml", text)
    error = load_error(path)
    assert error.key_path == key_path
    assert error.line == line_of(text, new.strip())
    assert "greater than" in str(error)


@pytest.mark.parametrize(
    ("old", "new", "key_path"),
    [
        ("  calls_per_day: 400", "  calls_per_day: .nan", ("demand", "calls_per_day")),
        ("  duration_min: 600", "  duration_min: .inf", ("run", "duration_min")),
        ("    lat: 31.20", "    lat: .NaN", ("districts", 0, "lat")),
        ("  circuity: 1.3", "  circuity: .nan", ("travel", "circuity")),
        ("      share: 0.3", "      share: .nan", ("demand", "categories", "urgent", "share")),
        ("{dist: lognormal, mean_min: 30, cv: 0.8}", "{dist: lognormal, mean_min: .nan, cv: 0.8}",
         ("demand", "categories", "urgent", "scene", "mean_min")),
    ],
    ids=["calls", "duration-inf", "lat", "circuity", "share", "dist-mean"],
)
def test_nan_rejected(write_yaml, small_yaml, line_of, old, new, key_path):
    """NaN (and infinity for run lengths) is rejected with the key path and line."""
    text = small_yaml.replace(old, new, 1)
    path = write_yaml("nan.yaml", text)
    error = load_error(path)
    assert error.key_path == key_path
    assert error.line == line_of(text, new.strip())


@pytest.mark.parametrize(
    "spec",
    ["{dist: lognormal, mean_min: .inf, cv: 0.8}", "{dist: fixed, value_min: .inf}",
     "{dist: uniform, low_min: 0, high_min: .inf}"],
    ids=["lognormal", "fixed", "uniform"],
)
def test_infinite_distribution_parameter_rejected(write_yaml, small_yaml, spec):
    """An infinite distribution parameter is rejected like NaN."""
    path = write_yaml("inf.yaml", small_yaml.replace("{dist: lognormal, mean_min: 30, cv: 0.8}", spec, 1))
    error = load_error(path)
    assert error.key_path[:4] == ("demand", "categories", "urgent", "scene")


def test_category_shares_must_sum_to_one(write_yaml, small_yaml, line_of):
    """Category shares that do not sum to 1 give an InputError at 'demand' stating the sum."""
    text = small_yaml.replace("      share: 0.7", "      share: 0.6")
    path = write_yaml("shares.yaml", text)
    error = load_error(path)
    assert error.key_path == ("demand",)
    assert error.line == line_of(text, "demand:")
    assert "category shares must sum to 1" in str(error)
    assert "0.9" in str(error)


def test_category_shares_within_tolerance_accepted(write_yaml, small_yaml):
    """Shares off by less than the 1e-3 tolerance (rounded figures) are accepted."""
    path = write_yaml("shares.yaml", small_yaml.replace("      share: 0.7", "      share: 0.7004"))
    assert load_scenario(path).demand.categories["routine"].share == pytest.approx(0.7004)


def test_district_call_shares_must_sum_to_one(write_yaml, small_yaml, line_of):
    """District call shares that do not sum to 1 give an InputError at 'districts'."""
    text = small_yaml.replace("    call_share: 0.4", "    call_share: 0.5")
    path = write_yaml("shares.yaml", text)
    error = load_error(path)
    assert error.key_path == ("districts",)
    assert error.line == line_of(text, "districts:")
    assert "district call shares must sum to 1" in str(error)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("{dist: discrete, values_min: [10, 20], probabilities: [0.5, 0.6]}", "sum to 1"),
        ("{dist: discrete, values_min: [10, 20], probabilities: [1.0]}", "expected 2 probabilities"),
        ("{dist: discrete, values_min: [10, 20], probabilities: [1.5, -0.5]}", "non-negative"),
        ("{dist: histogram, edges_min: [0, 10, 30], probabilities: [0.5, 0.4]}", "sum to 1"),
        ("{dist: histogram, edges_min: [0, 30, 10], probabilities: [0.5, 0.5]}", "strictly increasing"),
        ("{dist: triangular, low_min: 5, mode_min: 1, high_min: 9}", "low_min <= mode_min"),
        ("{dist: weibull, mean_min: 3}", "weibull"),
    ],
    ids=["discrete-sum", "discrete-length", "discrete-negative", "histogram-sum", "histogram-edges",
         "triangular-order", "unknown-dist"],
)
def test_bad_distribution_block(write_yaml, small_yaml, line_of, spec, expected):
    """A distribution block with bad probabilities or parameters names the block's key path and line."""
    text = small_yaml.replace("{dist: lognormal, mean_min: 30, cv: 0.8}", spec, 1)
    path = write_yaml("dist.yaml", text)
    error = load_error(path)
    assert error.key_path[:4] == ("demand", "categories", "urgent", "scene")
    assert error.line == line_of(text, spec)
    assert expected in str(error)


def test_distribution_validator_key_path_has_no_union_tag(write_yaml, small_yaml):
    """A distribution's own validation error is reported at the distribution's key, not at its type tag."""
    spec = "{dist: discrete, values_min: [10, 20], probabilities: [0.5, 0.6]}"
    path = write_yaml("dist.yaml", small_yaml.replace("{dist: lognormal, mean_min: 30, cv: 0.8}", spec, 1))
    error = load_error(path)
    assert error.key_path == ("demand", "categories", "urgent", "scene")


def test_several_problems_in_one_paragraph(write_yaml, small_yaml):
    """Several schema problems are listed in the same single paragraph (first in full, others briefly)."""
    text = small_yaml.replace("  seed: 12345", "  seed: -1").replace("  calls_per_day: 400", "  calls_per_day: -1")
    path = write_yaml("many.yaml", text)
    error = load_error(path)
    assert "Also:" in str(error)
    assert "demand.calls_per_day" in str(error)


HOME_ZERO = """\
  - name: Empty
    population: 1000
    area_km2: 10.0
    lat: 31.30
    lon: 121.45
    call_share: {share}
    stations: 1
    units: 0
"""


def _with_zero_unit_district(small_yaml: str, share: str, policy: str = "home_district") -> str:
    text = small_yaml.replace("    call_share: 0.4", "    call_share: 0.3")
    text = text.replace("demand:\n", HOME_ZERO.format(share=share) + "demand:\n", 1)
    return text.replace("  policy: home_district", f"  policy: {policy}")


def test_home_district_with_zero_unit_district_receiving_calls(write_yaml, small_yaml):
    """home_district dispatch with a 0-unit district that receives calls is an InputError naming it."""
    path = write_yaml("stranded.yaml", _with_zero_unit_district(small_yaml, "0.1"))
    error = load_error(path)
    assert same_file(error.file, path)
    assert "Empty" in str(error)
    assert "home_district" in str(error)


def test_home_district_zero_unit_error_names_key_path(write_yaml, small_yaml):
    """The home_district stranding error names a key path (dispatch.policy or the district) and a line."""
    path = write_yaml("stranded.yaml", _with_zero_unit_district(small_yaml, "0.1"))
    error = load_error(path)
    assert error.key_path
    assert error.line is not None


def test_zero_unit_district_accepted_when_no_calls_or_nearest(write_yaml, small_yaml):
    """A 0-unit district is fine if it gets no calls, or if dispatch is 'nearest'."""
    no_calls = _with_zero_unit_district(small_yaml, "0.0").replace("    call_share: 0.3", "    call_share: 0.4")
    assert load_scenario(write_yaml("nocalls.yaml", no_calls)).districts[2].units == 0
    nearest = _with_zero_unit_district(small_yaml, "0.1", policy="nearest")
    assert load_scenario(write_yaml("nearest.yaml", nearest)).dispatch.policy == "nearest"


def test_talk_required_iff_staffed(write_yaml, small_yaml):
    """A staffed centre needs 'talk' in every category; a 'none' centre must not have it."""
    no_talk = small_yaml.replace("      talk: {dist: lognormal, mean_min: 1.5, cv: 0.5}\n", "")
    assert "expected a 'talk' distribution" in str(load_error(write_yaml("notalk.yaml", no_talk)))
    unstaffed = small_yaml.replace(f"  kind: staffed\n  call_takers_by_hour: {[2] * 24}\n", "  kind: none\n")
    assert unstaffed != small_yaml
    assert "would be ignored" in str(load_error(write_yaml("unstaffed.yaml", unstaffed)))


# --------------------------------------------------------------------------- extends


PARENT = """\
name: parent
run:
  seed: 1
  start_clock_h: 6
  duration_min: 600
  warmup_min: 60
"""


def _split_small(small_yaml: str) -> tuple[str, str]:
    """The small scenario as a parent file (everything) and the text after its `run:` block."""
    return small_yaml, small_yaml.split("districts:\n", 1)[1]


def test_extends_child_overrides_one_nested_key(write_yaml, scenario_file):
    """A child overriding one nested key keeps the parent's sibling keys."""
    child = write_yaml("child.yaml", f"extends: {scenario_file.name}\nrun:\n  seed: 777\n"
                       "demand:\n  categories:\n    urgent:\n      scene: {mean_min: 45}\n")
    parent = load_scenario(scenario_file)
    scenario = load_scenario(child)
    assert scenario.run.seed == 777
    assert scenario.run.duration_min == parent.run.duration_min
    assert scenario.run.warmup_min == parent.run.warmup_min
    assert scenario.run.start_clock_h == parent.run.start_clock_h
    scene = scenario.demand.categories["urgent"].scene
    assert scene.mean_min == 45
    assert scene.cv == 0.8  # sibling parameter kept from the parent
    assert scenario.demand.categories["routine"] == parent.demand.categories["routine"]
    assert scenario.districts == parent.districts


def test_extends_lists_replace(write_yaml, scenario_file):
    """A list in the child replaces the parent's list (no element-wise merge)."""
    child = write_yaml("child.yaml", f"""\
        extends: {scenario_file.name}
        districts:
          - {{name: Only, population: 5, area_km2: 4.0, lat: 31.2, lon: 121.4, call_share: 1.0, stations: 1, units: 2}}
        demand:
          hourly_profile: [2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
        """)
    scenario = load_scenario(child)
    assert [d.name for d in scenario.districts] == ["Only"]
    assert scenario.demand.hourly_profile[0] == 2
    assert len(scenario.demand.hourly_profile) == 24
    assert scenario.demand.calls_per_day == 400  # sibling of the replaced list kept


def test_extends_chain_of_three(write_yaml, scenario_file):
    """A grandchild sees the merge of all its ancestors, nearest file winning."""
    write_yaml("middle.yaml", f"extends: {scenario_file.name}\nrun: {{seed: 2}}\nname: middle\n")
    leaf = write_yaml("leaf.yaml", "extends: middle.yaml\nname: leaf\n")
    scenario = load_scenario(leaf)
    assert (scenario.name, scenario.run.seed, scenario.run.duration_min) == ("leaf", 2, 600)
    files = load_document(leaf).files
    assert [Path(f).name for f in files] == ["scenario.yaml", "middle.yaml", "leaf.yaml"]


def test_extends_path_relative_to_the_file(tmp_path, write_yaml, small_yaml):
    """`extends` is resolved relative to the extending file's folder, not the working directory."""
    write_yaml("base/parent.yaml", small_yaml)
    child = write_yaml("variants/deep/child.yaml", "extends: ../../base/parent.yaml\nname: child\n")
    assert load_scenario(child).name == "child"


def test_error_in_parent_names_parent_file_and_line(write_yaml, small_yaml, line_of):
    """A bad value defined in the parent is reported in the parent file at the parent's line."""
    parent_text = small_yaml.replace("  calls_per_day: 400", "  calls_per_day: -400")
    parent = write_yaml("parent.yaml", parent_text)
    child = write_yaml("child.yaml", "extends: parent.yaml\nname: child\nrun:\n  seed: 3\n")
    error = load_error(child)
    assert same_file(error.file, parent)
    assert error.line == line_of(parent_text, "calls_per_day: -400")
    assert error.key_path == ("demand", "calls_per_day")


def test_error_in_child_names_child_file_and_line(write_yaml, scenario_file):
    """A bad value the child sets is reported in the child file at the child's line."""
    child = write_yaml("child.yaml", "extends: scenario.yaml\nname: child\nrun:\n  seed: 3\n  warmup_min: -1\n")
    error = load_error(child)
    assert same_file(error.file, child)
    assert error.line == 5
    assert error.key_path == ("run", "warmup_min")


def test_unknown_key_in_parent_names_parent(write_yaml, small_yaml, line_of):
    """An unknown key inherited from the parent points at the parent's line."""
    parent_text = small_yaml.replace("  idle_at:", "  idle_att: posts\n  idle_at:")
    parent = write_yaml("parent.yaml", parent_text)
    child = write_yaml("child.yaml", "extends: parent.yaml\nfleet:\n  on_duty_fraction_by_hour: "
                       "[1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n")
    error = load_error(child)
    assert same_file(error.file, parent)
    assert error.key_path == ("fleet", "idle_att")
    assert error.line == line_of(parent_text, "idle_att")


def test_replaced_list_error_points_at_child(write_yaml, scenario_file):
    """When a child replaces a list, errors inside it name the child, not the parent's old list."""
    child = write_yaml("child.yaml", """\
        extends: scenario.yaml
        districts:
          - {name: A, population: 5, area_km2: 4.0, lat: 31.2, lon: 121.4, call_share: 0.5, stations: 1, units: 2}
          - {name: B, population: 5, area_km2: 4.0, lat: 31.3, lon: 121.4, call_share: 0.5, stations: 0, units: 2}
        """)
    error = load_error(child)
    assert same_file(error.file, child)
    assert error.key_path == ("districts", 1, "stations")
    assert error.line == 4


def test_extends_missing_target(write_yaml):
    """A missing `extends` target names the extending file, the key 'extends' and its line."""
    child = write_yaml("child.yaml", "name: child\nextends: nowhere/parent.yaml\n")
    error = load_error(child)
    assert same_file(error.file, child)
    assert error.key_path == ("extends",)
    assert error.line == 2
    assert "nowhere/parent.yaml" in str(error)
    assert "does not exist" in str(error)


@pytest.mark.parametrize("value", ["3", "''", "[a.yaml]"], ids=["number", "empty", "list"])
def test_extends_not_a_path(write_yaml, value):
    """An `extends` value that is not a file path is an InputError at 'extends'."""
    child = write_yaml("child.yaml", f"name: child\nextends: {value}\n")
    error = load_error(child)
    assert error.key_path == ("extends",)
    assert error.line == 2


def test_extends_cycle(write_yaml):
    """A cycle of `extends` (a -> b -> a) is an InputError naming the files and the key."""
    a = write_yaml("a.yaml", "extends: b.yaml\nname: a\n")
    write_yaml("b.yaml", "name: b\nextends: a.yaml\n")
    error = load_error(a)
    assert error.key_path == ("extends",)
    assert "cycle" in str(error)
    assert "a.yaml" in str(error) and "b.yaml" in str(error)
    assert same_file(error.file, a.parent / "b.yaml")


def test_extends_self_cycle(write_yaml):
    """A file extending itself is a cycle, not an endless loop."""
    path = write_yaml("self.yaml", "extends: self.yaml\n")
    assert "cycle" in str(load_error(path))


def test_extends_cycle_names_line(write_yaml):
    """The cycle error names the line of the `extends` that closes the cycle."""
    a = write_yaml("a.yaml", "extends: b.yaml\nname: a\n")
    write_yaml("b.yaml", "name: b\nextends: a.yaml\n")
    assert load_error(a).line == 2


def test_child_can_switch_distribution_kind(write_yaml, scenario_file):
    """A child can replace a parent's lognormal scene time with a fixed one."""
    child = write_yaml("child.yaml", "extends: scenario.yaml\ndemand:\n  categories:\n    urgent:\n"
                       "      scene: {dist: fixed, value_min: 30}\n")
    assert load_scenario(child).demand.categories["urgent"].scene.mean == 30


def test_file_hashes_cover_the_chain(write_yaml, scenario_file):
    """The loaded document lists the SHA-256 of the child and every ancestor."""
    import hashlib

    child = write_yaml("child.yaml", "extends: scenario.yaml\nname: child\n")
    hashes = load_document(child).file_hashes()
    assert {Path(k).name for k in hashes} == {"scenario.yaml", "child.yaml"}
    for name, digest in hashes.items():
        assert digest == hashlib.sha256(Path(name).read_bytes()).hexdigest()


def test_dump_scenario_round_trip(write_yaml, scenario_file):
    """The resolved scenario of an `extends` chain, dumped with dump_scenario, loads back equal."""
    child = write_yaml("child.yaml", "extends: scenario.yaml\nname: child\nrun: {seed: 99}\n"
                       "dispatch: {policy: nearest}\n")
    scenario = load_scenario(child)
    dumped = write_yaml("resolved.yaml", dump_scenario(scenario))
    again = load_scenario(dumped)
    assert again == scenario
    assert "extends" not in dumped.read_text()


def test_dump_scenario_round_trip_shipped(tmp_path, shipped_scenarios):
    """Every shipped scenario survives dump_scenario -> load_scenario unchanged."""
    for source in shipped_scenarios:
        scenario = load_scenario(source)
        path = tmp_path / f"{source.stem}.resolved.yaml"
        path.write_text(dump_scenario(scenario), encoding="utf-8")
        assert load_scenario(path) == scenario


# --------------------------------------------------------------------------- distribution registry

DIST = TypeAdapter(Distribution)
GRID = (np.arange(200_000) + 0.5) / 200_000  # midpoints of a fine grid of uniforms

#: (spec, analytic mean, analytic coefficient of variation or None)
DIST_CASES = [
    ({"dist": "fixed", "value_min": 3.5}, 3.5, 0.0),
    ({"dist": "exponential", "mean_min": 5.0}, 5.0, 1.0),
    ({"dist": "lognormal", "mean_min": 25.0, "cv": 0.8}, 25.0, 0.8),
    ({"dist": "lognormal", "mean_min": 0.6, "cv": 0.3}, 0.6, 0.3),
    ({"dist": "gamma", "mean_min": 10.0, "cv": 0.5}, 10.0, 0.5),
    ({"dist": "gamma", "mean_min": 10.0, "cv": 1.5}, 10.0, 1.5),
    ({"dist": "triangular", "low_min": 1.0, "mode_min": 2.0, "high_min": 6.0}, 3.0, None),
    ({"dist": "triangular", "low_min": 0.0, "mode_min": 0.0, "high_min": 6.0}, 2.0, None),
    ({"dist": "triangular", "low_min": 0.0, "mode_min": 6.0, "high_min": 6.0}, 4.0, None),
    ({"dist": "uniform", "low_min": 2.0, "high_min": 8.0}, 5.0, None),
    ({"dist": "uniform", "low_min": 2.0, "high_min": 2.0}, 2.0, 0.0),
    ({"dist": "discrete", "values_min": [1, 5, 10], "probabilities": [0.2, 0.5, 0.3]}, 5.7, None),
    ({"dist": "discrete", "values_min": [1, 5, 10], "probabilities": [0.0, 0.5, 0.5]}, 7.5, None),
    ({"dist": "histogram", "edges_min": [0, 5, 10, 30], "probabilities": [0.5, 0.3, 0.2]}, 7.5, None),
    ({"dist": "histogram", "edges_min": [0, 5, 10, 30], "probabilities": [0.5, 0.0, 0.5]}, 11.25, None),
]


def test_registry_names():
    """The registry offers exactly the eight documented distributions, keyed by their `dist` name."""
    assert sorted(DISTRIBUTIONS) == sorted(
        ["fixed", "exponential", "lognormal", "gamma", "triangular", "uniform", "discrete", "histogram"]
    )
    for name, cls in DISTRIBUTIONS.items():
        assert cls.model_fields["dist"].annotation.__args__ == (name,)


@pytest.mark.parametrize(("spec", "mean", "cv"), DIST_CASES, ids=lambda v: v["dist"] if isinstance(v, dict) else "")
def test_ppf_mean_matches(spec, mean, cv):
    """Each distribution's ppf, over a fine grid of uniforms, has the analytic mean (and cv)."""
    dist = DIST.validate_python(spec)
    values = dist.ppf(GRID)
    assert values.shape == GRID.shape
    assert dist.mean == pytest.approx(mean, rel=1e-12)
    assert values.mean() == pytest.approx(mean, rel=2e-4, abs=1e-9)
    if cv is not None:
        assert values.std() / values.mean() == pytest.approx(cv, rel=2e-3, abs=1e-9)


@pytest.mark.parametrize(("spec", "mean", "cv"), DIST_CASES, ids=lambda v: v["dist"] if isinstance(v, dict) else "")
def test_ppf_monotone_and_non_negative(spec, mean, cv):
    """ppf is non-decreasing in u and never negative (durations), including at u = 0."""
    dist = DIST.validate_python(spec)
    u = np.concatenate([[0.0], GRID[::97]])
    values = dist.ppf(u)
    assert np.all(np.isfinite(values))
    assert np.all(values >= 0)
    assert np.all(np.diff(values) >= -1e-12)


def test_ppf_keeps_shape():
    """ppf of a 2-D array of uniforms returns the same shape (used for per-slot draws)."""
    u = GRID[:12].reshape(3, 4)
    for spec, _mean, _cv in DIST_CASES:
        assert DIST.validate_python(spec).ppf(u).shape == (3, 4)


@pytest.mark.parametrize(
    "spec",
    [
        {"dist": "fixed", "value_min": -1},
        {"dist": "exponential", "mean_min": 0},
        {"dist": "exponential", "mean_min": -2},
        {"dist": "exponential", "mean_min": math.nan},
        {"dist": "lognormal", "mean_min": 5, "cv": 0},
        {"dist": "lognormal", "mean_min": 5},
        {"dist": "gamma", "mean_min": -5, "cv": 1},
        {"dist": "gamma", "mean_min": 5, "cv": -1},
        {"dist": "triangular", "low_min": 3, "mode_min": 2, "high_min": 5},
        {"dist": "triangular", "low_min": 2, "mode_min": 2, "high_min": 2},
        {"dist": "uniform", "low_min": 5, "high_min": 2},
        {"dist": "discrete", "values_min": [], "probabilities": []},
        {"dist": "discrete", "values_min": [1, 2], "probabilities": [0.3, 0.3]},
        {"dist": "discrete", "values_min": [1, 2], "probabilities": [0.5, math.nan]},
        {"dist": "discrete", "values_min": [-1, 2], "probabilities": [0.5, 0.5]},
        {"dist": "histogram", "edges_min": [0], "probabilities": []},
        {"dist": "histogram", "edges_min": [0, 1, 1], "probabilities": [0.5, 0.5]},
        {"dist": "histogram", "edges_min": [0, 1, 2], "probabilities": [1.0]},
        {"dist": "exponential", "mean_min": 5, "cv": 1},
        {"dist": "normal", "mean_min": 5},
        {"mean_min": 5},
    ],
    ids=lambda spec: "-".join(f"{k}={v}" for k, v in spec.items()),
)
def test_bad_distribution_parameters(spec):
    """Bad distribution parameters (or an unknown/missing `dist`) fail validation."""
    with pytest.raises(ValidationError):
        DIST.validate_python(spec)
