"""The answer first, and the warnings that used to be silent: the verdict sentences, the run checks
(precision not reached, incidents open at the end, a baseline that queues, a lever outside its sourced
range) and where they appear (terminal, warnings.csv, report.md, report.html)."""

from __future__ import annotations

import pandas as pd
import pytest

from citysim.analysis.load_warnings import lever_range_warnings
from citysim.analysis.run_checks import (
    DIAGNOSTIC_COLUMNS,
    KINDS,
    grouped_warnings,
    open_at_end_warnings,
    precision_warnings,
    queueing_warnings,
    situation_steps,
)
from citysim.cli import EXIT_OK, main
from citysim import load_scenario
from citysim.config.levers import LEVERS
from citysim.output.answer import answer_sentences, claim_sentences


def _claims(rows: list[tuple[str, str, float, float, float, str]]) -> pd.DataFrame:
    """claims.csv rows (priority all): situation, metric, claimed, reduction, half-width, verdict."""
    return pd.DataFrame([{"scenario": s, "metric": m, "priority": "all", "claimed_pct": c, "reduction_pct": r,
                          "ci_low_pct": r - h, "ci_high_pct": r + h, "verdict": v} for s, m, c, r, h, v in rows])


CLAIMS = _claims([
    ("weekday", "arrival", 20, 38.0, 1.0, "exceeded"), ("rain", "arrival", 20, 87.0, 1.0, "exceeded"),
    ("stations", "arrival", 20, 19.6, 1.0, "reproduced"),
    ("weekday", "arrival_from_occurrence", 20, 23.8, 1.0, "exceeded"),
    ("rain", "arrival_from_occurrence", 20, 79.0, 1.0, "exceeded"),
    ("stations", "arrival_from_occurrence", 20, 15.3, 1.0, "fell short"),
    ("weekday", "handling", 35, 6.4, 0.3, "fell short"), ("rain", "handling", 35, 14.7, 0.5, "fell short"),
    ("stations", "handling", 35, 6.5, 0.4, "fell short"),
    ("weekday", "handling_call_to_clear", 35, 15.1, 0.5, "fell short"),
    ("rain", "handling_call_to_clear", 35, 63.1, 2.5, "exceeded"),
    ("stations", "handling_call_to_clear", 35, 11.2, 0.4, "fell short"),
])


def test_claim_sentences_say_where_each_claim_is_reached_on_which_clock():
    """One sentence per claimed target; clocks with the same pattern share a clause, with their range."""
    arrival, handling = claim_sentences(CLAIMS)
    assert arrival.startswith("The claimed 20 % cut in arrival time is reached in every situation from the call "
                              "(20-87 %)")
    assert "in 2 of 3 situations (all but stations) from the occurrence (15-79 %)" in arrival
    assert handling == ("The claimed 35 % cut in handling time is reached in no situation on scene (6-15 %); in 1 "
                        "of 3 situations (rain) from the call to clearance (11-63 %).")


def test_the_why_names_steps_the_queue_and_never_guesses_levers():
    """Without an attribution the levers are not named but pointed to; with one, its largest shares are."""
    steps = pd.DataFrame({"situation": "weekday", "step": ["travel to the scene", "wait for a unit", "report"],
                          "a_min": [10.5, 0.1, 31.7], "b_min": [6.3, 0.0, 20.7],
                          "share_of_arrival_change": [0.9, 0.1, float("nan")],
                          "share_of_call_to_closed_change": [0.25, 0.01, 0.6]})
    warnings = pd.DataFrame({"situation": ["rain"], "kind": ["overload"],
                             "message": ["rain, baseline: 70% of police cases wait for a free unit"]})
    verdicts, without = answer_sentences(CLAIMS, steps, warnings, None)
    assert verdicts == claim_sentences(CLAIMS)
    assert ("Why, in weekday: of the arrival change, travel to the scene 90 % (10.5 -> 6.3 min) and wait for a "
            "unit 10 % (0.1 -> 0.0 min); of the call-to-closure change, report 60 %") in without[0]
    assert without[1].startswith("Where the baseline queues for units (rain), much of the cut is that queue")
    assert "not measured by a claim check" in without[2]
    attribution = pd.DataFrame({"metric": "arrival", "group": ["terminals", "prevention", "total"],
                                "contribution_pct": [12.5, 8.3, 37.6]})
    assert answer_sentences(CLAIMS, None, None, attribution)[1][-1] == (
        "By the included attribution (Shapley values), the largest lever shares: arrival (37.6 points): terminals "
        "12.5 and prevention 8.3.")


