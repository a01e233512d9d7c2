"""The `citysim` command: parses arguments, calls the API, prints. Bad input exits 2, never a traceback."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from citysim.errors import InputError
from citysim.exit_codes import EXIT_BAD_INPUT, EXIT_CODES, EXIT_INTERRUPTED, EXIT_OK, EXIT_RUNS_FAILED
from citysim.progress import Reporter

if TYPE_CHECKING:
    from citysim.experiment.contract import Outcome
    from citysim.experiment.executors import ExecutorKind

__all__ = ["EXIT_BAD_INPUT", "EXIT_CODES", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_RUNS_FAILED", "main"]

_EPILOG = "exit status:\n" + "\n".join(f"  {status.code:<4} {status.meaning}" for status in EXIT_CODES)
_QUIET_HELP = ("no progress on stderr (bars, counts, per-situation lines, estimates); warnings and errors still "
               "show. Accepted before or after the command")

#: What to do after an interrupt, by command (`experiment`, `run` and `calibrate` carry on where they stopped).
_AFTER_INTERRUPT = {
    "validate": "the files not yet reported were not checked; run it again.",
    "run": "every replication that finished is kept in the folder's replications/; the same command with "
           "--resume carries on from them.",
    "compare": "run the command again to write the whole folder.",
    "experiment": "every run already stored is complete, and the folder has no manifest.json yet; the same "
                  "command with --resume carries on from the stored runs (see `citysim experiment --help`).",
    "plot": "some charts may not have been redrawn; run it again.",
    "calibrate": "no page was written; every replication that finished is kept in results/calibrate-<name>/, "
                 "and the same command with --resume carries on from them.",
}

#: The KPIs the `run` command prints (priority "all").
HEADLINE_KPIS = [
    "calls_per_day", "dispatched_per_day", "arrival_min_mean", "arrival_min_median", "arrival_min_p90",
    "handling_min_mean", "call_to_clear_min_mean", "answer_wait_min_mean", "dispatch_wait_min_mean",
    "unit_utilisation", "call_taker_utilisation", "cross_district_share", "open_at_end",
    "expressway_kmh_am_peak", "travel_time_index_peak_hour", "crashes_per_day", "crash_blockage_min_mean",
]


def _whole_number(minimum: int, maximum: int = 10**12) -> Callable[[str], int]:
    """An argparse type: a whole number from `minimum` to `maximum` (beyond it, no count is meant; the
    commands' own limits then explain what a large count would cost)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text[:40]!r}") from None
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"expected a whole number from {minimum:,} to {maximum:,}, got "
                                             f"{text[:40]}")
        return value

    return parse


_positive_int = _whole_number(1)
_seed = _whole_number(0, 2**63 - 1)
#: Worker processes: each holds a whole model, and more than a few per core only adds memory.
_workers = _whole_number(1, 4 * (os.cpu_count() or 1))


#: What `citysim --help` says the tool is for (the module docstring is for developers).
_DESCRIPTION = ("Simulate a city's 110 police service and traffic services (calibrated to Shanghai) and test claims\n"
                "such as 'smart policing cut arrival time by 20 % and handling time by 35 %'. Progress goes to\n"
                "stderr, results to stdout and the --out folder; `citysim COMMAND --help` for each command.")


