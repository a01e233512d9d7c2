"""Golden back-tests: today's outputs, compared exactly with the ones stored under tests/golden/.

Determinism tests show that a run repeats itself; these show that it still gives yesterday's answer
after a refactor. Every case writes CSV text (floats in Python's shortest round-trip form, so equal
text means bit-identical numbers) and the test compares it byte for byte.

The logs are compared without their clock-hour columns (`CLOCK_HOUR_COLUMNS`): those are derived from
the times they name, which are compared, and `tests/test_kernel.py` checks the derivation.

The goldens change only on purpose, in a commit whose message says why the numbers change:

    python tests/test_backtest.py            # rewrite tests/golden/ from the current code

Each case runs in a fresh interpreter with numpy's run-time CPU dispatch switched off
(`NPY_DISABLE_CPU_FEATURES`), so that numpy uses its baseline kernels on every x86-64 machine: its
AVX-512 kernels of some functions differ from the AVX2 and baseline ones in the last bit, which made
the goldens of one machine fail on another (seen on 2026-12-02). A run is bit-identical on one machine;
these tests pin the floating-point environment so that they hold on any.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "golden"
sys.path.insert(0, str(Path(__file__).resolve().parent))

import citysim  # noqa: E402
from citysim.config.experiment import registered_metric  # noqa: E402
from citysim.experiment.claim_check import claims_table  # noqa: E402
from citysim.experiment.runs import RUN_COLUMNS, matched_rows, metric_rows  # noqa: E402
from citysim.simulation.logs import CLOCK_HOUR_COLUMNS, RunLogs  # noqa: E402
from conftest import SMALL_SCENARIO_YAML  # noqa: E402

SHANGHAI = REPO_ROOT / "scenarios" / "shanghai"
NETWORK_BLOCKS = Path(__file__).resolve().parent / "data" / "tiny_network.yaml"


def _csv(frame: pd.DataFrame) -> str:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue()


def _log_csv(logs: RunLogs, name: str) -> str:
    """A log as CSV text without its derived clock-hour column."""
    return _csv(getattr(logs, name).drop(columns=[CLOCK_HOUR_COLUMNS[name][0]]))


def _small(network: bool = False) -> citysim.Scenario:
    data = yaml.safe_load(SMALL_SCENARIO_YAML)
    if network:
        data.update(yaml.safe_load(NETWORK_BLOCKS.read_text(encoding="utf-8")))
        data["name"] = "small-network-test"
    return citysim.Scenario.model_validate(data)


def small_logs() -> dict[str, str]:
    """The small scenario (straight-line travel): incident and unit logs of 2 replications."""
    logs = citysim.simulate(_small(), replications=2).logs
    return {"small_incidents.csv": _log_csv(logs, "incidents"), "small_units.csv": _log_csv(logs, "units")}


def small_network_logs() -> dict[str, str]:
    """The small scenario on the tiny road network: all five logs of 2 replications."""
    logs = citysim.simulate(_small(network=True), replications=2).logs
    return {f"small_network_{name}.csv": _log_csv(logs, name)
            for name in ("incidents", "units", "duty", "traffic", "crashes")}


def mmc_summary() -> dict[str, str]:
    """The M/M/c verification scenario: KPI summary over 3 replications."""
    result = citysim.simulate(citysim.load_scenario(REPO_ROOT / "scenarios" / "verification" / "mmc.yaml"), 3)
    return {"mmc_summary.csv": _csv(result.summary)}


#: The metrics of the Shanghai claims golden (the old `citysim compare` defaults).
GOLDEN_METRICS = ("arrival", "handling", "handling_call_to_clear", "handling_call_to_closed")


def _pair_claims(baseline: pd.DataFrame, smart: pd.DataFrame) -> pd.DataFrame:
    """The claims table (claim check's statistics, by priority, matched incidents) of one replication pair."""
    metrics = [registered_metric(name) for name in GOLDEN_METRICS]
    rows = [("comparison", config, 0, *row) for config, incidents in (("baseline", baseline), ("smart", smart))
            for row in metric_rows(incidents, metrics, by_priority=True)]
    rows += [("comparison", config, 0, metric, "all", value, n)
             for config, metric, value, n in matched_rows(baseline, smart, metrics)]
    return claims_table(pd.DataFrame(rows, columns=RUN_COLUMNS), metrics, 0.95)


def shanghai() -> dict[str, str]:
    """One Shanghai replication: the baseline's KPIs, the claim rows of smart against it, and digests
    of the full baseline and smart logs (too large to store, exact all the same)."""
    baseline = citysim.load_scenario(SHANGHAI / "baseline.yaml")
    smart = citysim.load_scenario(SHANGHAI / "smart.yaml")
    base_run = citysim.simulate(baseline, replications=1)
    smart_run = citysim.simulate(smart, replications=1)
    digests = []
    for config, run in (("baseline", base_run), ("smart", smart_run)):
        for name in ("incidents", "units", "duty", "traffic", "crashes"):
            text = _log_csv(run.logs, name)
            digests.append({"config": config, "log": name, "rows": len(getattr(run.logs, name)),
                            "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()})
    # The claim check's table of this one pair (replication 0, the baseline's seed, which smart inherits).
    assert smart.run.seed == baseline.run.seed
    claims = _pair_claims(base_run.logs.incidents, smart_run.logs.incidents)
    return {"shanghai_kpis.csv": _csv(base_run.kpis), "shanghai_claims.csv": _csv(claims),
            "shanghai_log_digests.csv": _csv(pd.DataFrame(digests))}


CASES: dict[str, Callable[[], dict[str, str]]] = {
    "small": small_logs, "small_network": small_network_logs, "mmc": mmc_summary, "shanghai": shanghai,
}


def _first_difference(expected: str, actual: str) -> str:
    for number, (want, got) in enumerate(zip(expected.splitlines(), actual.splitlines(), strict=False), start=1):
        if want != got:
            return f"line {number}:\n  golden:  {want[:300]}\n  current: {got[:300]}"
    return f"line counts differ: golden {expected.count(chr(10))}, current {actual.count(chr(10))}"


def _pinned_environment() -> dict[str, str]:
    """This process's environment with every CPU feature numpy would dispatch to beyond its baseline off."""
    from numpy._core._multiarray_umath import __cpu_dispatch__

    return {**os.environ, "NPY_DISABLE_CPU_FEATURES": " ".join(__cpu_dispatch__)}


def pinned_outputs(case: str) -> dict[str, str]:
    """The case's outputs, computed in a fresh interpreter on numpy's baseline kernels."""
    done = subprocess.run([sys.executable, __file__, "--case", case], env=_pinned_environment(), capture_output=True,
                          text=True, check=False, timeout=600)
    assert done.returncode == 0, f"the {case} case failed:\n{done.stderr[-3000:]}"
    outputs: dict[str, str] = json.loads(done.stdout)
    return outputs


@pytest.mark.parametrize("case", list(CASES))
def test_outputs_match_the_goldens(case: str) -> None:
    """The case's outputs are byte-identical to the stored goldens."""
    outputs = pinned_outputs(case)
    for name, text in outputs.items():
        path = GOLDEN / name
        assert path.is_file(), f"no golden {path}; run python tests/test_backtest.py"
        expected = path.read_text(encoding="utf-8")
        assert text == expected, f"{name} differs from its golden at {_first_difference(expected, text)}"


def regenerate() -> None:
    """Rewrite every golden file from the current code."""
    GOLDEN.mkdir(exist_ok=True)
    for case in CASES:
        for name, text in pinned_outputs(case).items():
            (GOLDEN / name).write_text(text, encoding="utf-8")
            print(f"{case}: wrote {GOLDEN / name} ({text.count(chr(10))} lines)")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--case"]:
        print(json.dumps(CASES[sys.argv[2]]()))
    else:
        regenerate()
