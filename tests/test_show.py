"""`citysim show SCENARIO [--out FILE]`: the resolved scenario as YAML, under a header naming the files merged."""

from __future__ import annotations

from citysim.city.loading import load_scenario
from citysim.cli import EXIT_BAD_INPUT, EXIT_OK, main

CHILD = ("extends: scenario.yaml\nname: evening-south\ndistrict_overrides:\n  South: {units: 2}\n"
         "demand:\n  surges: [{hours: [18, 19], multiplier: 2.0, reason: test event}]\n")


def test_show_prints_the_merged_scenario_that_loads_back_equal(scenario_file, write_yaml, capsys, tmp_path):
    """The printout names both files (base first), states the day's calls with the surge, has the override
    applied and no district_overrides key, and loads back to the same scenario."""
    child = write_yaml("child.yaml", CHILD)
    assert main(["show", str(child)]) == EXIT_OK
    out = capsys.readouterr().out
    header = [line for line in out.splitlines() if line.startswith("#")]
    files = [line for line in header if line.startswith("#   ")]
    assert [f.rsplit("/", 1)[-1] for f in files] == ["scenario.yaml", "child.yaml"]
    assert "x demand.surges = 433 calls a day" in out  # 400 x (22 + 2 x 2) / 24
    assert "district_overrides" not in out.replace("after extends and district_overrides", "")
    again = write_yaml("again.yaml", out)
    assert load_scenario(again) == load_scenario(child)
    assert load_scenario(again).districts[1].units == 2


def test_show_out_writes_the_file(scenario_file, tmp_path, capsys):
    """--out writes the same text to a file and says so."""
    target = tmp_path / "resolved.yaml"
    assert main(["show", str(scenario_file), "--out", str(target)]) == EXIT_OK
    assert f"wrote {target}" in capsys.readouterr().out
    assert load_scenario(target) == load_scenario(scenario_file)
    assert "(no surges)" in target.read_text(encoding="utf-8")


def test_show_a_bad_file_exits_2_with_one_paragraph(write_yaml, small_yaml, capsys):
    """A bad value: exit 2 and the usual one-paragraph error on stderr, nothing on stdout."""
    bad = write_yaml("bad.yaml", small_yaml.replace("  calls_per_day: 400", "  calls_per_day: -4"))
    assert main(["show", str(bad)]) == EXIT_BAD_INPUT
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("Error in ") and "demand.calls_per_day" in captured.err
    assert "Traceback" not in captured.err
