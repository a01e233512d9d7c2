"""The `citysim` command: parses arguments, calls the API, prints. Bad input exits 2, never a traceback."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from citysim.errors import InputError

EXIT_OK, EXIT_BAD_INPUT, EXIT_RUNS_FAILED, EXIT_INTERRUPTED = 0, 2, 3, 130

#: The KPIs the `run` command prints (priority "all").
HEADLINE_KPIS = [
    "calls_per_day", "dispatched_per_day", "arrival_min_mean", "arrival_min_median", "arrival_min_p90",
    "handling_min_mean", "call_to_clear_min_mean", "answer_wait_min_mean", "dispatch_wait_min_mean",
    "unit_utilisation", "call_taker_utilisation", "cross_district_share", "open_at_end",
    "expressway_kmh_am_peak", "travel_time_index_peak_hour", "crashes_per_day", "crash_blockage_min_mean",
]


def _whole_number(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least `minimum`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number of at least {minimum}, got {value}")
        return value

    return parse


_positive_int = _whole_number(1)
_seed = _whole_number(0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="citysim", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    validate = commands.add_parser("validate", help="check scenario files and report every problem")
    validate.add_argument("files", nargs="+", type=Path)

    run = commands.add_parser("run", help="simulate a scenario and write its logs and KPI summary")
    run.add_argument("scenario", type=Path)
    run.add_argument("--replications", type=_positive_int, default=1, help="independent replications (default 1)")
    run.add_argument("--seed", type=_seed, default=None, help="root seed (default: the scenario's run.seed)")
    run.add_argument("--out", type=Path, default=None, help="results folder (default: results/<scenario name>)")

    compare = commands.add_parser("compare", help="paired comparison of two scenarios (common random numbers)")
    compare.add_argument("baseline", type=Path)
    compare.add_argument("smart", type=Path)
    compare.add_argument("--replications", type=_positive_int, default=5)
    compare.add_argument("--seed", type=_seed, default=None, help="root seed (default: the baseline's run.seed)")
    compare.add_argument("--out", type=Path, default=None, help="results folder (default: results/compare)")

    experiment = commands.add_parser("experiment", help="run an experiment file (the claim check)")
    experiment.add_argument("experiment", type=Path)
    experiment.add_argument("--out", type=Path, default=None, help="results folder (default: results/<name>)")
    experiment.add_argument("--workers", type=_positive_int, default=os.cpu_count() or 1,
                            help="worker processes, default all cores; results are identical "
                                 "for any number")
    experiment.add_argument("--executor", choices=["local", "dask"], default="local",
                            help="local: this machine's processes (--workers); dask: a Dask "
                                 "LocalCluster of --workers processes, or the cluster at --scheduler")
    experiment.add_argument("--scheduler", default=None, metavar="ADDRESS",
                            help="a running Dask scheduler, e.g. tcp://host:8786")
    experiment.add_argument("--resume", action="store_true",
                            help="(claim check) keep the runs an interrupted experiment finished in --out")
    experiment.add_argument("--update-readme", type=Path, default=None, metavar="README",
                            help="(claim check) replace the README's claims block with the new table")

    plot = commands.add_parser("plot", help="redraw every chart (and the reports) of a results folder from its tables")
    plot.add_argument("folder", type=Path)
    plot.add_argument("--include", type=Path, nargs="*", default=[], metavar="DIR",
                      help="attribution / sensitivity results folders whose charts and findings to add")

    errors = commands.add_parser("errors", help="write the catalogue of input errors (docs/errors.md)")
    errors.add_argument("--out", type=Path, default=None, help="write the Markdown page here (default: print)")

    levers = commands.add_parser("levers", help="list the smart levers with their defaults, ranges and sources")
    levers.add_argument("--out", type=Path, default=None, help="write the Markdown page here (default: print)")

    calibrate = commands.add_parser("calibrate", help="compare a scenario's outputs with the calibration targets")
    calibrate.add_argument("scenario", type=Path)
    calibrate.add_argument("--replications", type=_positive_int, default=10)
    calibrate.add_argument("--seed", type=_seed, default=None)
    calibrate.add_argument("--out", type=Path, default=None, help="write the Markdown page here (default: print)")
    return parser


def _validate(files: list[Path]) -> int:
    """Check scenario and experiment files (an experiment file has a `kind`), and what they refer to."""
    from citysim.city.loading import validate_document
    from citysim.config import load_document
    from citysim.config.experiment import load_experiment, referenced_scenarios

    failed = 0
    for file in files:
        try:
            document = load_document(file)
            if "kind" in document.data:
                experiment, _ = load_experiment(file)
                for scenario in referenced_scenarios(experiment, file):
                    validate_document(load_document(scenario), scenario)
                print(f"{file}: ok (experiment '{experiment.name}', {experiment.kind})")
            else:
                valid = validate_document(document, file)
                _warn(valid)
                print(f"{file}: ok (scenario '{valid.name}')")
        except InputError as exc:
            print(exc, file=sys.stderr)
            failed += 1
    return EXIT_BAD_INPUT if failed else EXIT_OK


def _warn(scenario: Any) -> None:
    """Print the scenario's load warnings (it can still run)."""
    from citysim.analysis.load_warnings import load_warnings

    for warning in load_warnings(scenario):
        print(warning, file=sys.stderr)


