"""The pytest plugin: ``workflow_test`` makes a WorkflowTest of a file beside the test."""

from __future__ import annotations

from collections.abc import Callable

from stepline.testing import WorkflowTest


def test_the_fixture_reads_a_workflow_relative_to_the_test(
    workflow_test: Callable[..., WorkflowTest],
) -> None:
    run = workflow_test("../../examples/hello.yaml").run({"name": "Ada"})
    assert (run.status, run.output) == ("FINISHED", {"greeting": "Hello, Ada!"})