def _parser() -> argparse.ArgumentParser:
    from citysim.config.metrics import COMPARE_DEFAULTS, METRICS

    parser = argparse.ArgumentParser(prog="citysim", description=_DESCRIPTION, epilog=_EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}",
                        help="print the installed citysim version and exit")
    parser.add_argument("-q", "--quiet", action="store_true", help=_QUIET_HELP)
    commands = parser.add_subparsers(dest="command", required=True)

    validate = commands.add_parser(
        "validate", help="check scenario files and report every problem",
        description="Check scenario, experiment and priors files, and the files they refer to; every problem is\n"
                    "reported, each as one paragraph (exit 2 if any). Load warnings (overload, speeds) go to stderr.")
    validate.add_argument("files", nargs="+", type=Path, metavar="FILE",
                          help="a scenario, experiment (has `kind:`) or priors (has `priors:`) file")

    show = commands.add_parser(
        "show", help="print the resolved scenario (after extends and district_overrides) as YAML",
        description="Print (or write with --out) a scenario as the model reads it: every extends merged, the\n"
                    "district_overrides applied, defaults filled in; the same YAML a results folder keeps.")
    show.add_argument("scenario", type=Path, help="the scenario file (YAML)")
    show.add_argument("--out", type=Path, default=None, help="write the YAML here (default: print)")

    run = commands.add_parser(
        "run", help="simulate a scenario and write its logs and KPI summary",
        description="Simulate a scenario's replications into a results folder (logs as Parquet, kpis.csv,\n"
                    "summary.csv, the resolved scenario, manifest.json last) and print the headline KPIs with\n"
                    "95 % t-intervals.")
    run.add_argument("scenario", type=Path, help="the scenario file (YAML)")
    run.add_argument("--replications", type=_positive_int, default=1, help="independent replications (default 1)")
    run.add_argument("--seed", type=_seed, default=None, help="root seed (default: the scenario's run.seed)")
    run.add_argument("--out", type=Path, default=None, help="results folder (default: results/<scenario name>)")
    run.add_argument("--resume", action="store_true",
                     help="keep the replications an interrupted run of this scenario and seed finished in --out")

    compare = commands.add_parser(
        "compare", help="scenario B against scenario A on paired replications (common random numbers): change %% "
        "with its CI, overall, per priority and per district",
        description="Run replications 0..N-1 of both files on common random numbers and say how B differs from A\n"
                    "in neutral words: the change 100 (mean B / mean A - 1) with a paired 95 % interval, overall,\n"
                    "per priority class and per district (comparison.csv, steps.csv, report.md, report.html,\n"
                    "figures/); claim verdicts only with --claims.")
    compare.add_argument("a", type=Path, metavar="A", help="scenario file A (the reference)")
    compare.add_argument("b", type=Path, metavar="B", help="scenario file B (compared against A)")
    compare.add_argument("--replications", type=_positive_int, default=5, help="paired replications (default 5)")
    compare.add_argument("--seed", type=_seed, default=None, help="root seed (default: A's run.seed)")
    compare.add_argument("--metric", action="append", default=[], metavar="NAME",
                         help="a metric to compare (repeatable; default: " + ", ".join(COMPARE_DEFAULTS) +
                              "); one of: " + ", ".join(METRICS))
    compare.add_argument("--claims", action="store_true",
                         help="add the claimed reduction and the claim check's verdict to each row")
    compare.add_argument("--out", type=Path, default=None, help="results folder (default: results/compare)")

    experiment = commands.add_parser(
        "experiment", help="run an experiment file (claim check, attribution, sensitivity or uncertainty)",
        description="Run an experiment file; its `kind:` decides what runs: claim_check (each situation's baseline\n"
                    "against its smart twin, with verdicts), attribution (Shapley values of lever groups),\n"
                    "sensitivity (tornado and what it would take) or uncertainty (P(claim) under the priors).\n"
                    "Writes the kind's tables, charts and reports into --out, then manifest.json; prints the main\n"
                    "table.")
    experiment.add_argument("experiment", type=Path, help="the experiment file (YAML, with `kind:`)")
    experiment.add_argument("--out", type=Path, default=None, help="results folder (default: results/<name>)")
    experiment.add_argument("--workers", type=_workers, default=os.cpu_count() or 1,
                            help="worker processes, default all cores; results are identical "
                                 "for any number")
    experiment.add_argument("--executor", choices=["local", "dask"], default="local",
                            help="local: this machine's processes (--workers); dask: a Dask "
                                 "LocalCluster of --workers processes, or the cluster at --scheduler")
    experiment.add_argument("--scheduler", default=None, metavar="ADDRESS",
                            help="a running Dask scheduler, e.g. tcp://host:8786")
    experiment.add_argument("--resume", action="store_true",
                            help="keep the runs an interrupted experiment (any kind) stored in --out; run the rest")
    experiment.add_argument("--samples", type=_positive_int, default=None, metavar="N",
                            help="(uncertainty) base samples (sobol) or trajectories (morris), instead of the file's")
    experiment.add_argument("--update-readme", type=Path, default=None, metavar="README",
                            help="(claim check) replace the README's claims block with the new table")

    plot = commands.add_parser(
        "plot", help="redraw every chart (and the reports) of a results folder from its tables",
        description="Redraw every chart of a results folder from its CSV tables alone into figures/, and for a\n"
                    "finished claim check both reports; nothing is simulated.")
    plot.add_argument("folder", type=Path, help="a results folder written by `citysim experiment`")
    plot.add_argument("--include", type=Path, nargs="*", default=[], metavar="DIR",
                      help="attribution / sensitivity results folders whose charts and findings to add")

    errors = commands.add_parser(
        "errors", help="print the catalogue of input errors and exit statuses (docs/errors.md)",
        description="Print (or write with --out) the catalogue of input errors, each with a small bad file, the\n"
                    "message it gives and how to fix it, and the exit statuses; docs/errors.md is this page.")
    errors.add_argument("--out", type=Path, default=None, help="write the Markdown page here (default: print)")

    reference = commands.add_parser(
        "reference", help="write the reference of every input key, log column and the Python API (docs/reference.md)",
        description="Print (or write with --out) every key a scenario, experiment or priors file may hold, with\n"
                    "its type, unit, default and meaning (walked out of the schema), the log columns and the\n"
                    "Python API; docs/reference.md is this page.")
    reference.add_argument("--out", type=Path, default=None, help="write the Markdown page here (default: print)")

    levers = commands.add_parser(
        "levers", help="list the smart levers with their defaults, ranges and sources",
        description="Print (or write with --out) the smart levers: what each changes in the model, its default\n"
                    "strength, sourced range and sources; docs/levers.md is this page with the Shanghai priors.")
    levers.add_argument("--out", type=Path, default=None, help="write the Markdown page here (default: print)")
    levers.add_argument("--priors", type=Path, default=None, metavar="FILE",
                        help="add the distributions of this priors file (the evidence behind the defaults)")

    calibrate = commands.add_parser(
        "calibrate", help="compare a scenario's outputs with the calibration targets",
        description="Simulate a scenario (and the same with idle units at their stations) and compare its outputs\n"
                    "with the published targets, as a Markdown page; the replications are kept in\n"
                    "results/calibrate-<name>/ until the page is written. Needs network, traffic and crashes blocks.")
    calibrate.add_argument("scenario", type=Path, help="the scenario file (YAML)")
    calibrate.add_argument("--replications", type=_positive_int, default=10,
                           help="independent replications of each of the two scenarios (default 10)")
    calibrate.add_argument("--seed", type=_seed, default=None, help="root seed (default: the scenario's run.seed)")
    calibrate.add_argument("--out", type=Path, default=None, help="write the Markdown page here (default: print)")
    calibrate.add_argument("--resume", action="store_true",
                           help="keep the replications an interrupted calibration of this scenario finished")
    for command in commands.choices.values():
        command.epilog, command.formatter_class = _EPILOG, argparse.RawDescriptionHelpFormatter
        # SUPPRESS: without -q after the command, the value given (or not) before it stands.
        command.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help=_QUIET_HELP)
    return parser


