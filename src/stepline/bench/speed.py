"""Wall time start → FINISHED of the runner, next to Step Functions running the same work.

Both sides run in this process on moto, in the same run: Stepline with its table and queue
built from template.yaml and the steps queue drained into the real runner
(:func:`stepline.testing.drive.run_to_end`); Step Functions with moto's executor
(``execute_state_machine``), polled with DescribeExecution until it succeeds. Cases: a chain
of NoOp steps against a chain of Pass states, and a Foreach with a NoOp body against a Map
with an inline Pass iterator. Each figure is the median of a few runs after a warm-up run, the
two engines taking turns.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial
from typing import Any

from stepline.bench import harness

HELP = "runner vs. moto's Step Functions executor: NoOp chain and Foreach"
ROLE_ARN = "arn:aws:iam::123456789012:role/stepline-bench"
ENVIRONMENT = {"POWERTOOLS_METRICS_DISABLED": "true"}
# DescribeExecution every 10 ms: polling much faster starves moto's executor thread of the
# GIL and makes Step Functions look slower than it is; much slower adds waiting to its figure.
ASL_POLL_INTERVAL = 0.01


@dataclass(frozen=True)
class Case:
    """One workload in both languages, with the execution input they share."""

    name: str
    yawl: str
    asl: dict[str, Any]
    execution_input: dict[str, Any]


def chain(steps: int) -> Case:
    """``steps`` NoOp steps one after another; ``steps`` Pass states likewise."""
    lines = ['yawl: "0.1"', "start: s0", "steps:"]
    for i in range(steps):
        lines.append(f"  s{i}:")
        lines.append(f"    noOp: {{next: s{i + 1}}}" if i + 1 < steps else "    noOp: {}")
    states: dict[str, Any] = {
        f"s{i}": {"Type": "Pass", "Next": f"s{i + 1}"} for i in range(steps - 1)
    }
    states[f"s{steps - 1}"] = {"Type": "Pass", "End": True}
    asl = {"StartAt": "s0", "States": states}
    return Case("chain", "\n".join(lines) + "\n", asl, {"n": 1})


def foreach(items: int) -> Case:
    """A Foreach over ``items`` objects with a NoOp body; a Map with an inline Pass iterator."""
    yawl = """\
yawl: "0.1"
start: each
steps:
  each:
    foreach:
      input: '\\(.items)'
      output: '\\({results: .})'
      do:
        start: touch
        steps:
          touch:
            noOp: {}
"""
    asl = {
        "StartAt": "each",
        "States": {
            "each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ResultPath": "$.results",
                "Iterator": {
                    "StartAt": "touch",
                    "States": {"touch": {"Type": "Pass", "End": True}},
                },
                "End": True,
            }
        },
    }
    return Case("foreach", yawl, asl, {"items": [{"i": i} for i in range(items)]})


# --- the two engines -----------------------------------------------------------------------


@cache
def _client(service: str) -> Any:
    import boto3

    return boto3.client(service)  # type: ignore[call-overload]


class Stepline:
    """The runner on moto, resources built from template.yaml."""

    def __init__(self) -> None:
        from stepline.dev import resources
        from stepline.service.deps import Services, Settings

        physical = resources.provision(_client, stack_name="stepline-bench")
        settings = Settings.from_env(resources.environment(physical))
        self.svc = Services(settings, _client)
        self._workflows: dict[str, str] = {}

    def prepare(self, case: Case) -> None:
        """Create the case's workflow."""
        from stepline.models import CreateWorkflowRequest
        from stepline.service import workflows

        request = CreateWorkflowRequest.model_validate(
            {"folderId": "bench", "name": case.name, "specification": {"specYaml": case.yawl}}
        )
        created = workflows.create(self.svc, request, caller="bench")
        self._workflows[case.name] = created.resource_id

    def run(self, case: Case) -> float:
        """Seconds from Start to FINISHED."""
        from stepline.service import executions
        from stepline.testing.drive import run_to_end

        command = executions.StartCommand(
            self._workflows[case.name], json.dumps(case.execution_input), caller="bench"
        )
        began = time.perf_counter()
        execution_id = executions.start(self.svc, command)
        execution = run_to_end(self.svc, execution_id, deadline=120.0)
        elapsed = time.perf_counter() - began
        if execution["status"] != "FINISHED":
            raise RuntimeError(f"{case.name}: execution ended {execution['status']}: {execution}")
        return elapsed


