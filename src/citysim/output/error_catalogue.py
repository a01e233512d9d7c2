"""The catalogue of input errors: for each kind, a small bad file, what the error means and how to
fix it. `citysim errors --out docs/errors.md` runs every case and writes the page with the message
each one really produces; a test checks the page is current, so it cannot drift from the code.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from citysim.errors import InputError

#: A small valid scenario the cases start from (the same shape as the test suite's).
BASE = """\
name: example
run: {seed: 1, start_clock_h: 0, duration_min: 600, warmup_min: 60}
districts:
  - {name: North, population: 100000, area_km2: 30.0, lat: 31.2, lon: 121.4, call_share: 0.6, stations: 2, units: 4}
  - {name: South, population: 80000, area_km2: 50.0, lat: 31.25, lon: 121.5, call_share: 0.4, stations: 1, units: 3}
demand:
  calls_per_day: 400
  hourly_profile: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
  categories:
    urgent: {share: 0.3, priority: 1, units_needed: 1, phone_resolution_prob: 0.1, diversion_prob: 0.0,
             report_delay: {dist: fixed, value_min: 0}, talk: {dist: lognormal, mean_min: 1.5, cv: 0.5},
             scene: {dist: lognormal, mean_min: 30, cv: 0.8}}
    routine: {share: 0.7, priority: 3, units_needed: 1, phone_resolution_prob: 0.3, diversion_prob: 0.1,
              report_delay: {dist: fixed, value_min: 0}, talk: {dist: lognormal, mean_min: 1.0, cv: 0.5},
              scene: {dist: lognormal, mean_min: 20, cv: 0.8}}
call_centre:
  kind: staffed
  call_takers_by_hour: [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]
dispatch: {policy: home_district, decision_delay: {dist: fixed, value_min: 0.5}}
fleet:
  on_duty_fraction_by_hour: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
  idle_at: station
travel:
  kind: straight_line
  circuity: 1.3
  speed_kmh_by_hour: [30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30]
  turnout: {dist: fixed, value_min: 2}
  noise_cv: 0.2
