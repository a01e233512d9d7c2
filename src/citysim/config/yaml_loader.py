"""Safe YAML loading with line numbers and `extends:` inheritance.

A scenario file may name a parent with `extends: parent.yaml` (a path relative to the file). The
parent is loaded first and the child is deep-merged onto it: mappings merge key by key, any other
value (lists included) replaces the parent's. The result remembers, for every key path, the file
and line it came from, so that schema errors can point at the line a user has to edit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from citysim.errors import InputError, KeyPath

MAX_EXTENDS_DEPTH = 32


@dataclass(frozen=True)
class Origin:
    """Where a key was written: file and 1-based line."""

    file: Path
    line: int


@dataclass
class LoadedDocument:
    """A fully merged YAML mapping plus where each key path was defined."""

    data: dict[str, Any]
    origins: dict[KeyPath, Origin] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    def origin_of(self, path: KeyPath) -> Origin | None:
        """The origin of the longest prefix of `path` that has one."""
        for end in range(len(path), -1, -1):
            origin = self.origins.get(tuple(path[:end]))
            if origin is not None:
                return origin
        return None

    def file_hashes(self) -> dict[str, str]:
        """SHA-256 of every file read (the child and all its ancestors)."""
        return {str(f): hashlib.sha256(f.read_bytes()).hexdigest() for f in self.files}


def _node_to_python(node: yaml.Node, path: KeyPath, file: Path, origins: dict[KeyPath, Origin]) -> Any:
    """Convert a composed node tree to Python data, recording the line of every key path."""
    origins[path] = Origin(file, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _construct_scalar(key_node)
            if not isinstance(key, str):
                raise InputError(file, f"keys must be text, found {key!r}", path, key_node.start_mark.line + 1)
            if key in result:
                raise InputError(file, f"key '{key}' appears twice in the same mapping", (*path, key),
                                 key_node.start_mark.line + 1)
            child = (*path, key)
            result[key] = _node_to_python(value_node, child, file, origins)
            origins[child] = Origin(file, key_node.start_mark.line + 1)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_node_to_python(item, (*path, i), file, origins) for i, item in enumerate(node.value)]
    return _construct_scalar(node)


def _construct_scalar(node: yaml.Node) -> Any:
    """Resolve a scalar's type (int, float, bool, null, str) with the safe constructor only."""
    return yaml.SafeLoader("").construct_object(node, deep=True)


def _read_one(file: Path) -> tuple[dict[str, Any], dict[KeyPath, Origin]]:
    """Parse one file with the safe loader only; reject anything but a mapping at the top."""
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(file, "the file does not exist.") from None
    except IsADirectoryError:
        raise InputError(file, "this is a folder, not a YAML file.") from None
    except UnicodeDecodeError:
        raise InputError(file, "the file is not UTF-8 text; expected a YAML scenario file.") from None
    except OSError as exc:
        raise InputError(file, f"the file cannot be read ({exc.strerror}).") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
        raise InputError(file, f"this is not valid YAML: {exc.problem or exc}.", (), line) from None
    except yaml.YAMLError as exc:
        raise InputError(file, f"this is not valid YAML: {exc}.") from None
    if node is None:
        raise InputError(file, "the file is empty; expected a mapping of scenario keys.")
    if not isinstance(node, yaml.MappingNode):
        raise InputError(file, "expected a mapping of keys at the top of the file.", (), node.start_mark.line + 1)
    origins: dict[KeyPath, Origin] = {}
    try:
        data = _node_to_python(node, (), file, origins)
    except yaml.constructor.ConstructorError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
        raise InputError(file, f"unsupported YAML content: {exc.problem}. Only plain YAML data (no "
                         "tags such as !!python/object) is accepted.", (), line) from None
    return data, origins


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _drop_subtree(origins: dict[KeyPath, Origin], prefix: KeyPath) -> None:
    for path in [p for p in origins if p[: len(prefix)] == prefix and len(p) > len(prefix)]:
        del origins[path]


def load_yaml_document(path: str | Path, extends_key: str = "extends") -> LoadedDocument:
    """Load `path`, resolving its `extends` chain; raise InputError on any problem."""
    chain: list[Path] = []
    current = Path(path).resolve()
    documents: list[tuple[dict[str, Any], dict[KeyPath, Origin]]] = []
    while True:
        if current in chain:
            cycle = " -> ".join(str(p) for p in [*chain, current])
            raise InputError(chain[-1], f"'{extends_key}' forms a cycle: {cycle}.", (extends_key,))
        if len(chain) >= MAX_EXTENDS_DEPTH:
            raise InputError(chain[0], f"the '{extends_key}' chain is deeper than {MAX_EXTENDS_DEPTH} files.",
                             (extends_key,))
        data, origins = _read_one(current)
        chain.append(current)
        documents.append((data, origins))
        parent = data.pop(extends_key, None)
        if parent is None:
            break
        if not isinstance(parent, str) or not parent.strip():
            raise InputError(current, "expected the path of a parent YAML file (relative to this file).",
                             (extends_key,), origins[(extends_key,)].line)
        target = (current.parent / parent).resolve()
        if not target.is_file():
            raise InputError(current, f"the file it extends, '{parent}', does not exist (looked for {target}).",
                             (extends_key,), origins[(extends_key,)].line)
        current = target

    merged: dict[str, Any] = {}
    merged_origins: dict[KeyPath, Origin] = {}
    for data, origins in reversed(documents):
        _replace_non_mapping_subtrees(merged, data, (), merged_origins)
        merged = _deep_merge(merged, data)
        merged_origins.update({k: v for k, v in origins.items() if k and k[0] != extends_key})
    return LoadedDocument(merged, merged_origins, list(reversed(chain)))


def _replace_non_mapping_subtrees(
    base: dict[str, Any], override: dict[str, Any], prefix: KeyPath, origins: dict[KeyPath, Origin]
) -> None:
    """Forget origins under keys whose whole value the override replaces."""
    for key, value in override.items():
        path = (*prefix, key)
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _replace_non_mapping_subtrees(base[key], value, path, origins)
        else:
            _drop_subtree(origins, path)
