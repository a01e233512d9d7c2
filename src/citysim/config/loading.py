"""Load scenario files into validated `Scenario` objects, turning every problem into an InputError."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from citysim.config.district_overrides import apply_district_overrides
from citysim.config.limits import limit_problems
from citysim.config.schema import Scenario, cross_field_problems
from citysim.config.yaml_loader import LoadedDocument, load_yaml_document
from citysim.errors import InputError, KeyPath, format_key_path

MAX_EXTRA_PROBLEMS = 3


def _data_path(loc: tuple[int | str, ...], data: Any) -> KeyPath:
    """Map a pydantic error location onto keys that exist in the data (dropping union tags)."""
    path: list[str | int] = []
    node = data
    for index, part in enumerate(loc):
        in_mapping = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_mapping or in_list:
            node = node[part]
            path.append(part)
        elif index == len(loc) - 1 and isinstance(part, str) and isinstance(node, dict) and not _is_tag(node, part):
            path.append(part)  # a missing or unknown key: name it
        # otherwise: a union tag ('lognormal', 'staffed') or a validator's label, not a key the user wrote
    return tuple(path)


def _is_tag(node: dict[str, Any], part: str) -> bool:
    return any(node.get(key) == part for key in ("dist", "kind"))


def _model_for(path: KeyPath, data: Any, root: type[BaseModel] = Scenario) -> type[BaseModel] | None:
    """The schema model describing the mapping at `path` (to list the keys it accepts)."""
    annotation: Any = root
    node = data
    for part in path:
        model = _resolve(annotation, node)
        if isinstance(model, type) and issubclass(model, BaseModel):
            field = model.model_fields.get(str(part))
            if field is None:
                return None
            annotation = field.annotation
        else:
            container = _container_item(annotation)
            if container is None:
                return None
            annotation = container
        node = node.get(part) if isinstance(node, dict) else (
            node[part] if isinstance(node, list) and isinstance(part, int) and part < len(node) else None)
    model = _resolve(annotation, node)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _strip_annotated(annotation: Any) -> Any:
    while getattr(annotation, "__metadata__", None) is not None:
        annotation = annotation.__origin__
    return annotation


def _container_item(annotation: Any) -> Any:
    """The item type of list[X] or dict[str, X], else None."""
    annotation = _strip_annotated(annotation)
    if getattr(annotation, "__origin__", None) in (list, dict):
        return annotation.__args__[-1]
    return None


def _resolve(annotation: Any, node: Any) -> Any:
    """The model class an annotation stands for, given the data (for unions: by `kind`/`dist`)."""
    annotation = _strip_annotated(annotation)
    if isinstance(annotation, type):
        return annotation
    if get_origin(annotation) in (list, dict):
        return None
    candidates = [a for a in getattr(annotation, "__args__", ()) if isinstance(a, type) and issubclass(a, BaseModel)]
    for candidate in candidates:
        for tag in ("kind", "dist"):
            field = candidate.model_fields.get(tag)
            allowed = getattr(field.annotation, "__args__", ()) if field is not None else ()
            if isinstance(node, dict) and node.get(tag) in allowed:
                return candidate
    return candidates[0] if len(candidates) == 1 else None


def _describe(error: ErrorDetails, path: KeyPath, data: Any, root: type[BaseModel]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        key = str(path[-1]) if path else "?"
        model = _model_for(path[:-1], data, root)
        allowed = sorted(model.model_fields) if model else []
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        return (f"unknown key '{key}'.{hint} Expected one of: {', '.join(allowed)}."
                if allowed else f"unknown key '{key}'.")
    if kind == "missing":
        return "this required key is missing."
    message = error["msg"].rstrip(".")
    message = message.removeprefix("Value error, ")
    got = error.get("input")
    shown = "" if isinstance(got, dict | list) else f"; got {got!r}"
    return f"expected: {message}{shown}."


def validation_error_to_input_error(
    exc: ValidationError, document: LoadedDocument, fallback: Path, root: type[BaseModel] = Scenario
) -> InputError:
    """One paragraph for all of a ValidationError: the first problem in full, then the others briefly."""
    # Unknown keys first: a misspelt required key is better explained by its typo than by "missing".
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    described = []
    for error in errors:
        path = _data_path(tuple(error["loc"]), document.data)
        described.append((path, _describe(error, path, document.data, root)))
    first_path, first_text = described[0]
    origin = document.origin_of(first_path)
    others = described[1:]
    if others:
        listed = "; ".join(f"'{format_key_path(p)}': {t.rstrip('.')}" for p, t in others[:MAX_EXTRA_PROBLEMS])
        more = f" and {len(others) - MAX_EXTRA_PROBLEMS} more" if len(others) > MAX_EXTRA_PROBLEMS else ""
        first_text += f" Also: {listed}{more}."
    return InputError(origin.file if origin else fallback, first_text, first_path, origin.line if origin else None)


def load_document(path: str | Path) -> LoadedDocument:
    """Read a scenario file and its `extends` ancestors, merged, with its `district_overrides` applied (not
    yet validated)."""
    document = load_yaml_document(path)
    apply_district_overrides(document, Path(path))
    return document


#: Keys whose value is a data file, relative to the scenario file that sets it.
DATA_FILE_KEYS: tuple[KeyPath, ...] = (("geography", "district_polygons"),)


def resolve_data_files(document: LoadedDocument) -> list[Path]:
    """Make each data-file path of the document absolute (relative to the file that wrote it), in
    place, and return the files."""
    files = []
    for key in DATA_FILE_KEYS:
        parent: Any = document.data
        for part in key[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        value = parent.get(key[-1]) if isinstance(parent, dict) else None
        if not isinstance(value, str) or not value:
            continue
        origin = document.origin_of(key)
        resolved = Path(value) if Path(value).is_absolute() or origin is None else origin.file.parent / value
        parent[key[-1]] = str(resolved.resolve())
        files.append(resolved.resolve())
    return files


def validate_schema(document: LoadedDocument, path: str | Path) -> Scenario:
    """Validate merged YAML data against the scenario schema, the limits on what it asks of the machine
    (`citysim.config.limits`) and the cross-field rules (what the file says; `citysim.city.loading` also
    checks the city it describes)."""
    resolve_data_files(document)
    try:
        scenario = Scenario.model_validate(document.data)
    except ValidationError as exc:
        raise validation_error_to_input_error(exc, document, Path(path)) from None
    problems = limit_problems(scenario) + cross_field_problems(scenario)
    if problems:
        key_path, text = problems[0]
        if len(problems) > 1:
            others = problems[1 : MAX_EXTRA_PROBLEMS + 1]
            text += " Also: " + "; ".join(f"'{format_key_path(p)}': {t.rstrip('.')}" for p, t in others) + "."
        origin = document.origin_of(key_path)
        raise InputError(origin.file if origin else path, text, key_path, origin.line if origin else None)
    return scenario


def resolved_scenario_yaml(scenario: Scenario, document: LoadedDocument) -> str:
    """`dump_scenario` under a comment naming the files merged (base first) and how the day's calls are
    made: what `citysim show` prints."""
    demand = scenario.demand
    calls = f"demand.calls_per_day {demand.calls_per_day:,.6g} x the hourly profile's shape (rescaled to mean 1)"
    if demand.surges:
        calls += f" x demand.surges = {demand.expected_calls_per_day:,.0f} calls a day"
    else:
        calls += f" = {demand.calls_per_day:,.6g} calls a day (no surges)"
    if scenario.crashes is not None:
        calls += f", plus {scenario.crashes.crashes_per_day:,.6g} crashes a day (crashes.crashes_per_day)"
    header = ["# The resolved scenario: every key after extends and district_overrides, defaults filled in.",
              "# Files merged, base first:", *[f"#   {_shown_path(f)}" for f in document.files], f"# Calls: {calls}."]
    return "\n".join(header) + "\n" + dump_scenario(scenario)


def _shown_path(file: Path) -> str:
    """A file relative to the working folder when it lies under it, else absolute."""
    try:
        return str(file.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(file)


def dump_scenario(scenario: Scenario) -> str:
    """The fully resolved scenario as YAML (loadable again with `load_scenario`)."""
    return yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