def _version() -> str:
    """The installed distribution's version (the package's own where it runs from a source tree)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("citysim")
    except PackageNotFoundError:
        from citysim import __version__

        return __version__


def _validate(files: list[Path]) -> int:
    """Check scenario, experiment and priors files (an experiment file has a `kind`, a priors file a
    `priors` block), and what they refer to."""
    from citysim.city.loading import validate_document
    from citysim.config import load_document
    from citysim.config.experiment import Uncertainty, load_experiment, referenced_scenarios, resolve
    from citysim.config.priors import load_priors

    failed = 0
    for file in files:
        try:
            document = load_document(file)
            if "kind" in document.data:
                experiment, _ = load_experiment(file)
                for scenario in referenced_scenarios(experiment, file):
                    validate_document(load_document(scenario), scenario)
                if isinstance(experiment, Uncertainty):
                    load_priors(resolve(file, experiment.priors))
                print(f"{file}: ok (experiment '{experiment.name}', {experiment.kind})")
            elif "priors" in document.data:
                print(f"{file}: ok (priors, {len(load_priors(file).names)} inputs)")
            else:
                valid = validate_document(document, file)
                _warn(valid, document)
                print(f"{file}: ok (scenario '{valid.name}')")
        except InputError as exc:
            print(exc, file=sys.stderr)
            failed += 1
    return EXIT_BAD_INPUT if failed else EXIT_OK


def _show(scenario_path: Path, out: Path | None) -> int:
    """Print (or write) the scenario as it will run: validated, merged, with a header naming its files."""
    from citysim.city.loading import validate_document
    from citysim.config import load_document
    from citysim.config.loading import resolved_scenario_yaml
    from citysim.output.files import prepare_output_file

    if out is not None:
        prepare_output_file(out)
    document = load_document(scenario_path)
    return _emit_page(resolved_scenario_yaml(validate_document(document, scenario_path), document), out)


def _warn(scenario: Any, document: Any = None) -> None:
    """Print the scenario's load warnings (it can still run); with its merged document, the profile-shape
    warning too."""
    from citysim.analysis.load_warnings import load_warnings

    for warning in load_warnings(scenario, document):
        print(warning, file=sys.stderr)


def _check_size(scenario_path: Path, replications: int, reporter: Reporter) -> None:
    """Refuse a request beyond the limit on replications x simulated days (InputError naming
    --replications) before any work, and announce the computing time of a long one (progress, on stderr)."""
    from citysim.config import load_document, validate_schema
    from citysim.config.limits import ANNOUNCE_SECONDS, check_run_size

    estimate = check_run_size(validate_schema(load_document(scenario_path), scenario_path), replications,
                              scenario_path)
    if estimate.wall_seconds > ANNOUNCE_SECONDS:
        reporter.note(f"Estimate for {scenario_path}: {estimate.describe()}.")


def _run(scenario_path: Path, replications: int, seed: int | None, out: Path | None, resume: bool,
         reporter: Reporter) -> int:
    from citysim.analysis.run_checks import incident_warnings
    from citysim.experiment.scenario_run import write_folder

    _check_size(scenario_path, replications, reporter)
    result, out = write_folder(scenario_path, replications, seed, out, _warn, resume, reporter)
    _print_summary(result.summary, result.scenario.name, result.replications, result.seed, out)
    for warning in incident_warnings(result.logs.incidents, result.scenario.name):
        print(f"Warning: {warning}", file=sys.stderr)
    return EXIT_OK


def _compare(a_path: Path, b_path: Path, replications: int, seed: int | None, out: Path | None,
             metrics: list[str], claims: bool, reporter: Reporter) -> int:
    from citysim.experiment.compare import chosen_metrics, write_folder

    chosen_metrics(metrics)  # an unknown name is refused before any run
    _check_size(a_path, replications, reporter)
    _check_size(b_path, replications, reporter)
    return _print_outcome(write_folder(a_path, b_path, replications, seed, out, metrics, claims, reporter))


def _experiment(path: Path, out: Path | None, readme: Path | None, workers: int, resume: bool,
                executor_kind: ExecutorKind, scheduler: str | None, samples: int | None, reporter: Reporter) -> int:
    from citysim.config.experiment import load_experiment, with_samples
    from citysim.config.limits import ANNOUNCE_SECONDS
    from citysim.experiment.contract import Options
    from citysim.experiment.executors import open_executor
    from citysim.experiment.kinds import KINDS
    from citysim.experiment.size import check_experiment_size
    from citysim.names import slug
    from citysim.output.folder import folder_lock
    from citysim.output.manifest import utc_now

    started = utc_now()
    experiment, document = load_experiment(path)
    if readme is not None and experiment.kind != "claim_check":
        raise InputError(path, f"--update-readme applies to claim checks; this file's kind is {experiment.kind}.",
                         ("kind",))
    if samples is not None:
        experiment = with_samples(experiment, samples, path)
    estimate = check_experiment_size(experiment, path, workers)
    if estimate.work.wall_seconds / workers > ANNOUNCE_SECONDS:
        reporter.note(f"Estimate for {path}: {estimate.describe(workers)}.")
    out = out if out is not None else Path("results") / slug(experiment.name)
    with folder_lock(out, f"citysim experiment {path}"), open_executor(executor_kind, workers, scheduler) as executor:
        options = Options(started, executor, resume, readme, reporter)
        return _print_outcome(KINDS[experiment.kind](experiment, document, path, out, options))


def _print_outcome(outcome: Outcome) -> int:
    """An experiment's title and table on stdout, its warnings on stderr; its exit status."""
    import pandas as pd

    print(outcome.title)
    with pd.option_context("display.float_format", "{:,.2f}".format, "display.width", outcome.width,
                           "display.max_colwidth", 200):
        print(outcome.table.to_string(index=False))
    for warning in outcome.warnings:
        print(warning, file=sys.stderr)
    return outcome.exit_code


