"""``stepline test``: YAML test cases next to a workflow, run with the test kit."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from stepline.testing import cases, command

ROOT = Path(__file__).parents[2]
SPEC = """
yawl: "0.1"
start: greet
steps:
  greet:
    functionCall:
      functionId: greeter
"""


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    command.register(app)
    app.callback()(lambda: None)  # a group, so the command keeps its name
    return app


@pytest.mark.parametrize("path", sorted((ROOT / "examples").rglob("*.test.yaml")), ids=str)
def test_the_examples_test_cases_pass(path: Path) -> None:
    outcomes = cases.run_file(path)
    assert outcomes
    assert [o.failures for o in outcomes if not o.passed] == []


def test_a_failing_case_says_what_differs_and_the_command_fails(
    tmp_path: Path, cli: typer.Typer
) -> None:
    (tmp_path / "greet.yaml").write_text(SPEC)
    (tmp_path / "greet.test.yaml").write_text(
        """
cases:
  - name: greets
    input: {name: Ada}
    mocks:
      greet: {output: {greeting: hello Ada}}
    expect: {status: FINISHED, output: {greeting: hello Ada}}
  - name: expects too much
    mocks:
      greet: [{fail: STEP_TIMEOUT}]
    expect:
      status: FINISHED
      steps: {greet: {attempts: 2}}
"""
    )

    result = CliRunner().invoke(cli, ["test", str(tmp_path)])

    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"PASS  {tmp_path / 'greet.test.yaml'}::greets")
    assert lines[1] == f"FAIL  {tmp_path / 'greet.test.yaml'}::expects too much"
    assert lines[2].startswith("      status: expected FINISHED, got FAILED (STEP_TIMEOUT: ")
    assert lines[3] == "      steps.greet.attempts: expected 2, got 1"
    assert lines[-1] == "1 passed, 1 failed"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cases: []", "cases: List should have at least 1 item"),
        ("cases: [{name: x, mocks: {greet: {output: 1, fail: STEP_TIMEOUT}}}]", "cases.0.mocks"),
        ("cases: [{name: x, expect: {status: DONE}}]", "cases.0.expect.status"),
        ("workflow: missing.yaml\ncases: [{name: x}]", "workflow:"),
    ],
)
def test_a_bad_test_file_is_named_with_its_field(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "greet.yaml").write_text(SPEC)
    path = tmp_path / "greet.test.yaml"
    path.write_text(text)
    with pytest.raises(cases.BadSuite, match=message):
        cases.run_file(path)


def test_no_test_files_is_an_error(tmp_path: Path, cli: typer.Typer) -> None:
    result = CliRunner().invoke(cli, ["test", str(tmp_path)])
    assert result.exit_code == 2
    assert "no test files" in result.output
