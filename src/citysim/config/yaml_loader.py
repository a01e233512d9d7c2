"""Safe YAML loading with line numbers and `extends:` inheritance.

A scenario file may name a parent with `extends: parent.yaml` (a path relative to the file). The
parent is loaded first and the child is deep-merged onto it: mappings merge key by key, any other
value (lists included) replaces the parent's. The result remembers, for every key path, the file
and line it came from, so that schema errors can point at the line a user has to edit.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from citysim.errors import InputError, KeyPath

MAX_EXTENDS_DEPTH = 32
#: More YAML nodes than this (after alias expansion) is refused: no real scenario comes near it, and
#: nested aliases ("billion laughs") would otherwise expand without bound.
MAX_NODES = 200_000
PLAIN_MAPPING_TAG = "tag:yaml.org,2002:map"
PLAIN_SEQUENCE_TAG = "tag:yaml.org,2002:seq"
MERGE_TAG = "tag:yaml.org,2002:merge"


class _SafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader, also reading `1e9` and `1.0e9` as numbers (as YAML 1.2 does)."""


_SafeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


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
    hashes: dict[str, str] = field(default_factory=dict)  # file -> SHA-256 of the bytes parsed
    #: The value a later file replaced, by key path: what the nearest file it extends had there.
    replaced: dict[KeyPath, Any] = field(default_factory=dict)

    def origin_of(self, path: KeyPath) -> Origin | None:
        """The origin of the longest prefix of `path` that has one."""
        for end in range(len(path), -1, -1):
            origin = self.origins.get(tuple(path[:end]))
            if origin is not None:
                return origin
        return None

    def file_hashes(self) -> dict[str, str]:
        """SHA-256 of every file read (the child and all its ancestors), of the bytes that were parsed: an
        edit made after loading does not change what is recorded as the input."""
        return {str(f): self.hashes.get(str(f)) or hashlib.sha256(f.read_bytes()).hexdigest() for f in self.files}


def _tag_problem(tag: str) -> str:
    return (f"unsupported YAML content: the tag {tag} is not allowed; only plain YAML data (no tags such as "
            "!!python/object) is accepted.")


