"""Commands other packages register reach the CLI through entry points, not imports."""

from __future__ import annotations

from importlib.metadata import entry_points

from typer.testing import CliRunner

from stepline.cli import main


def test_the_dev_package_registers_stepline_dev() -> None:
    registered = {entry.name: entry.value for entry in entry_points(group="stepline.commands")}
    assert registered["dev"] == "stepline.dev.command:register"

    main.register_commands()
    reply = CliRunner().invoke(main.app, ["dev", "--help"])

    assert reply.exit_code == 0, reply.output
    assert "--aws-port" in reply.output
