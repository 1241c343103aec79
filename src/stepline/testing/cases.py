"""Test cases written in YAML next to a workflow, run by ``stepline test``.

``flows/order.test.yaml`` tests ``flows/order.yaml`` (or the file its ``workflow`` names)::

    workflow: order.yaml
    cases:
      - name: a flaky lookup is retried
        input: {orderId: 42}
        mocks:
          lookup:                       # a step id, or an entry path (fan/each[0]/lookup)
            - fail: FUNCTION_CALL_INVALID_RESPONSE
            - output: {total: 42}       # one answer per call, the last one repeats
        expect:
          status: FINISHED
          output: {total: 42}           # the execution's result
          steps:
            lookup: {status: COMPLETED, attempts: 2}
          history: [lookup, done]       # entry ids, in order (all of them)

Every case runs with :class:`~stepline.testing.workflow.WorkflowTest` (virtual time, the
production runner); ``unmocked: refuse`` at the top or in a case fails a case whose workflow
runs a step without a mock. What ``expect`` does not name is not checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from stepline.testing.workflow import Fail, Mock, UnmockedStep, WorkflowRun, WorkflowTest
from stepline.yawl.source import parse_document

SUFFIX = ".test.yaml"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MockAnswer(_Model):
    """One answer of a mocked step: an ``output``, or a ``fail`` code (and its ``message``)."""

    output: Any = None
    fail: str | None = None
    message: str = "mocked failure"

    @model_validator(mode="before")
    @classmethod
    def _one_of(cls, value: Any) -> Any:
        if not isinstance(value, dict) or ("output" in value) == ("fail" in value):
            raise ValueError("an answer is {output: <value>} or {fail: <error code>}")
        return value

    def answer(self) -> Any:
        """As the test kit takes it."""
        return Fail(self.fail, self.message) if self.fail is not None else self.output


class StepExpectation(_Model):
    """What one history entry should show."""

    status: str | None = None
    attempts: int | None = None
    output: Any = None
    error_code: str | None = Field(default=None, alias="errorCode")


class Expectation(_Model):
    """What the run should end with."""

    status: Literal["FINISHED", "FAILED", "STOPPED"] | None = None
    output: Any = None
    error_code: str | None = Field(default=None, alias="errorCode")
    steps: dict[str, StepExpectation] = Field(default_factory=dict)
    history: list[str] | None = None


class Case(_Model):
    """One run of the workflow and what it should do."""

    name: str
    input: Any = None
    mocks: dict[str, MockAnswer | list[MockAnswer]] = Field(default_factory=dict)
    unmocked: Literal["run", "refuse"] | None = None
    expect: Expectation = Field(default_factory=Expectation)

    def mock_table(self) -> dict[str, Mock]:
        """The mocks as WorkflowTest takes them."""
        return {
            step: [a.answer() for a in given] if isinstance(given, list) else given.answer()
            for step, given in self.mocks.items()
        }


class Suite(_Model):
    """A test file: the workflow it tests and its cases."""

    workflow: str | None = None
    unmocked: Literal["run", "refuse"] = "run"
    cases: list[Case] = Field(min_length=1)


@dataclass(frozen=True)
class Outcome:
    """How one case went: its failures (none: it passed)."""

    file: Path
    case: str
    failures: list[str]
    seconds_virtual: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.failures


class BadSuite(ValueError):
    """A test file that cannot be read; the message names the file and the field."""


def load(path: Path) -> tuple[Suite, Path]:
    """The suite of a test file and the workflow it tests."""
    try:
        data = parse_document(path.read_text()).data
        suite = Suite.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BadSuite(f"{path}: {where}: {first['msg']}") from exc
    except (OSError, ValueError) as exc:
        raise BadSuite(f"{path}: {exc}") from exc
    name = suite.workflow or path.name.removesuffix(SUFFIX) + ".yaml"
    workflow = path.parent / name
    if not workflow.is_file():
        raise BadSuite(f"{path}: workflow: {workflow} does not exist")
    return suite, workflow


def run_file(path: Path) -> list[Outcome]:
    """Run every case of a test file."""
    suite, workflow = load(path)
    spec = workflow.read_text()
    outcomes = []
    for case in suite.cases:
        test = WorkflowTest(spec, mocks=case.mock_table(), unmocked=case.unmocked or suite.unmocked)
        try:
            run = test.run(case.input)
        except (UnmockedStep, TimeoutError, RuntimeError, ValueError) as exc:
            outcomes.append(Outcome(path, case.name, [f"{type(exc).__name__}: {exc}"]))
            continue
        seconds = run.duration.total_seconds()
        outcomes.append(Outcome(path, case.name, check(case.expect, run), seconds))
    return outcomes


def check(expect: Expectation, run: WorkflowRun) -> list[str]:
    """Where the run differs from what was expected."""
    failures = []
    if expect.status is not None and run.status != expect.status:
        failures.append(f"status: expected {expect.status}, got {run.status}{_why(run)}")
    if "output" in expect.model_fields_set and run.output != expect.output:
        failures.append(f"output: expected {expect.output!r}, got {run.output!r}")
    got_code = (run.error or {}).get("errorCode")
    if expect.error_code is not None and got_code != expect.error_code:
        failures.append(f"errorCode: expected {expect.error_code}, got {got_code}")
    if expect.history is not None and [e.id for e in run.history] != expect.history:
        failures.append(f"history: expected {expect.history}, got {[e.id for e in run.history]}")
    for step, wanted in expect.steps.items():
        entry = run.steps.get(step) or next(iter(run.step(step)[-1:]), None)
        if entry is None:
            failures.append(f"steps.{step}: did not run")
            continue
        failures += _step_failures(step, wanted, entry)
    return failures


def _step_failures(step: str, wanted: StepExpectation, entry: Any) -> list[str]:
    failures = []
    for name in ("status", "attempts"):
        value = getattr(wanted, name)
        if value is not None and getattr(entry, name) != value:
            failures.append(f"steps.{step}.{name}: expected {value}, got {getattr(entry, name)}")
    if "output" in wanted.model_fields_set and entry.output != wanted.output:
        failures.append(f"steps.{step}.output: expected {wanted.output!r}, got {entry.output!r}")
    code = (entry.error or {}).get("errorCode")
    if wanted.error_code is not None and code != wanted.error_code:
        failures.append(f"steps.{step}.errorCode: expected {wanted.error_code}, got {code}")
    return failures


def _why(run: WorkflowRun) -> str:
    if run.error:
        return f" ({run.error.get('errorCode')}: {run.error.get('message')})"
    return ""


def discover(paths: list[Path]) -> list[Path]:
    """The test files among ``paths`` (a folder: its ``*.test.yaml``, at any depth)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(path.rglob(f"*{SUFFIX}"))
        else:
            found.append(path)
    return found
