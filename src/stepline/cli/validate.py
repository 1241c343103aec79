"""`stepline validate [--strict] FILE...`: check YaWL specs and print every problem with its
location. ``--strict`` also refuses Stepline-only extensions (``waitForTask``), for specs that
must run on Yandex Cloud Workflows too."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from stepline.yawl import SpecError, load
from stepline.yawl.problems import ROOT, Problem
from stepline.yawl.source import PathKey, parse_document
from stepline.yawl.spec import EXTENSION_TYPES, Block, nested_blocks


def format_problem(path: Path | str, problem: Problem) -> str:
    """One problem as `FILE:LINE:COL: path: message` (`FILE: path: message` without position)."""
    where = f"{path}:{problem.line}:{problem.column}" if problem.line is not None else f"{path}"
    return f"{where}: {problem.path or ROOT}: {problem.message}"


def _file_problems(path: Path, strict: bool = False) -> tuple[list[Problem], int]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [Problem("", f"cannot read the file: {exc}")], 0
    try:
        workflow = load(text)
    except SpecError as exc:
        return exc.problems, 0
    problems = extension_problems(text, workflow) if strict else []
    return problems, sum(1 for _ in workflow.walk())


def extension_problems(text: str, block: Block) -> list[Problem]:
    """A problem per step of a Stepline-only type (docs/signals.md), at the step's type key."""
    found = list(_extensions(block, ()))
    if not found:
        return []
    positions = parse_document(text).positions
    problems = []
    for where, kind in found:
        line, column = positions.locate(where, key=True) or (None, None)
        message = (
            f"{kind} is a Stepline extension, not YaWL: Yandex Cloud Workflows would refuse "
            "this step (run without --strict to allow it)"
        )
        problems.append(Problem(_dotted(where), message, line, column))
    return problems


def _extensions(block: Block, prefix: PathKey) -> Iterator[tuple[PathKey, str]]:
    for step_id, step in block.steps.items():
        here: PathKey = (*prefix, "steps", step_id)
        if step.kind in EXTENSION_TYPES:
            yield (*here, step.kind), step.kind
        for name, nested in nested_blocks(step):
            inner = ("branches", name) if step.kind == "parallel" else (name,)
            yield from _extensions(nested, (*here, step.kind, *inner))


def _dotted(path: PathKey) -> str:
    return ".".join(str(part) for part in path)


def validate_files(
    paths: list[Path],
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    strict: bool = False,
) -> int:
    """Validate each file, print problems (or a one-line summary); return the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    if not paths:
        print("usage: stepline validate FILE...", file=err)
        return 2
    problem_count = step_count = bad_files = 0
    for path in paths:
        problems, steps = _file_problems(path, strict)
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
    strict = "--strict" in args
    return validate_files([Path(arg) for arg in args if arg != "--strict"], strict=strict)


if __name__ == "__main__":
    raise SystemExit(main())
