"""`citysim compare A B`: neutral words (A, B, change % and its CI), --metric, per-priority and per-district
rows, --claims, the report, and determinism.

A is conftest's small scenario with two smart levers and B the same scenario without them (with an
operations block), so B is the slower one: an increase, which the claim's language used to print as a
negative reduction that "fell short".
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from citysim.analysis.steps import STEPS
from citysim.cli import EXIT_BAD_INPUT, EXIT_OK, main
from citysim.config.experiment import Metric
from citysim.config.metrics import COMPARE_DEFAULTS, METRICS
from citysim.experiment.comparison import CLAIM_COLUMNS, COMPARISON_COLUMNS, GROUP_ROW_COLUMNS, comparison_table
from citysim.analysis.stats import EXCEEDED, FELL_SHORT, REPRODUCED, UNDETERMINED, paired_reduction
from conftest import SMALL_OPS_SCENARIO_YAML, SMALL_SMART_YAML

REPLICATIONS = 3


def _files(folder: Path) -> tuple[Path, Path]:
    """A (the small scenario with the levers) and B (without), written into `folder`."""
    (folder / "scenario.yaml").write_text(SMALL_OPS_SCENARIO_YAML, encoding="utf-8")
    (folder / "smart.yaml").write_text(SMALL_SMART_YAML, encoding="utf-8")
    return folder / "smart.yaml", folder / "scenario.yaml"


def _compare(a: Path, b: Path, out: Path, *options: str, replications: int = REPLICATIONS) -> int:
    return main(["compare", str(a), str(b), "--replications", str(replications), "--out", str(out), *options])


def _table(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "comparison.csv", dtype={"group": str})


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One default comparison (B slower than A), run once for the module's read-only checks, and its stdout."""
    folder = tmp_path_factory.mktemp("compare")
    a, b = _files(folder)
    out = folder / "out"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert _compare(a, b, out) == EXIT_OK
    return out, printed.getvalue()


def test_an_increase_is_printed_as_an_increase(compared):
    """B's longer arrival is a positive change, 100 (mean B / mean A - 1), printed as 'B longer than A',
    with no claim, verdict or reduction anywhere."""
    out, printed = compared
    table = _table(out)
    assert list(table.columns) == COMPARISON_COLUMNS
    arrival = table[(table["metric"] == "arrival") & (table["group_kind"] == "all")].iloc[0]
    assert arrival["b_mean_min"] > arrival["a_mean_min"]
    assert arrival["change_pct"] == pytest.approx(100 * (arrival["b_mean_min"] / arrival["a_mean_min"] - 1))
    assert 0 < arrival["ci_low_pct"] < arrival["change_pct"] < arrival["ci_high_pct"]
    line = next(text for text in printed.splitlines() if text.strip().startswith("arrival "))
    assert f"{arrival['change_pct']:+.1f} %" in line and "B longer than A" in line
    assert "A = small-smart" in printed and "B = small-test" in printed
    for word in ("verdict", "reduction", "fell short", "smart (min)", "baseline"):
        assert word not in printed


def test_the_default_metrics_and_groups(compared):
    """The default metrics, each with an overall row, a row per priority class and per district; steps.csv
    in A/B words, its shares adding up."""
    out, _ = compared
    table = _table(out)
    assert list(dict.fromkeys(table["metric"])) == list(COMPARE_DEFAULTS)
    for _metric, rows in table.groupby("metric"):
        assert list(dict.fromkeys(rows["group_kind"])) == ["all", "priority", "district"]
        assert set(rows.loc[rows["group_kind"] == "priority", "group"]) == {"1", "3"}
        assert set(rows.loc[rows["group_kind"] == "district", "group"]) == {"North", "South"}
    assert (table.loc[table["group_kind"] == "all", "pairs"] == REPLICATIONS).all()
    steps = pd.read_csv(out / "steps.csv")
    assert list(steps["step"]) == list(STEPS) and {"a_min", "b_min"} <= set(steps.columns)
    assert steps["share_of_arrival_change"].iloc[:5].sum() == pytest.approx(1.0)
    assert steps["share_of_call_to_closed_change"].sum() == pytest.approx(1.0)


