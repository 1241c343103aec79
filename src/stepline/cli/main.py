"""``stepline``: workflow tooling, and the commands other packages register (``stepline dev``)."""

from __future__ import annotations

from importlib.metadata import entry_points, version
from pathlib import Path
from typing import Annotated

import typer

from stepline.cli import events, executions, tasks, workflows
from stepline.cli.common import EndpointOption, set_global_options

app = typer.Typer(no_args_is_help=True, help="Stepline: durable YaWL workflows on AWS.")
app.add_typer(workflows.app, name="workflow")
app.add_typer(executions.app, name="execution")
app.add_typer(events.app, name="events")
app.add_typer(tasks.app, name="task")


def _version(asked: bool) -> None:
    if asked:
        typer.echo(f"stepline {version('stepline')}")
        raise typer.Exit()


@app.callback()
def options(
    endpoint: EndpointOption = None,
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Stepline: durable YaWL workflows on AWS.

    Every command talks to the API at --endpoint (here or after the command), else
    $STEPLINE_ENDPOINT, which `make dev` prints; the dev stack's default port otherwise.
    """
    set_global_options(endpoint)


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="YaWL files to check.", exists=True)],
    strict: Annotated[
        bool, typer.Option("--strict", help="Refuse Stepline-only extensions (waitForTask).")
    ] = False,
) -> None:
    """Check YaWL files; print each problem as FILE:LINE:COL: path: message."""
    from stepline.cli.validate import validate_files

    raise typer.Exit(validate_files(files, strict=strict))


@app.command()
def schema() -> None:
    """Print the YaWL JSON schema (schema/yawl.schema.json), for editors and validators."""
    from stepline.yawl.schema import schema_json

    typer.echo(schema_json(), nl=False)


def register_commands() -> None:
    """Add the commands other packages register (``stepline.commands`` entry points: the dev
    package's ``stepline dev``)."""
    for entry in entry_points(group="stepline.commands"):
        entry.load()(app)


def main() -> None:
    """Entry point of the ``stepline`` command."""
    register_commands()
    app()
