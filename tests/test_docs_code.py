"""The tutorial's and the how-to guides' code runs: docs/tutorial.md and docs/howto/*.md, one test per page.

The convention (the pages follow it; docs/howto/demand-surge.md is an example):

- every fenced ```bash and ```python block is run, in page order, in one temporary working folder per page
  that holds copies of the repository's `scenarios/` and `experiments/` (so `scenarios/shanghai/baseline.yaml`
  works, and nothing a page writes lands in the repository);
- a ```yaml block directly preceded by a line `<!-- file: some/path.yaml -->` is first written to that path in
  the folder (a path inside it); other ```yaml blocks are only shown;
- ```text blocks are shown output and are not run; any other fence language is a failure (```sh or
  ```console would silently never run);
- bash blocks run under `bash -euo pipefail` and must exit 0; python blocks share one namespace per page, as
  in a session, and must not raise;
- a page with no runnable block fails: a guide whose commands are never run can go stale.

The code runs against this checkout (`src/` first on PYTHONPATH). Because CI runs the whole suite on 2 cores,
each page's blocks together should take under about 40 s: use `--replications 1` or 2 and say in the page
what a full-size run costs.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import REPO_ROOT

DOCS = REPO_ROOT / "docs"
PAGES = [page for page in [DOCS / "tutorial.md", *sorted((DOCS / "howto").glob("*.md"))] if page.is_file()]
COPIED = ("scenarios", "experiments")
RUN, SHOWN = ("bash", "python"), ("yaml", "text")
#: A block longer than this has hung, or is not the cheap run a guide should show.
BLOCK_TIMEOUT_S = 300
FENCE = re.compile(r"^```([\w+-]*)[ \t]*$")
FILE_MARKER = re.compile(r"^<!--\s*file:\s*(\S+)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    """A fenced code block of a page."""

    language: str
    code: str
    line: int  # 1-based line of the opening fence
    file: str | None  # the path a yaml block is written to, from the marker line above it


def blocks_of(text: str) -> list[Block]:
    """The fenced blocks of a Markdown page, in order (an unclosed fence is an AssertionError)."""
    lines = text.splitlines()
    blocks, index = [], 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        end = next((k for k in range(index + 1, len(lines)) if lines[k].startswith("```")), None)
        assert end is not None, f"line {index + 1}: a code fence that is never closed"
        marker = FILE_MARKER.match(lines[index - 1]) if index > 0 else None
        blocks.append(Block(opening.group(1), "\n".join(lines[index + 1:end]) + "\n", index + 1,
                            marker.group(1) if marker else None))
        index = end + 1
    return blocks


def _environment() -> dict[str, str]:
    """The test's environment with this checkout's src/ first on PYTHONPATH and a non-interactive backend."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT / "src"), *filter(None, [env.get("PYTHONPATH")])])
    env["MPLBACKEND"] = "Agg"
    return env


def _report(page: Path, block: Block, what: str, stdout: str = "", stderr: str = "") -> str:
    return (f"{page.relative_to(REPO_ROOT)}, the {block.language} block at line {block.line}: {what}\n"
            f"--- block ---\n{block.code}--- stdout ---\n{stdout}--- stderr ---\n{stderr}")


def _write_file(page: Path, block: Block, folder: Path) -> None:
    target = (folder / block.file).resolve() if block.file else None
    if target is None or folder.resolve() not in target.parents:
        pytest.fail(_report(page, block, f"the file marker {block.file!r} must name a path inside the folder"))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(block.code, encoding="utf-8")


def _run_bash(page: Path, block: Block, folder: Path) -> None:
    try:
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", block.code], cwd=folder, env=_environment(),
                              capture_output=True, text=True, timeout=BLOCK_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(_report(page, block, f"still running after {BLOCK_TIMEOUT_S} s", str(exc.stdout or ""),
                            str(exc.stderr or "")))
    if done.returncode != 0:
        pytest.fail(_report(page, block, f"exit status {done.returncode}", done.stdout, done.stderr))


def _run_python(page: Path, block: Block, namespace: dict[str, object]) -> None:
    stdout, stderr = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            exec(compile(block.code, f"{page.name}:{block.line}", "exec"), namespace)  # the page's own code
    except (Exception, SystemExit):  # a sys.exit() in a block is its failure too
        pytest.fail(_report(page, block, "it raised", stdout.getvalue(), stderr.getvalue() + traceback.format_exc()))


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(DOCS).as_posix() for p in PAGES])
def test_page_code_runs(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every runnable block of the page runs, in order, in a fresh folder with the shipped scenarios."""
    blocks = blocks_of(page.read_text(encoding="utf-8"))
    unknown = [b for b in blocks if b.language not in RUN + SHOWN]
    assert not unknown, "; ".join(f"line {b.line}: fence language {b.language!r}: use bash or python to run it, "
                                  "yaml or text to show it" for b in unknown)
    runnable = [b for b in blocks if b.language in RUN or b.file is not None]
    assert any(b.language in RUN for b in runnable), f"{page.name} has no bash or python block: nothing is tested"
    for name in COPIED:
        shutil.copytree(REPO_ROOT / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)  # python blocks see the same working folder as bash blocks
    namespace: dict[str, object] = {"__name__": "__main__"}
    for block in runnable:
        if block.language == "yaml":
            _write_file(page, block, tmp_path)
        elif block.language == "bash":
            _run_bash(page, block, tmp_path)
        else:
            _run_python(page, block, namespace)


def test_blocks_of_reads_fences_and_file_markers() -> None:
    """The parser finds each block's language, code, line and file marker, and nothing outside fences."""
    text = ("# Page\n\n<!-- file: a/b.yaml -->\n```yaml\nname: x\n```\n\ntext\n```bash\necho hi\n```\n"
            "```yaml\nshown: only\n```\n")
    blocks = blocks_of(text)
    assert [(b.language, b.line, b.file) for b in blocks] == [("yaml", 4, "a/b.yaml"), ("bash", 9, None),
                                                               ("yaml", 12, None)]
    assert blocks[0].code == "name: x\n" and blocks[1].code == "echo hi\n"


def test_a_page_without_code_and_an_unknown_fence_fail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A page with only text blocks, or with a ```sh block, fails the page test (run here on a page made up)."""
    for text, message in (("# Empty\n```text\nout\n```\n", "no bash or python block"),
                          ("# Sh\n```sh\necho hi\n```\n", "fence language 'sh'")):
        page = tmp_path / "page.md"
        page.write_text(text, encoding="utf-8")
        monkeypatch.setattr(sys.modules[__name__], "REPO_ROOT", tmp_path)
        with pytest.raises(AssertionError, match=message):
            test_page_code_runs(page, tmp_path / "work", monkeypatch)


def test_a_failing_block_shows_the_block_and_its_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bash block that exits 3 fails with its line, its code, its stdout and stderr."""
    page = tmp_path / "page.md"
    page.write_text("# Fails\n```bash\necho out; echo err >&2; exit 3\n```\n", encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "REPO_ROOT", tmp_path)
    for name in COPIED:
        (tmp_path / name).mkdir()
    with pytest.raises(pytest.fail.Exception) as caught:
        test_page_code_runs(page, tmp_path / "work", monkeypatch)
    message = str(caught.value)
    assert "block at line 2: exit status 3" in message and "echo out; echo err" in message
    assert "--- stdout ---\nout\n" in message and "--- stderr ---\nerr\n" in message