class StepFunctions:
    """moto's Step Functions executor."""

    def __init__(self) -> None:
        self.sfn = _client("stepfunctions")
        self._machines: dict[str, str] = {}

    def prepare(self, case: Case) -> None:
        """Create the case's state machine."""
        reply = self.sfn.create_state_machine(
            name=f"bench-{case.name}", definition=json.dumps(case.asl), roleArn=ROLE_ARN
        )
        self._machines[case.name] = reply["stateMachineArn"]

    def run(self, case: Case) -> float:
        """Seconds from StartExecution until DescribeExecution says SUCCEEDED."""
        began = time.perf_counter()
        arn = self.sfn.start_execution(
            stateMachineArn=self._machines[case.name],
            name=uuid.uuid4().hex,
            input=json.dumps(case.execution_input),
        )["executionArn"]
        deadline = began + 120.0
        while True:
            status = self.sfn.describe_execution(executionArn=arn)["status"]
            if status != "RUNNING":
                break
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{case.name}: state machine still RUNNING")
            time.sleep(ASL_POLL_INTERVAL)
        elapsed = time.perf_counter() - began
        if status != "SUCCEEDED":
            raise RuntimeError(f"{case.name}: state machine ended {status}")
        return elapsed


# --- measuring -----------------------------------------------------------------------------


def emulated_aws() -> Any:
    """moto for every service, Step Functions really executing; environment restored after.

    The runner's EMF metric lines go to /dev/null: they are written (and cost what they cost)
    but do not mix with the figures on stdout.
    """
    return harness.emulated_aws(
        ENVIRONMENT, config={"stepfunctions": {"execute_state_machine": True}}, quiet=True
    )


def side_by_side(
    ours: Callable[[], float], theirs: Callable[[], float], repeats: int
) -> tuple[float, float]:
    """Median seconds of each, after a warm-up run of each, runs alternating.

    Alternating keeps both sides under the same load when the machine is busy.
    """
    ours(), theirs()
    pairs = [(ours(), theirs()) for _ in range(repeats)]
    return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)


def measure(cases: list[Case], repeats: int) -> dict[str, dict[str, float]]:
    """Per case: Stepline seconds, ASL seconds and their ratio."""
    figures: dict[str, dict[str, float]] = {}
    with emulated_aws():
        stepline, asl = Stepline(), StepFunctions()
        for case in cases:
            stepline.prepare(case)
            asl.prepare(case)
            ours, theirs = side_by_side(
                partial(stepline.run, case), partial(asl.run, case), repeats
            )
            figures[case.name] = {
                "stepline_s": round(ours, 4),
                "asl_s": round(theirs, 4),
                "ratio": round(ours / theirs, 3),
            }
    return figures


def table(figures: dict[str, dict[str, float]], size: int, repeats: int) -> str:
    """The figures as a text table."""
    rows = [
        f"start → FINISHED on moto, {size} steps/items, median of {repeats} runs",
        f"{'case':<10}{'stepline s':>12}{'ASL s':>10}{'ratio':>8}",
    ]
    for name, row in figures.items():
        rows.append(
            f"{name:<10}{row['stepline_s']:>12.4f}{row['asl_s']:>10.4f}{row['ratio']:>8.2f}"
        )
    rows.append("ratio = Stepline / Step Functions (lower is better; goal <= 0.5)")
    return "\n".join(rows)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``speed``."""
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--repeats", type=int, default=7, help="runs per figure (median)")
    parser.add_argument("--size", type=int, default=100, help="steps in the chain, Foreach items")


def main(args: argparse.Namespace) -> int:
    """Measure and print; exit status 0."""
    if args.size < 1 or args.repeats < 1:
        raise SystemExit("--size and --repeats must be at least 1")
    figures = measure([chain(args.size), foreach(args.size)], args.repeats)
    print(json.dumps(figures) if args.json else table(figures, args.size, args.repeats))
    return 0
