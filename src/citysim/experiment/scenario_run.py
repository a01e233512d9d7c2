"""`citysim run`: one scenario's replications into a results folder (logs, KPIs, summary, manifest)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from citysim.city.loading import validate_document
from citysim.config import Scenario, dump_scenario, load_document
from citysim.names import slug
from citysim.output import layout
from citysim.output.files import prepare_output_folder, write_csv, write_json, write_parquet, write_text
from citysim.output.manifest import build_manifest, utc_now
from citysim.simulation.kpis import traffic_by_hour
from citysim.simulation.replications import Simulation, simulate


def write_folder(scenario_path: Path, replications: int, seed: int | None, out: Path | None,
                 warn: Callable[[Scenario], None]) -> tuple[Simulation, Path]:
    """Simulate the file's scenario into `out` (default results/<name>); `warn` sees the scenario first."""
    started = utc_now()
    document = load_document(scenario_path)
    scenario = validate_document(document, scenario_path)
    warn(scenario)
    out = out if out is not None else Path("results") / slug(scenario.name)
    prepare_output_folder(out)
    result = simulate(scenario, replications=replications, seed=seed)
    for name, file in layout.LOG_FILES.items():
        write_parquet(getattr(result.logs, name), out / file)
    write_csv(traffic_by_hour(result.logs.traffic, scenario.run.warmup_min), out / layout.TRAFFIC_BY_HOUR)
    write_csv(result.kpis, out / layout.KPIS)
    write_csv(result.summary, out / layout.SUMMARY)
    write_text(dump_scenario(scenario), out / layout.RESOLVED_SCENARIO)
    write_json(
        build_manifest(
            command="run",
            inputs=document.file_hashes(),
            started=started,
            scenario=scenario.name,
            seed=result.seed,
            replications=result.replications,
            replication_seeds=[{"replication": k, "seed_sequence": {"entropy": result.seed, "spawn_key": [k]}}
                               for k in range(result.replications)],
            warmup_min=scenario.run.warmup_min,
            duration_min=scenario.run.duration_min,
            wall_seconds=round(result.wall_seconds, 3),
            resolved_scenario=layout.RESOLVED_SCENARIO,
        ),
        out / layout.MANIFEST,
    )
    return result, out
