"""What an experiment folder was made from: the SHA-256 of every input file, taken once when the
experiment is loaded (before any run), recorded in inputs.json and the manifest, checked on `--resume`
and again at the end, so a file edited during a run is named rather than recorded with a hash that was
never simulated.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from citysim.config.experiment import ExperimentSpec, input_hashes
from citysim.config.yaml_loader import LoadedDocument
from citysim.errors import InputError
from citysim.experiment.batch import Failure, failures_frame
from citysim.output import layout
from citysim.output.files import read_stored, write_csv, write_json
from citysim.output.folder import clear_outputs


def begin(experiment: ExperimentSpec, path: Path, document: LoadedDocument, out: Path, resume: bool) -> dict[str, str]:
    """Start (or resume) an experiment folder: the inputs' hashes, checked against the folder's record on a
    resume, then recorded; what an earlier experiment derived there is removed."""
    inputs = input_hashes(experiment, path, document)
    check_resumable(out, inputs, resume)
    clear_outputs(out)
    write_json(inputs, out / layout.INPUTS)
    return inputs


def _recorded(record: Path) -> dict[str, str]:
    if not record.is_file():
        raise InputError(record, "cannot resume: the folder has no inputs.json, so the runs stored in it cannot be "
                         "tied to the inputs they were made from; run without --resume to start afresh.")
    try:
        recorded = json.loads(read_stored(record, 2**24))
    except (OSError, ValueError, RecursionError) as exc:
        raise InputError(record, f"cannot resume: the record of the inputs cannot be read ({exc}); run without "
                         "--resume to start afresh.") from None
    if not isinstance(recorded, dict) or not all(isinstance(v, str) for v in recorded.values()):
        raise InputError(record, "cannot resume: expected a mapping of file -> SHA-256 in the record of the "
                         "inputs; run without --resume to start afresh.")
    return recorded


def check_resumable(out: Path, inputs: dict[str, str], resume: bool) -> None:
    """A resume must find the record of the inputs it was started with, and the same inputs."""
    if not resume:
        return
    record = out / layout.INPUTS
    recorded = _recorded(record)
    changes = [f"{name} changed" for name in inputs if name in recorded and recorded[name] != inputs[name]]
    changes += [f"{name} is new" for name in inputs if name not in recorded]
    changes += [f"{name} is no longer used" for name in recorded if name not in inputs]
    if changes:
        raise InputError(record, f"cannot resume: the inputs differ from those this folder was started with "
                         f"({'; '.join(changes)}); run without --resume to start afresh.")


def _digest_now(name: str) -> str | None:
    try:
        return hashlib.sha256(Path(name).read_bytes()).hexdigest()
    except OSError:
        return None


def edited_during_run(inputs: dict[str, str]) -> list[str]:
    """Warnings naming every input file whose bytes differ now from when the experiment loaded it."""
    return [f"Warning: {name} changed while the experiment ran; the manifest records it as it was when the "
            "experiment loaded it." for name, digest in inputs.items() if _digest_now(name) != digest]


def report_failures(out: Path, failures: list[Failure]) -> list[str]:
    """Write failures.csv (if any run raised) and return one warning per failed run."""
    if not failures:
        return []
    write_csv(failures_frame(failures), out / layout.FAILURES)
    return [f"run failed: situation '{f.situation}', {f.config}, replication {f.replication}, seed {f.seed}: "
            f"{f.error}" for f in failures]