def _run(scenario_path: Path, replications: int, seed: int | None, out: Path | None) -> int:
    from citysim.city.loading import validate_document
    from citysim.config import dump_scenario, load_document
    from citysim.output.files import prepare_output_folder, write_csv, write_json, write_parquet, write_text
    from citysim.output.manifest import build_manifest, utc_now
    from citysim.simulation.kpis import traffic_by_hour
    from citysim.simulation.replications import simulate

    started = utc_now()
    document = load_document(scenario_path)
    scenario = validate_document(document, scenario_path)
    _warn(scenario)
    out = out if out is not None else Path("results") / scenario.name
    prepare_output_folder(out)
    result = simulate(scenario, replications=replications, seed=seed)

    write_parquet(result.logs.incidents, out / "incidents.parquet")
    write_parquet(result.logs.units, out / "units.parquet")
    write_parquet(result.logs.duty, out / "duty.parquet")
    write_parquet(result.logs.traffic, out / "traffic.parquet")
    write_parquet(result.logs.crashes, out / "crashes.parquet")
    write_csv(traffic_by_hour(result.logs.traffic, scenario.run.warmup_min), out / "traffic_by_hour.csv")
    write_csv(result.kpis, out / "kpis.csv")
    write_csv(result.summary, out / "summary.csv")
    write_text(dump_scenario(scenario), out / "scenario.resolved.yaml")
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
            resolved_scenario="scenario.resolved.yaml",
        ),
        out / "manifest.json",
    )
    _print_summary(result.summary, scenario.name, result.replications, result.seed, out)
    return EXIT_OK


def _compare(baseline_path: Path, smart_path: Path, replications: int, seed: int | None, out: Path | None) -> int:
    from citysim.city.loading import validate_document
    from citysim.config import load_document
    from citysim.experiment.compare import compare_scenarios
    from citysim.output.files import prepare_output_folder, write_csv, write_json
    from citysim.output.manifest import build_manifest, utc_now

    started = utc_now()
    documents = [load_document(p) for p in (baseline_path, smart_path)]
    baseline, smart = (validate_document(d, p) for d, p in zip(documents, (baseline_path, smart_path), strict=True))
    out = out if out is not None else Path("results") / "compare"
    prepare_output_folder(out)
    root_seed = baseline.run.seed if seed is None else seed
    table = compare_scenarios(baseline, smart, replications, root_seed)
    write_csv(table, out / "comparison.csv")
    inputs = {**documents[0].file_hashes(), **documents[1].file_hashes()}
    write_json(build_manifest(command="compare", inputs=inputs, started=started, baseline=baseline.name,
                              smart=smart.name, seed=root_seed, replications=replications), out / "manifest.json")
    _print_table(table[table["priority"] == "all"], f"{baseline.name} -> {smart.name}, {replications} paired "
                 f"replications, seed {root_seed}; results in {out}")
    return EXIT_OK


