"""docs/errors.md is current: regenerating it from the catalogue gives the same page, and every case
really raises a one-paragraph InputError."""

from __future__ import annotations

from pathlib import Path

import pytest

from citysim.output.error_catalogue import CASES, errors_markdown, run_case

DOC = Path(__file__).resolve().parents[1] / "docs" / "errors.md"


@pytest.mark.parametrize("case", CASES, ids=[c.title for c in CASES])
def test_each_case_is_one_paragraph_naming_file_and_problem(case, tmp_path):
    """Each catalogued bad input gives one paragraph that starts with the file it is about."""
    message = run_case(case, tmp_path)
    assert message.startswith("Error in ") and "\n" not in message
    assert any(name in message for name in case.files)


def test_errors_doc_is_current():
    """The committed docs/errors.md equals what `citysim errors --out docs/errors.md` writes now."""
    assert DOC.read_text(encoding="utf-8") == errors_markdown("citysim errors --out docs/errors.md")


def test_errors_doc_lists_every_exit_status():
    """docs/errors.md's exit-status table has one row per status of EXIT_CODES, with its meaning and when."""
    from citysim.exit_codes import EXIT_CODES

    section = DOC.read_text(encoding="utf-8").split("## Exit status", 1)[1].split("\n## ", 1)[0]
    rows = [line.split(" | ") for line in section.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [int(row[0].strip("| ")) for row in rows] == [status.code for status in EXIT_CODES]
    for row, status in zip(rows, EXIT_CODES, strict=True):
        assert row[1] == status.meaning and row[2].rstrip(" |") == status.when
