"""`stepline validate FILE...`: problems as FILE:LINE:COL, exit codes, summary."""

from __future__ import annotations

import io
from pathlib import Path

from stepline.cli.validate import validate_files

CASES = Path(__file__).parent / "cases"


def run(paths: list[Path]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = validate_files(paths, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_valid_files_exit_zero_with_one_line_summary() -> None:
    code, out, _ = run(
        [CASES / "valid" / "quickstart_shape.yaml", CASES / "valid" / "json_spec.json"]
    )
    assert code == 0
    assert out == "OK: 2 file(s) valid, 3 step(s)\n"


def test_problems_print_as_file_line_col_path_message(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text('yawl: "0.1"\nstart: a\nsteps:\n  a:\n    noOp: {next: b}\n')
    code, out, err = run([spec])
    assert code == 1
    assert out == f"{spec}:5:18: steps.a.noOp.next: no step named 'b' in the workflow\n"
    assert "1 problem(s) in 1 of 1 file(s)" in err


def test_unreadable_file_is_a_problem(tmp_path: Path) -> None:
    code, out, _ = run([tmp_path / "missing.yaml"])
    assert code == 1 and "cannot read the file" in out


def test_no_files_is_a_usage_error() -> None:
    assert run([])[0] == 2