def test_precision_warning_only_when_the_rule_stopped_at_its_maximum_too_wide():
    """A situation at the maximum with a half-width above the target is named; one that stopped early is not."""
    rule = {"min": 3, "max": 12, "batch": 2, "target_half_width_pct": 1.5}
    found = precision_warnings(CLAIMS, {"weekday": 12, "rain": 12, "stations": 5}, rule)
    assert [(situation, kind) for situation, kind, _ in found] == [("rain", "precision not reached")]
    assert "handling_call_to_clear +-2.5" in found[0][2] and "maximum of 12 pairs" in found[0][2]
    assert precision_warnings(CLAIMS, {"weekday": 12, "rain": 11}, rule) == []


def _diagnostics(open_at_end: float, p_wait: float, cases: float = 10_000) -> pd.DataFrame:
    rows = [("s", config, k, "health", name, value) for config in ("baseline", "smart") for k in range(2)
            for name, value in (("open_at_end", open_at_end if config == "baseline" else 0.0),
                                ("p_wait_for_unit", p_wait if config == "baseline" else 0.0),
                                ("police_cases", cases))]
    return pd.DataFrame(rows, columns=DIAGNOSTIC_COLUMNS)


@pytest.mark.parametrize(("still_open", "warned"), [(5.0, False), (40.0, False), (533.0, True)])
def test_open_at_the_end_is_warned_above_a_share_of_the_cases(still_open, warned):
    """533 open incidents (the issue's what-if) are named; a handful, within 0.5 % of the cases, are not."""
    found = open_at_end_warnings(_diagnostics(still_open, 0.0))
    assert bool(found) is warned
    if warned:
        assert found[0][2].startswith("s, baseline: 533 incidents are still open when the run ends")


def test_a_configuration_that_queues_is_named_as_overloaded():
    found = queueing_warnings(_diagnostics(0.0, 0.61))
    assert [(s, kind) for s, kind, _ in found] == [("s", "overload")]
    assert found[0][2].startswith("s, baseline: 61% of police cases wait for a free unit")
    assert queueing_warnings(_diagnostics(0.0, 0.1)) == []


def test_steps_per_situation_add_up_to_the_arrival_change():
    """steps.csv's shares of the arrival change sum to 1 over the arrival steps."""
    rows = []
    for config, travel in (("baseline", 10.0), ("smart", 6.0)):
        for k in range(2):
            means = {"call answered": 0.1, "call-taking (locate and talk)": 2.0, "dispatch decision": 0.6,
                     "wait for a unit": 1.0 if config == "baseline" else 0.0, "travel to the scene": travel + k,
                     "look-ups on scene": 3.0, "scene work": 30.0, "report and closure": 20.0}
            rows += [("s", config, k, "step", name, value) for name, value in means.items()]
    steps = situation_steps(pd.DataFrame(rows, columns=DIAGNOSTIC_COLUMNS))
    assert steps["share_of_arrival_change"].sum() == pytest.approx(1.0)
    travel = steps.set_index("step").loc["travel to the scene"]
    assert (travel["a_min"], travel["b_min"]) == (10.5, 6.5)


def test_a_lever_beyond_its_sourced_range_is_warned(scenario_file, write_yaml):
    """Strength 0.9 against a sourced high below it is named with its range; the default is not."""
    name, info = "video_detection", LEVERS["video_detection"]  # a plain strength block, sourced up to 0.8
    block = f"extends: scenario.yaml\nlevers:\n  {name}: {{strength: 0.9}}\n"
    warned = lever_range_warnings(load_scenario(write_yaml("beyond.yaml", block)))
    assert len(warned) == 1 and f"levers.{name}.strength is 0.9" in warned[0] and f"{info.high:g}" in warned[0]
    at_default = block.replace("0.9", f"{info.default:g}")
    assert lever_range_warnings(load_scenario(write_yaml("default.yaml", at_default))) == []


