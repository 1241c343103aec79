"""``stepline test``: run the YAML test cases next to workflows (``stepline.testing.cases``)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from stepline.testing import cases

_METRICS_OFF = "POWERTOOLS_METRICS_DISABLED"


def register(app: typer.Typer) -> None:
    """Add ``stepline test`` to the CLI."""
    app.command(name="test")(test)


@contextmanager
def _quiet() -> Iterator[None]:
    """The runner's metric documents and log lines are for CloudWatch, not this terminal
    (as they were before, once the command is done)."""
    from stepline.telemetry import logger

    before, level = os.environ.get(_METRICS_OFF), logger.log_level
    os.environ[_METRICS_OFF] = "true"
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
        if before is None:
            os.environ.pop(_METRICS_OFF, None)
        else:
            os.environ[_METRICS_OFF] = before


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
            with _quiet():
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
