"""``stepline``: workflow tooling, and the commands other packages register (``stepline dev``)."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated

import typer

from stepline.cli import events, executions, workflows

app = typer.Typer(no_args_is_help=True, help="Stepline: durable YaWL workflows on AWS.")
app.add_typer(workflows.app, name="workflow")
app.add_typer(executions.app, name="execution")
app.add_typer(events.app, name="events")


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="YaWL files to check.", exists=True)],
) -> None:
    """Check YaWL files; print each problem as FILE:LINE:COL: path: message."""
    from stepline.cli.validate import validate_files

    raise typer.Exit(validate_files(files))


def register_commands() -> None:
    """Add the commands other packages register (``stepline.commands`` entry points: the dev
    package's ``stepline dev``)."""
    for entry in entry_points(group="stepline.commands"):
        entry.load()(app)


def main() -> None:
    """Entry point of the ``stepline`` command."""
    register_commands()
    app()
