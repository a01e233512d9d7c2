"""`citysim run`: one scenario's replications into a results folder (logs, KPIs, summary, manifest).

Each replication is kept in `replications/` as it ends (`replication_store`), so a full disk or an
interrupt loses at most the replication under way and `--resume` carries on from the others; once all
are done the folder's logs are written whole and the parts removed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from citysim.city.loading import validate_document
from citysim.config import Scenario, dump_scenario, load_document
from citysim.config.yaml_loader import LoadedDocument
from citysim.experiment.replication_store import clear_replications, replication_store
from citysim.names import slug
from citysim.output import layout
from citysim.output.files import (
    MIN_FOLDER_BYTES,
    write_csv,
    write_json,
    write_parquet,
    write_text,
)
from citysim.output.folder import folder_lock
from citysim.output.manifest import build_manifest, utc_now
from citysim.progress import QUIET, Reporter
from citysim.simulation.kpis import traffic_by_hour
from citysim.simulation.replications import Simulation, simulate

#: The estimate of what `run` writes, for the free-space check: the logs take about 190 bytes a call (the
#: Shanghai baseline: 36,600 calls in 6.9 MB), rounded up to 256, twice (the parts, then the whole logs),
#: plus the folder's floor for the tables and the manifest.
BYTES_PER_CALL = 256


def needed_bytes(scenario: Scenario, replications: int) -> int:
    """A generous estimate of the bytes `citysim run` writes for `replications` of `scenario`."""
    calls = scenario.demand.expected_calls_per_day * scenario.run.duration_min / 1440
    return int(2 * BYTES_PER_CALL * calls * replications) + MIN_FOLDER_BYTES


def write_folder(scenario_path: Path, replications: int, seed: int | None, out: Path | None,
                 warn: Callable[[Scenario, LoadedDocument], None], resume: bool = False,
                 reporter: Reporter = QUIET) -> tuple[Simulation, Path]:
    """Simulate the file's scenario into `out` (default results/<name>); `warn` sees the scenario (and its
    merged document) first; `resume` reuses the replications an interrupted run of the same scenario and
    seed finished there; `reporter` shows the replications done."""
    started = utc_now()
    document = load_document(scenario_path)
    scenario = validate_document(document, scenario_path)
    warn(scenario, document)
    out = out if out is not None else Path("results") / slug(scenario.name)
    with folder_lock(out, f"citysim run {scenario_path}", needed_bytes(scenario, replications)):
        parts = out / layout.REPLICATION_PARTS
        if not resume:
            clear_replications(parts)  # a stopped earlier run's
        root_seed = scenario.run.seed if seed is None else seed
        store = replication_store(parts, scenario, root_seed, resume)
        with reporter.counter(f"run {scenario.name}", replications, "replication") as progress:
            result = simulate(scenario, replications=replications, seed=root_seed, store=store, progress=progress)
        for name, file in layout.LOG_FILES.items():
            write_parquet(getattr(result.logs, name), out / file)
        clear_replications(parts)
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
