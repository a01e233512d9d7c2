"""Attribution benchmark: the quick attribution of docs/howto/quick-attribution.md (3 lever groups, exact,
1 replication, the weekday evening window: 8 runs) on 1 and on 2 local workers, each in a fresh process,
alternating, median of --rounds. Its lever combinations are handed to the workers as one batch, so 2
workers should take about half the time of 1 (before, with 1 replication, 2 workers took as long as 1).

The experiment files are read from the how-to page itself, so the benchmark runs what the page shows.
Run: python benchmarks/bench_attribution.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
from pathlib import Path

from citysim.machine import machine_line

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_parallel import run_experiment  # noqa: E402

PAGE = ROOT / "docs" / "howto" / "quick-attribution.md"


def write_page_files(folder: Path) -> Path:
    """The page's YAML files written under `folder`, with paths to the repository's scenarios; the
    attribution file's path."""
    page = PAGE.read_text(encoding="utf-8")
    for name, text in re.findall(r"<!-- file: (\S+) -->\n```yaml\n(.*?)```", page, flags=re.S):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.replace("../scenarios/", f"{ROOT / 'scenarios'}/"), encoding="utf-8")
    return folder / "whatif" / "quick_attribution.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"quick attribution (8 runs of 12 simulated hours), median of {args.rounds}; {machine_line()}")
    seconds: dict[str, list[float]] = {"1": [], "2": []}
    with tempfile.TemporaryDirectory() as tmp:
        path = write_page_files(Path(tmp))
        for round_ in range(args.rounds):
            for workers in seconds:
                out = Path(tmp) / f"out-{workers}-{round_}"
                seconds[workers].append(run_experiment(path, out, "--workers", workers, "-q")[0])
        tables = {w: (Path(tmp) / f"out-{w}-0" / "attribution.csv").read_bytes() for w in seconds}
    medians = {w: statistics.median(values) for w, values in seconds.items()}
    for workers, value in medians.items():
        print(f"{workers} worker(s): {value:6.1f} s  (runs: {', '.join(f'{v:.1f}' for v in seconds[workers])})")
    print(f"speed-up on 2 workers: {medians['1'] / medians['2']:.2f}x; attribution.csv identical: "
          f"{tables['1'] == tables['2']}")


if __name__ == "__main__":
    main()
