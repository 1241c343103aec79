"""Execution heads for tests and benchmarks that fill a table directly."""

from __future__ import annotations

from datetime import datetime

from stepline.store.records import ExecutionRecord


def execution_record(
    workflow_id: str, n: int, status: str, start: datetime, end: datetime | None
) -> ExecutionRecord:
    """The head of execution number ``n`` of a workflow (its id ends in ``n``), empty input."""
    return ExecutionRecord(
        id=f"{workflow_id}-00000000-0000-4000-8000-{n:012d}",
        workflow_id=workflow_id,
        spec_version=1,
        status=status,
        started_at=start,
        finished_at=end,
        input_json="{}",
    )
