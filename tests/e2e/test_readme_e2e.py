"""Every command of the README, run as a reader runs it, against a dev stack on free ports.

The stack runs with ``--time-scale 0.01`` (as the README's triggers section starts it), and
the shell gets what a reader's second terminal has: the ``export`` lines this stack printed
and the project's ``stepline`` on PATH. What each command prints is held against what the
README writes under it (conventions: :mod:`tests.e2e.readme`), so the README cannot drift
from what a user sees.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.e2e import readme
from tests.e2e.conftest import RunningStack, launch_dev_stack, stop_dev_stack

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parents[2]
README = ROOT / "README.md"
STEP_TIMEOUT = 120.0
EXPORTS_DEADLINE = 10.0
# The blocks the README marks as not run (by their first line), and why no test can run them.
NOT_RUN = {
    "make dev     # the whole stack on this machine: API, start-by-link API, gRPC, AWS emulator": (
        "the test starts the stack itself, on free ports; `make test` is what runs this test"
    ),
    "source .venv/bin/activate": (
        "the test's shell has its interpreter's bin/ on PATH and this stack's export lines"
    ),
    "sam build && sam deploy --guided": "it needs an AWS account",
}
# The ports the README's ready lines show: make dev's defaults.
DEFAULT_PORTS = {"api": 8080, "public": 8081, "grpc": 8082, "aws": 4566}


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    """``stepline dev --time-scale 0.01`` on free ports."""
    running = launch_dev_stack("--time-scale", "0.01")
    yield running
    stop_dev_stack(running)


def exported(stack: RunningStack) -> dict[str, str]:
    """The variables of the ``export`` lines the stack printed after its ready line."""
    deadline = time.monotonic() + EXPORTS_DEADLINE
    while True:
        found = dict(
            line.removeprefix("export ").split("=", 1)
            for line in stack.lines
            if line.startswith("export ")
        )
        if "STEPLINE_GRPC_ENDPOINT" in found:  # the last line
            return found
        assert time.monotonic() < deadline, "no export lines:\n" + "\n".join(stack.lines)
        time.sleep(0.05)


def reader_environment(stack: RunningStack) -> dict[str, str]:
    """A second terminal's environment: nothing of AWS or Stepline but the export lines."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "STEPLINE_", "POWERTOOLS_"))
    }
    path = os.pathsep.join([str(Path(sys.executable).parent), base.get("PATH", "")])
    return base | {"PATH": path} | exported(stack)


def ready_lines(stack: RunningStack) -> list[str]:
    """What the stack printed from its first workflow line to its last export line."""
    lines = stack.lines
    first = next(i for i, line in enumerate(lines) if line.startswith("workflow "))
    last = max(i for i, line in enumerate(lines) if line.startswith("export "))
    return lines[first : last + 1]


def stack_ports(stack: RunningStack) -> dict[str, int]:
    """The ports this stack listens on, by the README's names for them."""
    env = exported(stack)

    def port(url: str) -> int:
        return int(url.rsplit(":", 1)[1])

    return {
        "api": port(env["STEPLINE_ENDPOINT"]),
        "public": port(env["STEPLINE_PUBLIC_ENDPOINT"]),
        "grpc": port(env["STEPLINE_GRPC_ENDPOINT"]),
        "aws": port(env["AWS_ENDPOINT_URL"]),
    }


def test_the_reader_tells_output_from_commentary_and_matches_it_line_for_line() -> None:
    block = readme.Block(
        "sh",
        [
            "# commentary at the top",
            "X=$(echo one \\",
            "  two)",
            "echo $X",
            "# one two",
            "",
            "# commentary after a blank line",
            "printf 'a\\nb\\n'   # a comment on the line",
            "# a",
            "# b",
        ],
        1,
    )
    found = readme.steps(block)
    assert [(step.command.splitlines()[0], step.expected) for step in found] == [
        ("X=$(echo one \\", []),
        ("echo $X", ["one two"]),
        ("printf 'a\\nb\\n'   # a comment on the line", ["a", "b"]),
    ]
    assert readme.matches(["one two"], ["one two"])
    assert not readme.matches(["one two"], ["one three"])
    assert not readme.matches(["one"], ["one", "two"])
    assert readme.matches(['{"id": ...}', "..."], ['{"id": 7}', "more", "lines"])
    assert readme.matches(["..."], [])
    assert not readme.matches(["a...c"], ["a\nc"])


def test_the_readme_documents_output_for_most_commands() -> None:
    # A reader that missed the documented output would compare nothing and pass.
    commands = [
        step
        for block in readme.blocks(README.read_text())
        if block.language == "sh" and block.not_run is None
        for step in readme.steps(block)
    ]
    assert len(commands) >= 60
    assert sum(1 for step in commands if step.expected) >= 30