def test_district_and_priority_counts_add_up_to_the_total(compared):
    """Each incident has one district and one priority class: per metric and configuration, the districts'
    (and the classes') incident counts add up to the overall count."""
    out, _ = compared
    table = _table(out)
    for _metric, rows in table.groupby("metric"):
        overall = rows[rows["group_kind"] == "all"].iloc[0]
        assert overall["a_incidents"] > 0 and overall["b_incidents"] > 0
        for kind in ("district", "priority"):
            part = rows[rows["group_kind"] == kind]
            assert part["a_incidents"].sum() == overall["a_incidents"]
            assert part["b_incidents"].sum() == overall["b_incidents"]


def test_the_report_answers_first_and_is_self_contained(compared):
    """report.md and report.html exist; the HTML embeds its figures and refers to nothing outside; its first
    paragraph is the answer (the arrival change with its interval); `citysim plot` redraws both."""
    out, _ = compared
    table = _table(out)
    html = (out / "report.html").read_text(encoding="utf-8")
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert {p.name for p in (out / "figures").glob("*.png")} == {"change-by-metric.png", "change-by-district.png"}
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.IGNORECASE)
    assert html.count('src="data:image/png;base64,') == 2
    arrival = table[(table["metric"] == "arrival") & (table["group_kind"] == "all")].iloc[0]
    first = re.search(r"<p>(.*?)</p>", html, re.DOTALL)
    assert first is not None and f"{arrival['change_pct']:+.1f} %" in first.group(1)
    assert f"{arrival['ci_low_pct']:+.1f} % to {arrival['ci_high_pct']:+.1f} %" in first.group(1)
    assert markdown.index("arrival") < markdown.index("## All incidents") < markdown.index("## By the incident's")
    (out / "report.html").unlink()
    assert main(["plot", str(out)]) == EXIT_OK
    assert (out / "report.html").read_text(encoding="utf-8") == html


def test_html_escapes_the_scenario_names(tmp_path):
    """A scenario name with markup is shown as text in the HTML report, never as markup."""
    a, b = _files(tmp_path)
    b.write_text(SMALL_OPS_SCENARIO_YAML.replace("name: small-test", 'name: "<b>slow</b> & co"'), encoding="utf-8")
    out = tmp_path / "out"
    assert _compare(a, b, out, replications=2) == EXIT_OK
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<b>slow</b>" not in html and "&lt;b&gt;slow&lt;/b&gt; &amp; co" in html


def test_metric_selects_the_metrics(tmp_path):
    """--metric (repeatable) compares those metrics only, in the order given, each once."""
    a, b = _files(tmp_path)
    out = tmp_path / "out"
    assert _compare(a, b, out, "--metric", "arrival_from_dispatch", "--metric", "handling", "--metric",
                    "arrival_from_dispatch", replications=2) == EXIT_OK
    assert list(dict.fromkeys(_table(out)["metric"])) == ["arrival_from_dispatch", "handling"]


def test_an_unknown_metric_is_refused_listing_the_known_ones(tmp_path, capsys):
    """An unknown --metric is exit 2 before any run: one paragraph naming the option and every known name."""
    a, b = _files(tmp_path)
    out = tmp_path / "never"
    assert _compare(a, b, out, "--metric", "speed") == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "--metric" in err and "'speed'" in err and "Traceback" not in err and err.count("\n") == 1
    assert all(name in err for name in METRICS)
    assert not out.exists()