def _plot(folder: Path, include: list[Path]) -> int:
    from citysim.output import layout
    from citysim.output.report import redraw_folder

    if folder.is_dir() and not (folder / layout.MANIFEST).is_file():
        print(f"Warning: {folder} has no {layout.MANIFEST}: the command that writes it has not finished (it was "
              "interrupted, failed or is still running), so its tables may be partial; the charts show them as they "
              "are.", file=sys.stderr)
    written = redraw_folder(folder, include)
    print(f"drew {len(written)} charts in {folder / 'figures'}")
    return EXIT_OK


def _levers(out: Path | None, priors: Path | None) -> int:
    from citysim.config.levers import levers_markdown
    from citysim.config.priors import load_priors, priors_markdown
    from citysim.output.files import prepare_output_file

    if out is not None:
        prepare_output_file(out)
    command = "citysim levers" + (f" --priors {priors.as_posix()}" if priors else "") + (f" --out {out}" if out else "")
    page = levers_markdown(command)
    return _emit_page(page + priors_markdown(load_priors(priors), priors.as_posix()) if priors else page, out)


def _reference(out: Path | None) -> int:
    import citysim
    from citysim.output.files import prepare_output_file
    from citysim.output.reference import reference_markdown

    if out is not None:
        prepare_output_file(out)
    api = {name: getattr(citysim, name) for name in citysim.__all__}
    return _emit_page(reference_markdown("citysim reference" + (f" --out {out}" if out else ""), api), out)


