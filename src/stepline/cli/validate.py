"""`stepline validate FILE...`: check YaWL specs and print every problem with its location."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from stepline.yawl import SpecError, load
from stepline.yawl.problems import ROOT, Problem


def format_problem(path: Path | str, problem: Problem) -> str:
    """One problem as `FILE:LINE:COL: path: message` (`FILE: path: message` without position)."""
    where = f"{path}:{problem.line}:{problem.column}" if problem.line is not None else f"{path}"
    return f"{where}: {problem.path or ROOT}: {problem.message}"


def _file_problems(path: Path) -> tuple[list[Problem], int]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [Problem("", f"cannot read the file: {exc}")], 0
    try:
        workflow = load(text)
    except SpecError as exc:
        return exc.problems, 0
    return [], sum(1 for _ in workflow.walk())


def validate_files(
    paths: list[Path], *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Validate each file, print problems (or a one-line summary); return the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    if not paths:
        print("usage: stepline validate FILE...", file=err)
        return 2
    problem_count = step_count = bad_files = 0
    for path in paths:
        problems, steps = _file_problems(path)
        for problem in problems:
            print(format_problem(path, problem), file=out)
        problem_count += len(problems)
        bad_files += bool(problems)
        step_count += steps
    if problem_count:
        print(f"{problem_count} problem(s) in {bad_files} of {len(paths)} file(s)", file=err)
        return 1
    print(f"OK: {len(paths)} file(s) valid, {step_count} step(s)", file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point for `python -m stepline.cli.validate FILE...`."""
    args = sys.argv[1:] if argv is None else argv
    return validate_files([Path(arg) for arg in args])


if __name__ == "__main__":
    raise SystemExit(main())
