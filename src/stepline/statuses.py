"""The statuses an execution and a history entry go through, as the Workflows API names them.

Both are ``StrEnum``: a member is the API's string, so it is stored, compared and rendered as
that string.
"""

from __future__ import annotations

from enum import StrEnum


class ExecutionStatus(StrEnum):
    """``Execution.Status`` of the API (``STATUS_UNSPECIFIED`` is never stored)."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    STOPPED = "STOPPED"
    FAILED = "FAILED"
    FINISHED = "FINISHED"


class EntryStatus(StrEnum):
    """``HistoryEntry.Status`` of the API: a step execution's status."""

    STARTED = "STARTED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


ACTIVE: tuple[ExecutionStatus, ...] = (
    ExecutionStatus.QUEUED,
    ExecutionStatus.RUNNING,
    ExecutionStatus.PAUSED,
)
"""An execution in one of these has not ended."""
ENDED: tuple[ExecutionStatus, ...] = (
    ExecutionStatus.STOPPED,
    ExecutionStatus.FAILED,
    ExecutionStatus.FINISHED,
)
"""An execution in one of these has ended (STOPPED: its log may still be closing)."""
ADVANCING: tuple[ExecutionStatus, ...] = (ExecutionStatus.QUEUED, ExecutionStatus.RUNNING)
"""The runner advances an execution in one of these."""
