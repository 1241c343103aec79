"""Data-driven spec cases: every file under cases/valid loads; every file under cases/invalid
fails with exactly the problems in its `.expected` golden file.

Regenerate the golden files after an intended change with STEPLINE_UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stepline.yawl import SpecError, Workflow, load

CASES = Path(__file__).parent / "cases"
VALID = sorted(p for p in (CASES / "valid").iterdir() if p.suffix in (".yaml", ".json"))
INVALID = sorted(p for p in (CASES / "invalid").iterdir() if p.suffix in (".yaml", ".json"))


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_case_loads(path: Path) -> None:
    workflow = load(path.read_text())
    assert isinstance(workflow, Workflow)
    assert workflow.start in workflow.steps


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_case_reports_every_expected_problem(path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load(path.read_text())
    actual = str(caught.value) + "\n"
    golden = path.with_suffix(".expected")
    if os.environ.get("STEPLINE_UPDATE_GOLDEN"):
        golden.write_text(actual)
    assert actual == golden.read_text()