"""


@dataclass(frozen=True)
class Case:
    """One kind of input error."""

    title: str
    meaning: str
    fix: str
    files: dict[str, str]  # file name -> content; the first is the one loaded


_ALL_ON = "[" + ", ".join(["1"] * 24) + "]"  # BASE's on-duty fractions


def _edit(old: str, new: str) -> dict[str, str]:
    assert old in BASE, old
    return {"scenario.yaml": BASE.replace(old, new, 1)}


CASES = [
    Case("YAML syntax", "The file is not valid YAML (an unclosed bracket, a bad indent).",
         "Fix the line named; YAML is indentation-sensitive and brackets must balance.",
         _edit("calls_per_day: 400", "calls_per_day: [400")),
    Case("Empty file", "The file has no content.", "Write a scenario, or point to the right file.",
         {"scenario.yaml": ""}),
    Case("Unknown key", "A key the schema does not know: usually a typo. Unknown keys are never ignored.",
         "Use the key suggested, or one of the keys listed.", _edit("calls_per_day: 400", "calls_per_dya: 400")),
    Case("Missing key", "A required key is absent.",
         "Add it (docs/reference.md lists every key, its unit and its default).",
         _edit("  idle_at: station\n", "")),
    Case("Wrong type", "A value has the wrong type (text where a number is expected).",
         "Write a number (YAML reads 1e9 and 1.0e9 as numbers, but not '400' in quotes).",
         _edit("calls_per_day: 400", "calls_per_day: 'four hundred'")),
    Case("Out of range", "A number outside its allowed range (a negative rate, a probability above 1).",
         "Use a value in the range the message gives.", _edit("calls_per_day: 400", "calls_per_day: -400")),
    Case("Not a number", "NaN or infinity where a finite number is needed.", "Write a finite number.",
         _edit("mean_min: 30, cv: 0.8", "mean_min: .nan, cv: 0.8")),
    Case("Probabilities not summing to 1", "Shares that should sum to 1 do not (within 0.001).",
         "Make them sum to 1.", _edit("share: 0.7", "share: 0.6")),
    Case("Unknown distribution", "A `dist` name the registry does not have.",
         "Use fixed, exponential, lognormal, gamma, triangular, uniform, discrete or histogram.",
         _edit("scene: {dist: lognormal, mean_min: 30, cv: 0.8}", "scene: {dist: weibull, mean_min: 30, cv: 0.8}")),
    Case("Inconsistent scenario", "Parts that are each valid but do not fit together (a district without units "
         "under home_district dispatch, a talk time without a call centre).",
         "Follow the message: add units, remove the ignored key, or change the policy.",
         _edit("call_share: 0.4, stations: 1, units: 3", "call_share: 0.4, stations: 1, units: 0")),
    Case("Python tags", "A YAML tag such as !!python/object: only plain YAML data is accepted, never code.",
         "Remove the tag.", _edit("kind: staffed", "kind: !!python/object/apply:os.system [true]")),
    Case("Missing `extends` target", "The parent file named by `extends:` does not exist.",
         "Fix the path (it is relative to the file that names it).",
         {"child.yaml": "extends: nowhere.yaml\nname: child\n"}),
    Case("Cycle of `extends`", "Files extend each other in a loop.", "Break the loop.",
         {"a.yaml": "extends: b.yaml\nname: a\n", "b.yaml": "extends: a.yaml\nname: b\n"}),
    Case("`extends` a folder or a symlink loop", "The parent named by `extends:` is a folder, or a symlink that "
         "loops (or cannot be opened).", "Point `extends:` at the parent YAML file itself.",
         {"child.yaml": "extends: parents\nname: child\n", "parents/README.txt": "a folder, not a scenario\n"}),
    Case("Beyond a limit: incidents", "The run would simulate more incidents (calls and crashes over duration and "
         "drain) than the limit of docs/limits.md: usually a duration in seconds, or a rate per year.",
         "Give run.duration_min in minutes and rates per day.",
         _edit("duration_min: 600,", "duration_min: 6.0e8,")),
    Case("Beyond a limit: size of the city", "The demand surface (or road network) the file describes would be "
         "larger than its limit (docs/limits.md), estimated from the file before anything is built.",
         "Check area_km2 (km2, not m2 or hectares) and lat/lon; or use a larger geography.cell_km.",
         _edit("area_km2: 50.0", "area_km2: 90000.0")),
    Case("Not a city", "A latitude beyond 72 degrees, or a speed slower than walking (1 km/h): a typo, not a city.",
         "Check for swapped lat/lon, and give speeds in km/h.",
         _edit("speed_kmh_by_hour: [30, ", "speed_kmh_by_hour: [0.001, ")),
    Case("No unit ever on duty", "The roster puts round(units x fraction) of each district's units on duty; if that "
         "is 0 at every hour, no call could get a unit.", "Give some hour a positive on-duty fraction.",
         _edit("on_duty_fraction_by_hour: " + _ALL_ON, "on_duty_fraction_by_hour: " + _ALL_ON.replace("1", "0"))),
    Case("Run shorter than one call", "The KPI window (duration_min - warmup_min) is shorter than one mean interval "
         "between calls, so no KPI could be measured.", "Give run.duration_min in minutes (a day is 1440).",
         _edit("duration_min: 600, warmup_min: 60", "duration_min: 2, warmup_min: 0")),
    Case("Bad surge", "A `demand.surges` entry whose multiplier is not above 0 and at most 20, or whose hours are "
         "not distinct clock hours 0-23 (docs/howto/demand-surge.md).",
         "A multiplier is a factor (2: twice the calls in those hours), not a count of extra calls.",
         _edit("  categories:\n", "  surges:\n    - {hours: [18, 19], multiplier: 400, reason: evening event}\n"
               "  categories:\n")),
    Case("Surges sharing an hour", "Two surges name the same clock hour, so whether they multiply or one wins "
         "would be a guess.", "Give each hour one surge, with the product of the multipliers if both apply.",
         _edit("  categories:\n", "  surges:\n    - {hours: [18, 19], multiplier: 2, reason: event}\n"
               "    - {hours: [19], multiplier: 1.5, reason: rain}\n  categories:\n")),
    Case("Unknown district in `district_overrides`", "An override names a district the merged scenario does not "
         "have (or a key a district does not have).", "Use one of the names listed (the whole name, as in "
         "districts), and district keys only.",
         {"child.yaml": "extends: scenario.yaml\nname: child\ndistrict_overrides:\n  Sout: {units: 1}\n",
          "scenario.yaml": BASE}),
    Case("Experiment kind", "An experiment file without `kind: claim_check | attribution | sensitivity | uncertainty`.",
         "Add the kind.", {"experiment.yaml": "name: nothing\nseed: 1\n"}),
    Case("Names that give one file name", "Two situations (or metrics) whose names reduce to the same file name "
         "(lower-case letters, digits and hyphens) would overwrite each other's charts and scenario files.",
         "Rename one of them. (Names in other scripts keep a short hash, so they never clash.)",
         {"experiment.yaml": "kind: claim_check\nname: clash\nseed: 1\nsmart_levers: smart.yaml\nsituations:\n"
          "  - {name: Rush hour, scenario: a.yaml}\n  - {name: rush-hour!, scenario: b.yaml}\nmetrics:\n"
          "  - {name: arrival, start: t_call, end: t_arrive, claimed_reduction_pct: 20}\n"
          "replications: {min: 2, max: 4, batch: 1, target_half_width_pct: 1}\nconfidence: 0.95\n"
          "by_priority: false\n"}),
    Case("A metric name with another clock", "The metric names of config/metrics.py (arrival, handling, ...) each "
         "mean one clock, in every results folder and in `citysim compare --metric`.",
         "Use the name's own clock, or give your clock a name of its own (or its registered one: t_occur -> "
         "t_arrive is arrival_from_occurrence).",
         {"experiment.yaml": "kind: claim_check\nname: clock\nseed: 1\nsmart_levers: smart.yaml\nsituations:\n"
          "  - {name: weekday, scenario: a.yaml}\nmetrics:\n"
          "  - {name: arrival, start: t_occur, end: t_arrive, claimed_reduction_pct: 20}\n"
          "replications: {min: 2, max: 4, batch: 1, target_half_width_pct: 1}\nconfidence: 0.95\n"
          "by_priority: false\n"}),
]


def run_case(case: Case, folder: Path) -> str:
    """Write the case's files into `folder`, load the first, and return the error message."""
    from citysim.city.loading import load_scenario
    from citysim.config.experiment import load_experiment

    for name, content in case.files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(content, encoding="utf-8")
    first = folder / next(iter(case.files))
    loader: Callable[[Path], object] = load_experiment if first.name.startswith("experiment") else load_scenario
    try:
        loader(first)
    except InputError as error:
        return str(error).replace(str(folder) + "/", "")
    raise AssertionError(f"case '{case.title}' raised no error")