def test_a_registered_name_keeps_its_clock():
    """An experiment's metric may not give a registered name another clock (the two would mean different
    things in two results folders); the registered clock itself is accepted."""
    with pytest.raises(ValueError, match="'arrival' is the clock t_call -> t_arrive"):
        Metric(name="arrival", start="t_occur", end="t_arrive", claimed_reduction_pct=20)
    assert Metric(name="arrival", start="t_call", end="t_arrive", claimed_reduction_pct=30).claimed_reduction_pct == 30


def test_claims_adds_the_claimed_cut_and_the_verdict(tmp_path, capsys):
    """--claims adds claimed_pct (the registry's) and the claim check's verdict on the reduction (minus the
    change): an increase falls short of a claimed cut."""
    a, b = _files(tmp_path)
    out = tmp_path / "out"
    assert _compare(a, b, out, "--claims") == EXIT_OK
    table = _table(out)
    assert list(table.columns) == COMPARISON_COLUMNS + CLAIM_COLUMNS
    assert (table["claimed_pct"] == table["metric"].map(lambda m: METRICS[m].claimed_reduction_pct)).all()
    assert set(table["verdict"]) <= {REPRODUCED, EXCEEDED, FELL_SHORT, UNDETERMINED}
    arrival = table[(table["metric"] == "arrival") & (table["group_kind"] == "all")].iloc[0]
    assert arrival["ci_low_pct"] > 0 and arrival["verdict"] == FELL_SHORT
    assert "verdict" in capsys.readouterr().out
    assert "verdict" in (out / "report.md").read_text(encoding="utf-8")


def test_one_pair_has_no_interval(tmp_path, capsys):
    """With one replication every change has no interval, its words say so, and a verdict is undetermined."""
    a, b = _files(tmp_path)
    out = tmp_path / "out"
    assert _compare(a, b, out, "--claims", replications=1) == EXIT_OK
    table = _table(out)
    assert table["ci_low_pct"].isna().all() and (table["pairs"] == 1).all()
    assert (table["verdict"] == UNDETERMINED).all()
    assert "(one pair: no interval)" in capsys.readouterr().out


def test_same_seed_gives_identical_tables(tmp_path):
    """The same files and seed twice give byte-identical comparison.csv and steps.csv; the manifest records
    both files, the seed and the metrics."""
    a, b = _files(tmp_path)
    first, second = tmp_path / "first", tmp_path / "second"
    for out in (first, second):
        assert _compare(a, b, out, "--seed", "7", replications=2) == EXIT_OK
    for name in ("comparison.csv", "steps.csv"):
        assert (first / name).read_bytes() == (second / name).read_bytes()
    manifest = json.loads((first / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["command"] == "compare" and manifest["seed"] == 7 and manifest["replications"] == 2
    assert manifest["a"]["scenario"] == "small-smart" and manifest["b"]["scenario"] == "small-test"
    assert manifest["metrics"] == list(COMPARE_DEFAULTS)
    assert {Path(name).name for name in manifest["input_sha256"]} >= {"scenario.yaml", "smart.yaml"}


def test_the_change_is_minus_the_paired_reduction():
    """comparison_table's change and interval are the claim check's paired reduction negated (the same
    statistics), and a replication missing in one configuration is dropped from the pairs."""
    rng = np.random.default_rng(3)
    a = rng.normal(20.0, 2.0, 6)
    b = 1.3 * a + rng.normal(0.0, 0.5, 6)
    b[5] = math.nan
    rows = [(config, k, "arrival", "all", "all", float(values[k]), 10) for config, values in (("A", a), ("B", b))
            for k in range(6)]
    row = comparison_table(pd.DataFrame(rows, columns=GROUP_ROW_COLUMNS), 0.95).iloc[0]
    reduction = paired_reduction(a, b, 0.95)
    assert row["change_pct"] == pytest.approx(-reduction.reduction_pct)
    assert (row["ci_low_pct"], row["ci_high_pct"]) == pytest.approx((-reduction.ci_high_pct, -reduction.ci_low_pct))
    assert row["pairs"] == 5 and row["a_incidents"] == 60 and row["b_incidents"] == 60
