"""Testing workflows, and drivers shared by the project's tests, benchmarks and dev stack.

For users: :class:`WorkflowTest` runs a workflow in this process with mocked steps and
virtual time (``stepline.testing.workflow``; docs/testing.md), and the pytest plugin of
``stepline.testing.plugin`` gives it as a fixture. For the project: run executions to their end
in this process (``drive``) and hand handlers a Lambda context (``context``).

Not part of the Lambda layer: nothing deployed imports it.
"""

from stepline.testing.context import LambdaContext
from stepline.testing.workflow import (
    Call,
    Fail,
    StepRun,
    UnmockedStep,
    VirtualClock,
    WorkflowRun,
    WorkflowTest,
)

__all__ = [
    "Call",
    "Fail",
    "LambdaContext",
    "StepRun",
    "UnmockedStep",
    "VirtualClock",
    "WorkflowRun",
    "WorkflowTest",
]