def _emit_page(page: str, out: Path | None) -> int:
    """Print a generated page, or write it to `out`."""
    from citysim.output.files import write_text

    if out is None:
        print(page)
    else:
        write_text(page, out)
        print(f"wrote {out}")
    return EXIT_OK


def _calibrate(scenario_path: Path, replications: int, seed: int | None, out: Path | None, resume: bool,
               reporter: Reporter) -> int:
    from functools import partial

    from citysim.analysis.calibration import calibration_page
    from citysim.experiment.replication_store import clear_replications, replication_store
    from citysim.names import slug
    from citysim.output.files import prepare_output_file
    from citysim.output.folder import folder_lock

    _check_size(scenario_path, replications, reporter)
    if out is not None:
        prepare_output_file(out)  # before simulating: a bad --out must not cost the work
    # Each replication is kept as it ends, in a results folder of its own (never beside the page), so an
    # interrupted calibration resumes; the replications go once the page is written.
    parts = Path("results") / f"calibrate-{slug(scenario_path.stem)}"
    with folder_lock(parts, f"citysim calibrate {scenario_path}"):
        stores = partial(replication_store, parts / "replications", resume=resume)
        page = calibration_page(scenario_path, replications, seed, _calibrate_command(
            scenario_path, replications, seed, out), stores, reporter)
        code = _emit_page(page, out)
        clear_replications(parts / "replications")
    return code


def _calibrate_command(scenario_path: Path, replications: int, seed: int | None, out: Path | None) -> str:
    return f"citysim calibrate {scenario_path} --replications {replications}" + (
        f" --seed {seed}" if seed is not None else "") + (f" --out {out}" if out is not None else "")


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
    except BrokenPipeError:
        # The reader went away (`citysim levers | head`): what it read is all it wanted, so no traceback.
        # Later writes (and the interpreter's flush at exit) go to /dev/null instead of failing again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _dispatch(args: argparse.Namespace) -> int:
    reporter = Reporter(quiet=args.quiet)
    try:
        if args.command == "validate":
            return _validate(args.files)
        if args.command == "show":
            return _show(args.scenario, args.out)
        if args.command == "run":
            return _run(args.scenario, args.replications, args.seed, args.out, args.resume, reporter)
        if args.command == "compare":
            return _compare(args.a, args.b, args.replications, args.seed, args.out, args.metric, args.claims,
                            reporter)
        if args.command == "experiment":
            return _experiment(args.experiment, args.out, args.update_readme, args.workers, args.resume,
                               args.executor, args.scheduler, args.samples, reporter)
        if args.command == "plot":
            return _plot(args.folder, args.include)
        if args.command == "errors":
            from citysim.output.error_catalogue import errors_markdown
            from citysim.output.files import prepare_output_file

            if args.out is not None:
                prepare_output_file(args.out)
            return _emit_page(errors_markdown("citysim errors" + (f" --out {args.out}" if args.out else "")),
                              args.out)
        if args.command == "reference":
            return _reference(args.out)
        if args.command == "levers":
            return _levers(args.out, args.priors)
        if args.command == "calibrate":
            return _calibrate(args.scenario, args.replications, args.seed, args.out, args.resume, reporter)
    except InputError as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        advice = _AFTER_INTERRUPT.get(args.command, "run the command again.")
        print(f"Interrupted: {advice}", file=sys.stderr)
        return EXIT_INTERRUPTED
    raise AssertionError(f"unhandled command {args.command}")  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
