"""Parallel claim checks give the same results, byte for byte, as serial ones."""

from __future__ import annotations

import textwrap

from citysim.cli import EXIT_OK, main

SMART = "extends: scenario.yaml\nname: small-smart\nlevers:\n  command_centre: {strength: 0.34}\n"
EXPERIMENT = textwrap.dedent("""\
    kind: claim_check
    name: parallel-check
    seed: 77
    smart_levers: smart.yaml
    situations:
      - {name: ordinary, scenario: scenario.yaml}
    metrics:
      - {name: arrival, start: t_call, end: t_arrive, claimed_reduction_pct: 20}
    replications: {min: 3, max: 5, batch: 2, target_half_width_pct: 0.01}
    confidence: 0.95
    by_priority: true
    """)


def test_two_workers_write_the_same_files_as_one(scenario_file, write_yaml, tmp_path):
    """With 2 worker processes, runs.csv, claims.csv and the chart tables equal the serial run's exactly."""
    write_yaml("smart.yaml", SMART)
    path = write_yaml("experiment.yaml", EXPERIMENT)
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    assert main(["experiment", str(path), "--out", str(serial)]) == EXIT_OK
    assert main(["experiment", str(path), "--out", str(parallel), "--workers", "2"]) == EXIT_OK
    for name in ("runs.csv", "claims.csv", "hourly.csv", "districts.csv", "samples.csv"):
        assert (parallel / name).read_bytes() == (serial / name).read_bytes(), name