EXPERIMENT = """\
    kind: claim_check
    name: answer-first
    description: the tiny city
    seed: 5
    smart_levers: smart.yaml
    situations:
      - {name: tiny, scenario: scenario.yaml}
    metrics:
      - {name: arrival, start: t_call, end: t_arrive, claimed_reduction_pct: 20}
    replications: {min: 2, max: 2, batch: 1, target_half_width_pct: 0.001}
    confidence: 0.95
    by_priority: false
    """


def test_claim_check_prints_and_reports_its_warnings_after_the_answer(scenario_file, write_yaml, tmp_path, capsys):
    """A precision target the rule cannot reach and a lever outside its range: both on stderr, in warnings.csv,
    and in both reports right after the answer, which comes first."""
    # The command centre at 0.9, above its sourced range (0.2-0.7): it changes the tiny city's times, so the
    # reduction has a spread, and two pairs cannot bring its half-width within 0.001 points.
    write_yaml("smart.yaml", "extends: scenario.yaml\nname: tiny-smart\nlevers:\n"
               "  command_centre: {strength: 0.9, location_share: 0.5}\n")
    out = tmp_path / "results"
    assert main(["experiment", str(write_yaml("experiment.yaml", EXPERIMENT)), "--out", str(out)]) == EXIT_OK
    stderr = capsys.readouterr().err
    assert "the replication rule stopped at its maximum of 2 pairs" in stderr
    assert "levers.command_centre.strength is 0.9" in stderr
    assert stderr.count("in North at 00:00 the offered load") == 1  # the baseline's, not again for its twin
    kinds = set(pd.read_csv(out / "warnings.csv")["kind"])
    assert {"precision not reached", "input"} <= kinds
    report = (out / "report.md").read_text(encoding="utf-8")
    headings = [line for line in report.splitlines() if line.startswith("## ")]
    assert headings[:3] == ["## The answer", "## Warnings", "## The claims"]
    assert "The claimed 20 % cut in arrival time is reached" in report
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.index('id="answer"') < html.index('id="warnings"') < html.index('id="claims"')
    assert (out / "steps.csv").is_file() and (out / "diagnostics.csv").is_file()


def test_run_warns_of_incidents_open_at_the_end(scenario_file, tmp_path, capsys):
    """The tiny city's units cannot keep up: `citysim run` says so after its summary, with the count."""
    assert main(["run", str(scenario_file), "--out", str(tmp_path / "run")]) == EXIT_OK
    stderr = capsys.readouterr().err
    assert "incidents are still open when the run ends" in stderr and "wait for a free unit" in stderr


def test_compare_warns_of_incidents_open_at_the_end(scenario_file, tmp_path, capsys):
    """`citysim compare A A` on the tiny city: both sides end with open incidents, and the warning names A and B."""
    assert main(["compare", str(scenario_file), str(scenario_file), "--replications", "1",
                 "--out", str(tmp_path / "cmp")]) == EXIT_OK
    stderr = capsys.readouterr().err
    assert "A (small-test):" in stderr and "B (small-test):" in stderr and "still open when the run ends" in stderr


def test_warnings_are_grouped_by_kind_with_the_advice_once():
    """The kinds in the order they first appear, each message once, the kind's advice beside its title."""
    found = pd.DataFrame({"situation": ["a", "b", "a", "a"], "kind": ["overload", "open at the end", "overload",
                                                                     "overload"],
                          "message": ["a, baseline: 60%", "b, baseline: 40 open", "a, smart: 30%", "a, smart: 30%"]})
    (first, second) = grouped_warnings(found)
    assert first == (*KINDS["overload"], ["a, baseline: 60%", "a, smart: 30%"])
    assert second[0] == "Incidents still open at the end" and second[2] == ["b, baseline: 40 open"]