class _Converter:
    """Composed YAML nodes -> plain Python data, recording the line of every key path.

    Only plain mappings, sequences and scalars are accepted: any explicit tag (e.g. !!python/object)
    is an error, as are aliases that refer to themselves and documents that expand beyond MAX_NODES.
    """

    def __init__(self, file: Path, origins: dict[KeyPath, Origin]) -> None:
        self.file = file
        self.origins = origins
        self.count = 0
        self.open_nodes: set[int] = set()

    def _fail(self, node: yaml.Node, problem: str, path: KeyPath) -> InputError:
        return InputError(self.file, problem, path, node.start_mark.line + 1)

    def convert(self, node: yaml.Node, path: KeyPath) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self._fail(node, f"the document expands to more than {MAX_NODES:,} values (nested aliases?); "
                             "a scenario file is far smaller.", path)
        if id(node) in self.open_nodes:
            raise self._fail(node, "an alias refers to a value that contains it (a cycle).", path)
        self.origins[path] = Origin(self.file, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            if node.tag != PLAIN_MAPPING_TAG:
                raise self._fail(node, _tag_problem(node.tag), path)
            self.open_nodes.add(id(node))
            result = self._mapping(node, path)
            self.open_nodes.discard(id(node))
            return result
        if isinstance(node, yaml.SequenceNode):
            if node.tag != PLAIN_SEQUENCE_TAG:
                raise self._fail(node, _tag_problem(node.tag), path)
            self.open_nodes.add(id(node))
            items = [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
            self.open_nodes.discard(id(node))
            return items
        return _construct_scalar(node)

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                raise self._fail(key_node, "YAML merge keys (<<) are not supported; use 'extends: parent.yaml' "
                                 "to build on another scenario.", path)
            if not isinstance(key_node, yaml.ScalarNode):
                raise self._fail(key_node, "keys must be plain text.", path)
            key = _construct_scalar(key_node)
            if not isinstance(key, str):
                raise self._fail(key_node, f"keys must be text, found {key!r}.", path)
            if key in result:
                raise self._fail(key_node, f"key '{key}' appears twice in the same mapping.", (*path, key))
            child = (*path, key)
            result[key] = self.convert(value_node, child)
            self.origins[child] = Origin(self.file, key_node.start_mark.line + 1)
        return result


def _construct_scalar(node: yaml.Node) -> Any:
    """Resolve a scalar's type (int, float, bool, null, str) with the safe constructor only."""
    return _SafeLoader("").construct_object(node, deep=True)


def _read_one(file: Path) -> tuple[dict[str, Any], dict[KeyPath, Origin], str]:
    """Parse one file with the safe loader only; reject anything but a mapping at the top. Returns the
    data, where each key was written, and the SHA-256 of the bytes parsed."""
    try:
        raw = file.read_bytes()
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise InputError(file, "the file does not exist.") from None
    except IsADirectoryError:
        raise InputError(file, "this is a folder, not a YAML file.") from None
    except UnicodeDecodeError:
        raise InputError(file, "the file is not UTF-8 text; expected a YAML scenario file.") from None
    except OSError as exc:
        raise InputError(file, f"the file cannot be read ({exc.strerror}).") from None
    try:
        node = yaml.compose(text, Loader=_SafeLoader)
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
        data = _Converter(file, origins).convert(node, ())
    except yaml.constructor.ConstructorError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
        raise InputError(file, f"unsupported YAML content: {exc.problem}. Only plain YAML data (no "
                         "tags such as !!python/object) is accepted.", (), line) from None
    return data, origins, hashlib.sha256(raw).hexdigest()


#: Keys that select a block's type: a child naming another type replaces the parent's block whole.
DISCRIMINATORS = ("dist", "kind")


def _merges(base: Any, override: Any) -> bool:
    """Whether `override` is merged key by key into `base` (rather than replacing it)."""
    if not (isinstance(base, dict) and isinstance(override, dict)):
        return False
    return all(override.get(k, base.get(k)) == base.get(k) for k in DISCRIMINATORS)


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if _merges(merged.get(key), value):
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
    current = _resolve(Path(path), Path(path), None, extends_key)
    documents: list[tuple[dict[str, Any], dict[KeyPath, Origin]]] = []
    extends_line: int | None = None
    hashes: dict[str, str] = {}
    while True:
        if current in chain:
            cycle = " -> ".join(str(p) for p in [*chain, current])
            raise InputError(chain[-1], f"'{extends_key}' forms a cycle: {cycle}.", (extends_key,), extends_line)
        if len(chain) >= MAX_EXTENDS_DEPTH:
            raise InputError(chain[0], f"the '{extends_key}' chain is deeper than {MAX_EXTENDS_DEPTH} files.",
                             (extends_key,))
        data, origins, hashes[str(current)] = _read_one(current)
        chain.append(current)
        documents.append((data, origins))
        parent = data.pop(extends_key, None)
        if parent is None:
            break
        extends_line = origins[(extends_key,)].line
        if not isinstance(parent, str) or not parent.strip():
            raise InputError(current, "expected the path of a parent YAML file (relative to this file).",
                             (extends_key,), origins[(extends_key,)].line)
        target = _resolve(current.parent / parent, current, extends_line, extends_key)
        try:
            is_dir, is_file = target.is_dir(), target.is_file()
        except OSError as exc:  # e.g. permission denied on a folder on the way
            raise InputError(current, f"the file it extends, {target}, cannot be opened ({exc.strerror}).",
                             (extends_key,), extends_line) from None
        if is_dir:
            raise InputError(current, f"the file it extends, '{parent}', is a folder ({target}); expected a YAML "
                             "file.", (extends_key,), extends_line)
        if not is_file:
            raise InputError(current, f"the file it extends, '{parent}', does not exist (looked for {target}).",
                             (extends_key,), extends_line)
        current = target

    merged: dict[str, Any] = {}
    merged_origins: dict[KeyPath, Origin] = {}
    replaced: dict[KeyPath, Any] = {}
    for data, origins in reversed(documents):
        _replace_non_mapping_subtrees(merged, data, (), merged_origins, replaced)
        merged = _deep_merge(merged, data)
        merged_origins.update({k: v for k, v in origins.items() if k and k[0] != extends_key})
    return LoadedDocument(merged, merged_origins, list(reversed(chain)), hashes, replaced)


def _resolve(path: Path, naming_file: Path, line: int | None, extends_key: str) -> Path:
    """`path` made absolute with symlinks followed; a symlink loop or an unreadable folder on the way
    (RuntimeError or OSError, by Python version) is an InputError against the file that names it."""
    try:
        return path.resolve()
    except (OSError, RuntimeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        if naming_file == path:
            raise InputError(path, f"the file cannot be opened ({reason}); expected a readable YAML "
                             "scenario file (is it a symlink that loops?).") from None
        raise InputError(naming_file, f"the file it extends, {path}, cannot be opened ({reason}); expected a "
                         "YAML file (is it a symlink that loops?).", (extends_key,), line) from None


def _replace_non_mapping_subtrees(base: dict[str, Any], override: dict[str, Any], prefix: KeyPath,
                                  origins: dict[KeyPath, Origin], replaced: dict[KeyPath, Any]) -> None:
    """Forget origins under keys whose whole value the override replaces, and keep the values replaced."""
    for key, value in override.items():
        path = (*prefix, key)
        if _merges(base.get(key), value):
            _replace_non_mapping_subtrees(base[key], value, path, origins, replaced)
        else:
            _drop_subtree(origins, path)
            if key in base:
                replaced[path] = base[key]
