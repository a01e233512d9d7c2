"""Load scenario files into validated `Scenario` objects, turning every problem into an InputError."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from citysim.config.schema import Scenario
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
        elif index == len(loc) - 1 and isinstance(part, str) and isinstance(node, dict):
            path.append(part)  # a missing or unknown key: name it
        # otherwise: a union tag or a validator's own label; not a key the user wrote
    return tuple(path)


def _model_for(path: KeyPath, data: Any) -> type[BaseModel] | None:
    """The schema model describing the mapping at `path` (to list the keys it accepts)."""
    model: Any = Scenario
    node = data
    for part in path:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            if isinstance(part, int):
                node = node[part] if isinstance(node, list) and part < len(node) else None
                continue
            return None
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        node = node.get(part) if isinstance(node, dict) else None
        model = _resolve_annotation(field.annotation, node)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _resolve_annotation(annotation: Any, node: Any) -> Any:
    """Pick the model class an annotation stands for, given the data (for unions: by `kind`/`dist`)."""
    args = getattr(annotation, "__args__", ())
    metadata = getattr(annotation, "__metadata__", None)
    if metadata is not None:  # Annotated[...]
        return _resolve_annotation(annotation.__origin__, node)
    if not args:
        return annotation
    candidates = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
    for candidate in candidates:
        for tag in ("kind", "dist"):
            field = candidate.model_fields.get(tag)
            allowed = getattr(field.annotation, "__args__", ()) if field is not None else ()
            if isinstance(node, dict) and node.get(tag) in allowed:
                return candidate
    if len(candidates) == 1:
        return candidates[0]
    if getattr(annotation, "__origin__", None) in (list, dict):
        return args[-1]
    return None


def _describe(error: ErrorDetails, path: KeyPath, data: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        key = str(path[-1]) if path else "?"
        model = _model_for(path[:-1], data)
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


def validation_error_to_input_error(exc: ValidationError, document: LoadedDocument, fallback: Path) -> InputError:
    """One paragraph for all of a ValidationError: the first problem in full, then the others briefly."""
    errors = exc.errors()
    described = []
    for error in errors:
        path = _data_path(tuple(error["loc"]), document.data)
        described.append((path, _describe(error, path, document.data)))
    first_path, first_text = described[0]
    origin = document.origin_of(first_path)
    others = described[1:]
    if others:
        listed = "; ".join(f"'{format_key_path(p)}': {t.rstrip('.')}" for p, t in others[:MAX_EXTRA_PROBLEMS])
        more = f" and {len(others) - MAX_EXTRA_PROBLEMS} more" if len(others) > MAX_EXTRA_PROBLEMS else ""
        first_text += f" Also: {listed}{more}."
    return InputError(origin.file if origin else fallback, first_text, first_path, origin.line if origin else None)


def load_document(path: str | Path) -> LoadedDocument:
    """Read a scenario file and its `extends` ancestors, merged (not yet validated)."""
    return load_yaml_document(path)


def validate_document(document: LoadedDocument, path: str | Path) -> Scenario:
    """Validate merged YAML data against the scenario schema."""
    try:
        return Scenario.model_validate(document.data)
    except ValidationError as exc:
        raise validation_error_to_input_error(exc, document, Path(path)) from None


def load_scenario(path: str | Path) -> Scenario:
    """Load, merge (`extends`) and validate a scenario file; raise InputError on any problem."""
    return validate_document(load_document(path), path)


def dump_scenario(scenario: Scenario) -> str:
    """The fully resolved scenario as YAML (loadable again with `load_scenario`)."""
    return yaml.safe_dump(scenario.model_dump(mode="json", exclude_none=True), sort_keys=False, allow_unicode=True)
