"""``stepline test``: run the YAML test cases next to workflows (``stepline.testing.cases``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stepline.testing import cases


def register(app: typer.Typer) -> None:
    """Add ``stepline test`` to the CLI."""
    app.command(name="test")(test)


def test(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Test files (*.test.yaml) or folders holding them (default: .)."),
    ] = None,
) -> None:
    """Run workflows' test cases in this process: mocked steps, virtual time, the real runner."""
    files = cases.discover(paths or [Path(".")])
    if not files:
        typer.echo(f"no test files (*{cases.SUFFIX}) found", err=True)
        raise typer.Exit(2)
    passed = failed = 0
    for file in files:
        try:
            outcomes = cases.run_file(file)
        except cases.BadSuite as exc:
            typer.echo(f"ERROR {exc}")
            failed += 1
            continue
        for outcome in outcomes:
            label = f"{outcome.file}::{outcome.case}"
            if outcome.passed:
                passed += 1
                typer.echo(f"PASS  {label}  ({outcome.seconds_virtual:g} s of virtual time)")
                continue
            failed += 1
            typer.echo(f"FAIL  {label}")
            for failure in outcome.failures:
                typer.echo(f"      {failure}")
    typer.echo(f"{passed} passed, {failed} failed")
    if failed:
        raise typer.Exit(1)
