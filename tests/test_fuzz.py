"""Fuzzing scenario files: whatever a user's editing does to a valid file, `citysim validate` answers
with exit 0 (still valid) or exit 2 and one paragraph naming the file, never a traceback."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citysim.cli import EXIT_BAD_INPUT, EXIT_OK, main
from conftest import SMALL_SCENARIO_YAML

BASE: dict[str, Any] = yaml.safe_load(SMALL_SCENARIO_YAML)
ODD_VALUES = [None, "text", -1, 0, -1e300, 1e300, math.nan, math.inf, -math.inf, [], {}, True, "1e9", [1, 2],
              {"dist": "nope"}, "!!python/object/apply:os.system", 10**30, -0.0001, 1.0001]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            paths += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            paths += _paths(value, (*prefix, index))
    return paths


PATHS = _paths(BASE)


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


@st.composite
def mutated_data(draw: st.DrawFn) -> str:
    """A structural mutation: drop, misspell or retype one key, or add an unknown one."""
    data = copy.deepcopy(BASE)
    path = draw(st.sampled_from(PATHS))
    parent, last = _parent(data, path), path[-1]
    action = draw(st.sampled_from(["drop", "misspell", "retype", "unknown"]))
    if action == "drop":
        del parent[last]
    elif action == "misspell" and isinstance(last, str):
        position = draw(st.integers(0, len(last)))
        parent[last[:position] + draw(st.sampled_from("xq_e")) + last[position:]] = parent.pop(last)
    elif action == "retype":
        parent[last] = draw(st.sampled_from(ODD_VALUES))
    elif isinstance(parent, dict):
        parent[draw(st.sampled_from(["extra", "unit", "speed_kmh", "mean"]))] = 1
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


@st.composite
def mutated_text(draw: st.DrawFn) -> bytes:
    """A textual mutation: truncation, raw junk bytes, a Python tag, or a changed character."""
    text = SMALL_SCENARIO_YAML.encode("utf-8")
    action = draw(st.sampled_from(["truncate", "junk", "tag", "char", "empty"]))
    position = draw(st.integers(0, len(text)))
    if action == "truncate":
        return text[:position]
    if action == "junk":
        return text[:position] + draw(st.binary(min_size=1, max_size=20)) + text[position:]
    if action == "tag":
        return b"!!python/object/apply:os.system ['true']\n" if position % 2 else text.replace(
            b"kind: staffed", b"kind: !!python/name:os.system staffed")
    if action == "char":
        return text[:position] + draw(st.sampled_from(list(b":-[]{}#&*!|>'\"%@`\t"))).to_bytes(1, "big") \
            + text[position + 1:]
    return b""


def _check(content: str | bytes, path: Path, capsys: Any) -> None:
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    code = main(["validate", str(path)])
    err = capsys.readouterr().err
    assert code in (EXIT_OK, EXIT_BAD_INPUT), code
    if code == EXIT_BAD_INPUT:
        assert str(path) in err, err
        assert "Traceback" not in err
        assert err.strip().count("\n") == 0, err  # one paragraph


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=mutated_data())
def test_structural_mutations_never_crash(text: str, tmp_path: Path, capsys: Any) -> None:
    """Dropped, misspelt, retyped and unknown keys: exit 0 or a one-paragraph error naming the file."""
    _check(text, tmp_path / "fuzzed.yaml", capsys)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=mutated_text())
def test_textual_mutations_never_crash(text: bytes, tmp_path: Path, capsys: Any) -> None:
    """Truncation, junk bytes, Python tags and stray characters: exit 0 or a one-paragraph error."""
    _check(text, tmp_path / "fuzzed.yaml", capsys)


def test_extends_chain_deeper_than_the_limit_is_an_input_error(tmp_path: Path, capsys: Any) -> None:
    """A chain of 40 `extends` files stops at the depth limit with a clear error (exit 2)."""
    from citysim.config.yaml_loader import MAX_EXTENDS_DEPTH

    (tmp_path / "f0.yaml").write_text(SMALL_SCENARIO_YAML, encoding="utf-8")
    for k in range(1, 40):
        (tmp_path / f"f{k}.yaml").write_text(f"extends: f{k - 1}.yaml\nname: level-{k}\n", encoding="utf-8")
    assert main(["validate", str(tmp_path / "f39.yaml")]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert f"deeper than {MAX_EXTENDS_DEPTH} files" in err and "Traceback" not in err


#: Hostile sizes: huge and tiny numbers of every magnitude a typo makes (units slip, exponents drop), and
#: the poles. config.limits must refuse each before it sizes anything (tests/test_limits.py runs the same
#: kind of values under an address-space cap in a subprocess).
HOSTILE_NUMBERS = [1e-300, 1e-9, 1e-5, 1e-3, 0.1, 89.9, -89.9, 1e5, 1e6, 1e9, 1e12, 1e15, 1e300, 10**18]
NUMERIC_PATHS = [p for p in PATHS if isinstance(_parent(BASE, p)[p[-1]], int | float)
                 and not isinstance(_parent(BASE, p)[p[-1]], bool)]
#: Seconds one hostile `validate` may take in process (the biggest valid demand surface takes about 7 s).
HOSTILE_SECONDS = 10.0


@st.composite
def hostile_sizes(draw: st.DrawFn) -> str:
    """One or two numeric values of the small scenario set to hostile magnitudes."""
    data = copy.deepcopy(BASE)
    for path in draw(st.lists(st.sampled_from(NUMERIC_PATHS), min_size=1, max_size=2, unique=True)):
        _parent(data, path)[path[-1]] = draw(st.sampled_from(HOSTILE_NUMBERS))
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=hostile_sizes())
def test_hostile_sizes_are_valid_or_refused_quickly(text: str, tmp_path: Path, capsys: Any) -> None:
    """Huge and tiny sizes, spacings, durations, rates and latitudes: exit 0 or a one-paragraph error,
    within HOSTILE_SECONDS each and without growing this process past 2 GB resident."""
    import resource
    import time

    started = time.perf_counter()
    _check(text, tmp_path / "hostile.yaml", capsys)
    assert time.perf_counter() - started < HOSTILE_SECONDS
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss < 2 * 2**20  # KB on Linux