def _experiment(path: Path, out: Path | None, readme: Path | None = None, workers: int = 1,
                resume: bool = False, scheduler: str | None = None, dask: bool = False) -> int:
    from citysim.config.experiment import Experiment, Sensitivity, load_experiment
    from citysim.output.files import prepare_output_folder
    from citysim.output.manifest import utc_now

    started = utc_now()
    experiment, document = load_experiment(path)
    out = out if out is not None else Path("results") / experiment.name
    prepare_output_folder(out)
    if isinstance(experiment, Experiment):
        if dask:
            with _dask_executor(workers, scheduler) as executor:
                return _claim_check(experiment, document, path, out, started, readme, workers, resume, executor)
        return _claim_check(experiment, document, path, out, started, readme, workers, resume)
    with ExitStack() as stack:  # attribution and sensitivity run their replications in parallel
        executor = stack.enter_context(_dask_executor(workers, scheduler)) if dask else (
            stack.enter_context(ProcessPoolExecutor(max_workers=workers)) if workers > 1 else None)
        if isinstance(experiment, Sensitivity):
            return _sensitivity(experiment, document, path, out, started, executor)
        return _attribution(experiment, document, path, out, started, executor)


@contextmanager
def _dask_executor(workers: int, scheduler: str | None) -> Iterator[Any]:
    """A concurrent.futures executor on a Dask cluster: the one at `scheduler`, or a LocalCluster."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError(None, "the Dask executor needs the optional extra: pip install 'citysim[dask]'.") from None
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as exc:
            raise InputError(None, f"cannot reach the Dask scheduler at {scheduler} ({exc}).") from None
        with client:
            yield client.get_executor()
        return
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client.get_executor()


def _claim_check(experiment: Any, document: Any, path: Path, out: Path, started: str, readme: Path | None,
                 workers: int, resume: bool, executor: Any = None) -> int:
    from citysim.config import dump_scenario
    from citysim.config.experiment import input_hashes
    from citysim.experiment.claim_check import run_claim_check
    from citysim.output.figures import slug
    from citysim.output.files import write_csv, write_json, write_text
    from citysim.output.manifest import build_manifest
    from citysim.output.report import write_reports

    if readme is not None:
        from citysim.output.report import README_END, README_START

        if not readme.is_file() or README_START not in readme.read_text(encoding="utf-8") \
                or README_END not in readme.read_text(encoding="utf-8"):
            raise InputError(readme, f"expected a file with a {README_START} ... {README_END} block to update.")
    _check_resumable(out, input_hashes(experiment, path, document), resume)
    check = run_claim_check(experiment, path, out, workers, resume, executor=executor)
    write_csv(check.claims, out / "claims.csv")
    if check.failures:
        from citysim.experiment.claim_check import failures_frame

        write_csv(failures_frame(check.failures), out / "failures.csv")
        for failure in check.failures:
            print(f"run failed: situation '{failure.situation}', {failure.config}, replication "
                  f"{failure.replication}, seed {failure.seed}: {failure.error}", file=sys.stderr)
    for pair in check.pairs:
        name = slug(pair.name)  # a file name made only of [a-z0-9-]: a situation's name cannot escape `out`
        write_text(dump_scenario(pair.baseline), out / "scenarios" / f"{name}.baseline.yaml")
        write_text(dump_scenario(pair.smart), out / "scenarios" / f"{name}.smart.yaml")
    replications = check.runs.groupby("situation")["replication"].nunique()
    manifest = build_manifest(
        command=f"citysim experiment {path}", inputs=input_hashes(experiment, path, document), started=started,
        experiment=experiment.name, description=experiment.description, confidence=experiment.confidence,
        seed=experiment.seed, replications={str(k): int(v) for k, v in replications.items()},
        replication_rule=experiment.replications.model_dump(),
        warmup_min={p.name: p.baseline.run.warmup_min for p in check.pairs},
        wall_seconds=round(check.wall_seconds, 1), resolved_scenarios="scenarios/",
    )
    write_reports(out, [], manifest)
    write_json(manifest, out / "manifest.json")  # last: a folder with a manifest is complete
    if readme is not None:
        from citysim.output.report import claims_markdown_table, replace_readme_block

        command = f"citysim experiment {path} --update-readme {readme}"
        try:
            updated = replace_readme_block(readme.read_text(encoding="utf-8"), claims_markdown_table(check.claims),
                                           command)
        except (OSError, ValueError) as exc:
            raise InputError(readme, f"cannot update the claims table: {exc}.") from None
        write_text(updated, readme)
    _print_table(check.claims[check.claims["priority"] == "all"], f"Claim check '{experiment.name}': results in {out}")
    if check.failures:
        print(f"{len(check.failures)} run(s) failed (failures.csv); the claims use the pairs that completed.",
              file=sys.stderr)
        return EXIT_RUNS_FAILED
    return EXIT_OK


def _check_resumable(out: Path, inputs: dict[str, str], resume: bool) -> None:
    """Record the inputs of a claim check; a resume must find the same inputs it was started with."""
    import json

    from citysim.output.files import write_json

    record = out / "inputs.json"
    if resume and record.is_file() and json.loads(record.read_text(encoding="utf-8")) != inputs:
        raise InputError(out, "cannot resume: the experiment or scenario files changed since this folder was "
                         "started (inputs.json differs); run without --resume to start afresh.")
    write_json(inputs, record)


def _attribution(spec: Any, document: Any, path: Path, out: Path, started: str, executor: Any) -> int:
    import pandas as pd

    from citysim.config.experiment import input_hashes
    from citysim.experiment.attribution import run_attribution
    from citysim.output.figures import draw_folder
    from citysim.output.files import write_csv, write_json
    from citysim.output.manifest import build_manifest

    result = run_attribution(spec, path, executor=executor)
    write_csv(result.table, out / "attribution.csv")
    draw_folder(out)
    write_json(build_manifest(command=f"citysim experiment {path}", inputs=input_hashes(spec, path, document),
                              started=started,
                              experiment=spec.name, seed=spec.seed, replications=spec.replications,
                              method=spec.method, coalitions_run=result.coalitions_run,
                              wall_seconds=round(result.wall_seconds, 1)), out / "manifest.json")
    print(f"Attribution '{spec.name}' ({spec.method}, {result.coalitions_run} lever combinations, "
          f"{spec.replications} replications each): results in {out}")
    with pd.option_context("display.float_format", "{:,.2f}".format, "display.width", 160):
        print(result.table.drop(columns=["levers"]).to_string(index=False))
    return EXIT_OK


def _sensitivity(spec: Any, document: Any, path: Path, out: Path, started: str, executor: Any) -> int:
    import pandas as pd

    from citysim.config.experiment import input_hashes
    from citysim.experiment.sensitivity import run_sensitivity
    from citysim.output.figures import draw_folder
    from citysim.output.files import write_csv, write_json
    from citysim.output.manifest import build_manifest

    result = run_sensitivity(spec, path, executor=executor)
    write_csv(result.tornado, out / "sensitivity.csv")
    write_csv(result.search, out / "what_would_it_take.csv")
    draw_folder(out)
    write_json(build_manifest(command=f"citysim experiment {path}", inputs=input_hashes(spec, path, document),
                              started=started,
                              experiment=spec.name, seed=spec.seed, replications=spec.replications,
                              configurations_run=result.configurations_run,
                              wall_seconds=round(result.wall_seconds, 1)), out / "manifest.json")
    print(f"Sensitivity '{spec.name}' ({result.configurations_run} configurations): results in {out}")
    with pd.option_context("display.float_format", "{:,.2f}".format, "display.width", 200,
                           "display.max_colwidth", 200):
        print(result.search.to_string(index=False))
    return EXIT_OK


def _plot(folder: Path, include: list[Path]) -> int:
    from citysim.output.figures import draw_folder
    from citysim.output.report import write_reports

    for path in [folder, *include]:
        if not path.is_dir():
            raise InputError(path, "expected a results folder (written by citysim experiment).")
    if (folder / "claims.csv").is_file() and (folder / "manifest.json").is_file():
        write_reports(folder, include)
        written = sorted((folder / "figures").glob("*.png"))
    else:
        written = draw_folder(folder, include)
    if not written:
        raise InputError(folder, "no chart tables found; expected claims.csv, hourly.csv, districts.csv, "
                         "samples.csv, attribution.csv or sensitivity.csv.")
    print(f"drew {len(written)} charts in {folder / 'figures'}")
    return EXIT_OK


def _levers(out: Path | None) -> int:
    from citysim.config.levers import levers_markdown

    return _emit_page(levers_markdown("citysim levers" + (f" --out {out}" if out else "")), out)


def _emit_page(page: str, out: Path | None) -> int:
    """Print a generated page, or write it to `out`."""
    from citysim.output.files import write_text

    if out is None:
        print(page)
    else:
        write_text(page, out)
        print(f"wrote {out}")
    return EXIT_OK


def _print_table(table: object, title: str) -> None:
    import pandas as pd

    assert isinstance(table, pd.DataFrame)
    print(title)
    with pd.option_context("display.float_format", "{:,.2f}".format, "display.width", 160):
        print(table.drop(columns=["priority"]).to_string(index=False))


def _calibrate(scenario_path: Path, replications: int, seed: int | None, out: Path | None) -> int:
    import platform

    from citysim.analysis.calibration import calibration_markdown
    from citysim.city.loading import load_scenario
    from citysim.output.files import prepare_output_folder
    from citysim.simulation.replications import simulate

    scenario = load_scenario(scenario_path)
    if scenario.network is None or scenario.crashes is None:
        raise InputError(scenario_path, "the calibration compares traffic and crash figures too; expected a "
                         "scenario with network, traffic and crashes blocks (like scenarios/shanghai/baseline.yaml).")
    if out is not None:
        prepare_output_folder(out.parent)
    result = simulate(scenario, replications=replications, seed=seed)
    command = f"citysim calibrate {scenario_path} --replications {replications}" + (
        f" --seed {seed}" if seed is not None else "") + (f" --out {out}" if out is not None else "")
    machine = f"{platform.machine()} ({platform.processor() or 'unknown CPU'}), Python {platform.python_version()}"
    return _emit_page(calibration_markdown(result, command, machine), out)


def _print_summary(summary: object, name: str, replications: int, seed: int, out: Path) -> None:
    import pandas as pd

    assert isinstance(summary, pd.DataFrame)
    table = summary[(summary["priority"] == "all") & summary["kpi"].isin(HEADLINE_KPIS)].set_index("kpi")
    table = table.reindex([k for k in HEADLINE_KPIS if k in table.index])[["mean", "ci_low", "ci_high"]]
    print(f"Scenario '{name}': {replications} replication(s), seed {seed}; results in {out}")
    print("(times in minutes; 95 % t-interval across replications)")
    with pd.option_context("display.float_format", "{:,.3f}".format):
        print(table.to_string())


def _stop_on_sigterm(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # treated like Ctrl-C: stop cleanly, finished work stays on disk


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `citysim` console script."""
    import signal
    import threading

    args = _parser().parse_args(argv)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm) if in_main_thread else None
    try:
        return _dispatch(args)
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _dispatch(args: argparse.Namespace) -> int:
    try:
        if args.command == "validate":
            return _validate(args.files)
        if args.command == "run":
            return _run(args.scenario, args.replications, args.seed, args.out)
        if args.command == "compare":
            return _compare(args.baseline, args.smart, args.replications, args.seed, args.out)
        if args.command == "experiment":
            dask = args.executor == "dask" or args.scheduler is not None
            return _experiment(args.experiment, args.out, args.update_readme, args.workers, args.resume,
                               args.scheduler if dask else None, dask)
        if args.command == "plot":
            return _plot(args.folder, args.include)
        if args.command == "errors":
            from citysim.output.error_catalogue import errors_markdown

            return _emit_page(errors_markdown("citysim errors" + (f" --out {args.out}" if args.out else "")),
                              args.out)
        if args.command == "levers":
            return _levers(args.out)
        if args.command == "calibrate":
            return _calibrate(args.scenario, args.replications, args.seed, args.out)
    except InputError as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("Interrupted: every run already stored is complete, and the folder has no manifest.json yet "
              "(for a claim check, --resume carries on).", file=sys.stderr)
        return EXIT_INTERRUPTED
    raise AssertionError(f"unhandled command {args.command}")  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
