"""Shapley attribution and the sensitivity experiment, on conftest's small scenario."""

from __future__ import annotations

import itertools
import math
import shutil
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from citysim.cli import EXIT_BAD_INPUT, EXIT_OK, main
from citysim.config.levers import LEVERS
from citysim.experiment.attribution import coalitions_asked, shapley_exact, shapley_sampled
from citysim.experiment.sensitivity import scaled_levers
from conftest import SMALL_SMART_YAML

SMART = SMALL_SMART_YAML + "  signal_preemption: {strength: 0.5}\n"
METRICS = textwrap.dedent("""\
    metrics:
      - {name: arrival, start: t_call, end: t_arrive, claimed_reduction_pct: 20}
      - {name: handling, start: t_arrive, end: t_clear, claimed_reduction_pct: 35}
    """)
ATTRIBUTION = textwrap.dedent("""\
    kind: attribution
    name: tiny-attribution
    seed: 99
    situation: {name: small, scenario: scenario.yaml}
    smart_levers: smart.yaml
    groups:
      centre: [command_centre]
      terminals: [mobile_terminals]
      transport: [signal_preemption]
    method: exact
    replications: 3
    """) + METRICS
SENSITIVITY = textwrap.dedent("""\
    kind: sensitivity
    name: tiny-sensitivity
    seed: 99
    situation: {name: small, scenario: scenario.yaml}
    smart_levers: smart.yaml
    replications: 2
    confidence: 0.95
    search_steps: 3
    """) + METRICS


def test_shapley_exact_of_an_additive_game_is_each_players_own_value():
    """In an additive game every player's Shapley value is its own contribution."""
    own = {"a": 1.0, "b": 2.5, "c": -0.5}
    values = shapley_exact(list(own), lambda coalition: sum(own[p] for p in coalition))
    assert values == pytest.approx(own)


def test_shapley_exact_splits_an_interaction_equally_and_is_efficient():
    """A pure two-player interaction is split equally, and the values sum to v(N) - v(empty)."""
    def value(coalition: frozenset[str]) -> float:
        return 3.0 * ({"a", "b"} <= coalition) + 1.0 * ("c" in coalition)

    values = shapley_exact(["a", "b", "c"], value)
    assert values == pytest.approx({"a": 1.5, "b": 1.5, "c": 1.0})
    assert sum(values.values()) == pytest.approx(value(frozenset("abc")) - value(frozenset()))


def test_the_coalitions_asked_are_all_the_game_needs_in_its_order():
    """Exact: all 2^k coalitions, the empty one first, in the order the computation asks; sampled: only the
    prefixes of the orderings. Prefetching exactly these leaves no coalition to run one at a time."""
    players = ["a", "b", "c"]
    exact = coalitions_asked(players, "exact", [])
    assert exact[0] == frozenset() and len(exact) == len(set(exact)) == 8
    order: list[frozenset[str]] = [frozenset()]
    shapley_exact(players, lambda c: order.append(c) or 0.0)
    assert exact == list(dict.fromkeys(order))
    sampled = coalitions_asked(players, "permutations", [["b", "a", "c"]])
    assert sampled == [frozenset(), frozenset("b"), frozenset("ab"), frozenset("abc")]


def test_shapley_sampled_over_all_orderings_equals_exact():
    """Averaging marginal contributions over every ordering gives the exact Shapley values."""
    def value(coalition: frozenset[str]) -> float:
        return len(coalition) ** 2 + 2.0 * ("b" in coalition and "c" in coalition)

    players = ["a", "b", "c", "d"]
    orderings = [list(p) for p in itertools.permutations(players)]
    assert shapley_sampled(players, value, orderings) == pytest.approx(shapley_exact(players, value))


def test_attribution_experiment_sums_to_the_total(ops_scenario_file, write_yaml, tmp_path):
    """`citysim experiment` on an attribution file: contributions sum to the total reduction, per metric."""
    write_yaml("smart.yaml", SMART)
    path = write_yaml("attribution.yaml", ATTRIBUTION)
    out = tmp_path / "attr"
    assert main(["experiment", str(path), "--out", str(out)]) == EXIT_OK
    table = pd.read_csv(out / "attribution.csv")
    for metric, rows in table.groupby("metric"):
        parts = rows[rows["group"] != "total"]["contribution_pct"].sum()
        total = rows[rows["group"] == "total"]["contribution_pct"].iloc[0]
        assert parts == pytest.approx(total, abs=1e-9), metric
    handling = table[(table["metric"] == "handling")].set_index("group")["contribution_pct"]
    # Only mobile terminals act on on-scene work (the look-ups), so they carry most of the handling reduction.
    assert handling["terminals"] > 0.5 * handling["total"] > 0
    assert (out / "manifest.json").exists()
    _assert_resumes(path, out, ["attribution.csv"], tmp_path / "cut")