def errors_markdown(command: str) -> str:
    """docs/errors.md: the exit statuses, and every kind of input error with the message it really produces."""
    from citysim.exit_codes import EXIT_CODES

    lines = [
        "# Errors you can meet, and how to fix them",
        "",
        f"<!-- Generated by `{command}`: each message below is produced by running the case. -->",
        "",
        "Every problem with an input file exits with status 2 and one paragraph: the file, the line and the",
        "key path where YAML gives them, and what was expected. Never a traceback. Warnings (an overloaded",
        "district) and run failures (exit 3, `failures.csv`) are described in docs/experiments.md.",
        "",
        "## Exit status",
        "",
        "| status | meaning | when |",
        "|---:|---|---|",
        *[f"| {status.code} | {status.meaning} | {status.when} |" for status in EXIT_CODES],
        "",
        "Any other status (1, with a traceback) is a bug in citysim, not a problem with the input: please report",
        "it with the command and the files.",
        "",
        "An unusable `--out` (an existing folder where a page is written, a path over the system's limits, a",
        "location that cannot be written, a disk without room for the estimate of what the command writes) is",
        "bad input too, found before any work; a write that fails later (a full disk) is exit 2 naming the file.",
        "",
        "A results folder is written by one command at a time: a second `run`, `compare` or `experiment` into a",
        "folder another process is writing is refused at once (exit 2), naming that process's pid and command.",
        "`--resume` is refused (exit 2) when the folder has no `inputs.json` or an unreadable one, or when an",
        "input file differs from the one the folder was started with (each file is named). A stored run that",
        "is damaged, foreign or made by other code is not an error: a warning names its file and it is run again.",
        "",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            folder = Path(tmp) / str(len(lines))
            folder.mkdir()
            lines += [f"## {case.title}", "", case.meaning, "", f"**Fix:** {case.fix}", "", "```text",
                      run_case(case, folder), "```", ""]
    return "\n".join(lines)
