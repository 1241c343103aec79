"""Failures of the storage adapters, free of botocore types."""

from __future__ import annotations


class StoreError(Exception):
    """Base of every storage failure."""


class ConditionFailed(StoreError):
    """A conditional write lost: the item was not in the expected state."""


class TransactionConflict(StoreError):
    """A transaction was cancelled; ``reasons`` holds one code per operation ('None' = fine)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(f"transaction cancelled: {reasons}")
        self.reasons = reasons

    def failed_at(self, index: int) -> bool:
        """Whether the operation at ``index`` failed its condition."""
        return index < len(self.reasons) and self.reasons[index] == "ConditionalCheckFailed"