def test_only_blocks_no_test_can_run_are_marked_not_run() -> None:
    marked = {block.first: block.not_run for block in readme.blocks(README.read_text())}
    not_run = {first: why for first, why in marked.items() if why is not None}
    assert set(not_run) == set(NOT_RUN), "a README block is marked not run, or unmarked"
    assert all(why.strip() for why in not_run.values())


def test_the_ready_lines_are_what_the_stack_prints(stack: RunningStack) -> None:
    documented = next(
        block.lines
        for block in readme.blocks(README.read_text())
        if block.language == "" and block.first.startswith("workflow ")
    )
    ports = stack_ports(stack)
    expected = []
    for line in documented:
        for name, default in DEFAULT_PORTS.items():
            line = re.sub(rf":{default}\b", f":{ports[name]}", line)
        expected.append(line)
    assert ready_lines(stack) == expected


def test_every_command_prints_what_the_readme_says(stack: RunningStack, tmp_path: Path) -> None:
    (tmp_path / "examples").symlink_to(ROOT / "examples")  # relative paths as from the repo
    env = reader_environment(stack)
    shell = readme.Shell(tmp_path, env, tmp_path / "stderr.log")
    problems: list[str] = []
    try:
        for block in readme.blocks(README.read_text()):
            if block.not_run is not None or block.language not in ("sh", "python"):
                continue
            if block.language == "python":
                problems += run_python(block, env, tmp_path)
                continue
            for step in readme.steps(block):
                problems += run_step(shell, step)
    finally:
        shell.close()
    stderr = (tmp_path / "stderr.log").read_text()[-3000:]
    assert not problems, "\n\n".join(problems) + f"\n\nthe shell's stderr, last lines:\n{stderr}"


def run_step(shell: readme.Shell, step: readme.Step) -> list[str]:
    """Run one command; what is wrong with what it printed (nothing: an empty list)."""
    status, printed = shell.run(step.command, STEP_TIMEOUT)
    if status != 0:
        return [f"README line {step.line}: exit status {status}: {step.command}\n{printed}"]
    if step.expected and not readme.matches(step.expected, printed):
        return [
            f"README line {step.line}: {step.command}\n"
            f"documented: {step.expected}\nprinted:    {printed}"
        ]
    return []


def run_python(block: readme.Block, env: dict[str, str], cwd: Path) -> list[str]:
    """Run a Python block on its own; what is wrong with what it printed."""
    ran = subprocess.run(
        [sys.executable, "-c", "\n".join(block.lines)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=STEP_TIMEOUT,
        check=False,
    )
    printed = ran.stdout.splitlines()
    if ran.returncode != 0:
        return [f"README line {block.line}: python exited {ran.returncode}:\n{ran.stderr}"]
    expected = readme.python_output(block)
    if not readme.matches(expected, printed):
        return [f"README line {block.line}: documented {expected}, printed {printed}"]
    return []


def test_the_configuration_table_lists_every_template_parameter_with_its_default() -> None:
    yaml = YAML(typ="safe")
    yaml.constructor.add_multi_constructor("!", lambda loader, tag, node: None)
    parameters = yaml.load((ROOT / "template.yaml").read_text())["Parameters"]
    text = README.read_text()
    table = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    for name, spec in parameters.items():
        row = next((r for r in rows if f"`{name}`" in r.split(" | ")[0]), None)
        assert row is not None, f"{name} is not in the README's configuration table"
        default = str(spec.get("Default", ""))
        cells = row.split(" | ")
        if default:
            assert f"`{default}`" in cells[1], f"{name}: default {default} not in {cells[1]}"
        else:
            assert "empty" in cells[1], f"{name}: no default, and the table says {cells[1]}"


def test_the_port_example_does_not_collide_with_the_walkthrough_ports() -> None:
    text = README.read_text()
    moved = int(re.search(r"make dev PORT=(\d+)", text).group(1))  # type: ignore[union-attr]
    aws = int(re.search(r"make dev PORT=\d+ AWS_PORT=(\d+)", text).group(1))  # type: ignore[union-attr]
    stack = {moved, moved + 1, moved + 2, aws}
    commands = "\n".join(
        "\n".join(block.lines)
        for block in readme.blocks(text)
        if block.language == "sh" and block.not_run is None
    )
    found = re.findall(r"http\.server (\d+)|127\.0\.0\.1:(\d+)", commands)
    used = {int(port) for pair in found for port in pair if port}
    assert used, "the walkthrough's own ports were not found"
    assert not stack & used, f"make dev PORT={moved} would take {stack & used}"
