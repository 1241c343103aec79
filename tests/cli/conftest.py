"""The CLI run in-process by typer's runner, against a dev stack started for the tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from stepline.cli.main import app
from tests.e2e.conftest import RunningStack, dev_stack  # noqa: F401 - the shared fixture


@dataclass
class Ran:
    """What one command printed and how it exited."""

    result: Result

    @property
    def code(self) -> int:
        """The exit code."""
        return self.result.exit_code

    @property
    def out(self) -> str:
        """Standard output."""
        return self.result.stdout

    @property
    def err(self) -> str:
        """Standard error."""
        return self.result.stderr

    def json(self) -> Any:
        """Standard output parsed as JSON."""
        return json.loads(self.out)


Stepline = Callable[..., Ran]


def _runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]  # click < 8.2
    except TypeError:
        return CliRunner()  # click >= 8.2 keeps stderr apart on its own


@pytest.fixture
def stepline(dev_stack: RunningStack, monkeypatch: pytest.MonkeyPatch) -> Stepline:  # noqa: F811
    """Run ``stepline ARGS...`` against the test's dev stack (via $STEPLINE_ENDPOINT)."""
    monkeypatch.setenv("STEPLINE_ENDPOINT", dev_stack.url)
    runner = _runner()

    def run(*args: str, input: str | None = None) -> Ran:
        return Ran(runner.invoke(app, list(args), input=input, catch_exceptions=False))

    return run
