"""Golden back-tests: today's outputs, compared exactly with the ones stored under tests/golden/.

Determinism tests show that a run repeats itself; these show that it still gives yesterday's answer
after a refactor. Every case writes CSV text (floats in Python's shortest round-trip form, so equal
text means bit-identical numbers) and the test compares it byte for byte.

The logs are compared without their clock-hour columns (`CLOCK_HOUR_COLUMNS`): those are derived from
the times they name, which are compared, and `tests/test_kernel.py` checks the derivation.

The goldens change only on purpose, in a commit whose message says why the numbers change:

    python tests/test_backtest.py            # rewrite tests/golden/ from the current code
"""

from __future__ import annotations

import hashlib
import io
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
from citysim.experiment.compare import compare_incidents  # noqa: E402
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
    # The same pair `citysim compare` would run (replication 0, the baseline's seed, which smart inherits).
    assert smart.run.seed == baseline.run.seed
    claims, _steps = compare_incidents([(base_run.logs.incidents, smart_run.logs.incidents)])
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


@pytest.mark.parametrize("case", list(CASES))
def test_outputs_match_the_goldens(case: str) -> None:
    """The case's outputs are byte-identical to the stored goldens."""
    outputs = CASES[case]()
    for name, text in outputs.items():
        path = GOLDEN / name
        assert path.is_file(), f"no golden {path}; run python tests/test_backtest.py"
        expected = path.read_text(encoding="utf-8")
        assert text == expected, f"{name} differs from its golden at {_first_difference(expected, text)}"


def regenerate() -> None:
    """Rewrite every golden file from the current code."""
    GOLDEN.mkdir(exist_ok=True)
    for case, make in CASES.items():
        for name, text in make().items():
            (GOLDEN / name).write_text(text, encoding="utf-8")
            print(f"{case}: wrote {GOLDEN / name} ({text.count(chr(10))} lines)")


if __name__ == "__main__":
    regenerate()