def _assert_resumes(path: Path, out: Path, tables: list[str], cut: Path) -> None:
    """A copy of the folder as an interruption leaves it (half the runs, no tables, no manifest) resumes to
    byte-identical tables."""
    shutil.copytree(out, cut)
    units = sorted((cut / "units").glob("*.unit.json"))
    assert units
    for unit in units[::2]:
        unit.unlink()
    for name in [*tables, "manifest.json"]:
        (cut / name).unlink()
    assert main(["experiment", str(path), "--out", str(cut), "--resume", "--workers", "1"]) == EXIT_OK
    for name in tables:
        assert (cut / name).read_bytes() == (out / name).read_bytes(), name


def test_attribution_refuses_unknown_lever(scenario_file, write_yaml, tmp_path):
    """A group naming a lever that does not exist is a clear input error (exit 2)."""
    write_yaml("smart.yaml", SMART)
    path = write_yaml("attribution.yaml", ATTRIBUTION.replace("[signal_preemption]", "[signal_preemptoin]"))
    assert main(["experiment", str(path), "--out", str(tmp_path / "bad")]) == EXIT_BAD_INPUT


@pytest.mark.parametrize(("method", "extra", "expected"), [
    ("permutations", "", "method 'permutations' needs one"),
    ("exact", "permutations: 5\n", "'permutations' would be ignored"),
])
def test_permutations_key_is_needed_exactly_where_the_method_uses_it(scenario_file, write_yaml, tmp_path, capsys,
                                                                     method, extra, expected):
    """`permutations` is required with method permutations and refused with exact: each case is one paragraph
    naming the file and the key, and no run starts."""
    write_yaml("smart.yaml", SMART)
    path = write_yaml("attribution.yaml", ATTRIBUTION.replace("method: exact\n", f"method: {method}\n{extra}"))
    assert main(["experiment", str(path), "--out", str(tmp_path / "bad")]) == EXIT_BAD_INPUT
    message = capsys.readouterr().err.strip()
    assert message.startswith(f"Error in {path}") and "\n" not in message
    assert expected in message and "at key 'permutations'" in message
    assert not (tmp_path / "bad" / "manifest.json").exists()


def test_exact_attribution_needs_no_permutations_key(scenario_file, write_yaml):
    """The exact method validates without `permutations` (it samples no orderings)."""
    from citysim.config.experiment import load_experiment

    write_yaml("smart.yaml", SMART)
    spec, _ = load_experiment(write_yaml("attribution.yaml", ATTRIBUTION))
    assert spec.method == "exact" and spec.orderings == 0


def test_scaled_levers_scale_and_cap_at_the_sourced_high():
    """Scaling multiplies each strength and caps it at the high end of the lever's range."""
    from citysim.config.levers import CommandCentreLever, Lever, Levers

    levers = Levers(command_centre=CommandCentreLever(strength=0.34, location_share=0.5),
                    signal_preemption=Lever(strength=0.16))
    half = scaled_levers(levers, 0.5)
    assert half.command_centre is not None and half.command_centre.strength == pytest.approx(0.17)
    big = scaled_levers(levers, 10.0)
    assert big.command_centre is not None and big.command_centre.strength == LEVERS["command_centre"].high
    assert big.signal_preemption is not None and big.signal_preemption.strength == LEVERS["signal_preemption"].high


def test_sensitivity_experiment_writes_tornado_and_search(ops_scenario_file, write_yaml, tmp_path):
    """The tornado has a low and a high row per lever and metric; the search reports reachability."""
    write_yaml("smart.yaml", SMART)
    path = write_yaml("sensitivity.yaml", SENSITIVITY)
    out = tmp_path / "sens"
    assert main(["experiment", str(path), "--out", str(out)]) == EXIT_OK
    tornado = pd.read_csv(out / "sensitivity.csv")
    assert len(tornado) == 3 * 2 * 2  # levers x settings x metrics
    handling = tornado[(tornado["metric"] == "handling") & (tornado["lever"] == "mobile_terminals")]
    low, high = (handling[handling["setting"] == s]["reduction_pct"].iloc[0] for s in ("low", "high"))
    assert high > low  # more units with terminals, fewer radio look-ups, more handling reduction
    search = pd.read_csv(out / "what_would_it_take.csv").set_index("metric")
    for metric in ("arrival", "handling"):
        row = search.loc[metric]
        if row["reachable"]:
            assert row["reduction_pct"] >= row["claimed_pct"]
        else:
            assert row["reduction_pct"] < row["claimed_pct"] and not math.isnan(row["scale"])
    _assert_resumes(path, out, ["sensitivity.csv", "what_would_it_take.csv"], tmp_path / "cut")


def test_experiment_file_without_kind_is_rejected(write_yaml, tmp_path):
    """An experiment file must say its kind."""
    path = write_yaml("x.yaml", "name: nothing\nseed: 1\n")
    assert main(["experiment", str(path), "--out", str(tmp_path / "x")]) == EXIT_BAD_INPUT


def test_shipped_experiment_files_validate(tmp_path):
    """Every file in experiments/ and every scenario it names pass `citysim validate`."""
    files = sorted(str(p) for p in (Path(__file__).resolve().parents[1] / "experiments").glob("*.yaml"))
    assert len(files) >= 3
    assert main(["validate", *files]) == EXIT_OK
