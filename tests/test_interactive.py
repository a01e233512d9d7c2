"""The report's interactive view on hand-made tables: the data the script gets, its escaping and the page's
script policy (the page in a browser: tests/test_browser.py)."""

from __future__ import annotations

import base64
import hashlib
import json
import math

import numpy as np
import pandas as pd
from scipy import stats

from citysim.output import interactive

HOSTILE = "</script><script>alert(1)</script> & <b>"


def _claims(situation: str = "weekday") -> pd.DataFrame:
    rows = []
    for metric, claimed, value in (("arrival", 20.0, 30.0), ("handling", 35.0, 20.0)):
        rows.append({"scenario": situation, "metric": metric, "priority": "all", "baseline_mean_min": 10.0,
                     "smart_mean_min": 10.0 * (1 - value / 100), "reduction_pct": value, "ci_low_pct": value - 2,
                     "ci_high_pct": value + 2, "claimed_pct": claimed,
                     "verdict": "exceeded" if value > claimed else "fell short", "replications": 3})
    return pd.DataFrame(rows)


def test_json_for_html_cannot_close_its_script_block_and_reads_back_the_same():
    """A name holding </script>, & and <b> comes out without <, > or &, and JSON.parse-able to the same text."""
    data = {"claims": [{"situation": HOSTILE}]}
    text = interactive.json_for_html(data)
    assert not {"<", ">", "&"} & set(text)
    assert json.loads(text) == data


def test_missing_intervals_are_null_in_the_data_and_n_a_on_the_page():
    """A NaN interval (one pair) becomes JSON null, which JSON.parse accepts, and is shown as n/a."""
    claims = _claims().assign(ci_low_pct=math.nan, ci_high_pct=math.nan)
    row = interactive.view_data(claims, None, None)["claims"][0]
    assert row["ci_low"] is None and row["shown"]["ci"] == "n/a to n/a"
    assert row["shown"]["baseline"] == f"{claims['baseline_mean_min'].iloc[0]:.2f}"


def test_district_rows_pair_the_replications_and_take_the_ratio_of_means():
    """Only replications with both configurations count; the reduction is 1 - mean(smart) / mean(baseline),
    with the claims' paired interval."""
    districts = pd.DataFrame({
        "situation": "weekday", "district": "North", "config": ["baseline", "smart"] * 3,
        "replication": [0, 0, 1, 1, 2, 2], "arrival_min": [10.0, 8.0, 12.0, 9.0, 11.0, math.nan],
        "incidents": [40, 40, 50, 50, 60, 60]})
    (row,) = interactive.district_rows(districts)
    assert row["baseline"] == 11.0 and row["smart"] == 8.5
    assert row["shown"]["reduction"] == f"{100 * (1 - 8.5 / 11.0):.1f} %"
    assert row["shown"]["pairs"] == "2" and row["shown"]["incidents"] == "45"
    # The paired delta-method interval, worked by hand: d_k = s_k - R b_k, SE(R) = sd(d) / (sqrt(n) mean(b)).
    ratio = 8.5 / 11.0
    d = np.array([8.0, 9.0]) - ratio * np.array([10.0, 12.0])
    half = 100 * stats.t.ppf(0.975, 1) * d.std(ddof=1) / (np.sqrt(2) * 11.0)
    low, high = 100 * (1 - ratio) - half, 100 * (1 - ratio) + half
    assert row["shown"]["ci"] == f"{low:.1f} % to {high:.1f} %"


def test_the_page_policy_admits_exactly_the_embedded_script():
    """The CSP hash is the hash of the <script> the section embeds, so the view runs and nothing else does."""
    section = interactive.explore_section(_claims(HOSTILE), None, None)
    assert "</script" not in interactive.SCRIPT and HOSTILE not in section
    embedded = section.split("<script>", 1)[1].split("</script>", 1)[0]
    digest = base64.b64encode(hashlib.sha256(embedded.encode("utf-8")).digest()).decode("ascii")
    policy = interactive.content_security_policy()
    assert f"script-src 'sha256-{digest}'" in policy and "default-src 'none'" in policy
