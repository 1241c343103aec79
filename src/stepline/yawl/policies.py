"""Retry policies and catch rules: frozen values with pure helpers (REFERENCE §2.1, §2.2)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import AfterValidator, StrictFloat, StrictInt

from stepline.yawl._base import (
    MAX_RETRY_COUNT,
    InitialDelay,
    MaxDelay,
    SpecModel,
    Str,
    Template,
    _bounded,
)
from stepline.yawl.errors import UNCATCHABLE, WorkflowErrorCode

ErrorListMode = Literal["INCLUDE", "EXCLUDE"]


def error_list_matches(
    codes: Iterable[WorkflowErrorCode], mode: ErrorListMode, code: WorkflowErrorCode | str
) -> bool:
    """Whether `code` is selected by an error list; `ALL` means every code but STEP_INTERNAL."""
    if code in UNCATCHABLE:
        return False
    listed = set(codes)
    hit = code in listed or WorkflowErrorCode.ALL in listed
    return hit if mode == "INCLUDE" else not hit


class RetryPolicy(SpecModel):
    """When and how often a failed integration step is tried again."""

    error_list: tuple[WorkflowErrorCode, ...]
    error_list_mode: ErrorListMode = "INCLUDE"
    initial_delay: InitialDelay = 1.0
    backoff_rate: Annotated[
        StrictFloat, AfterValidator(_bounded(1.0, None, "must be at least 1.0"))
    ] = 1.0
    retry_count: Annotated[
        StrictInt,
        AfterValidator(_bounded(0, MAX_RETRY_COUNT, f"must be between 0 and {MAX_RETRY_COUNT}")),
    ] = 0
    max_delay: MaxDelay = 1.0
    jitter: Literal["FULL", "NONE"] = "NONE"
    """Stepline extension: FULL spreads each delay uniformly over [0, delay]."""

    def matches(self, code: WorkflowErrorCode | str) -> bool:
        """Whether this policy reacts to `code` at all."""
        return error_list_matches(self.error_list, self.error_list_mode, code)

    def delay_for(self, attempt: int, seed: str = "") -> float:
        """Seconds to wait before retry number `attempt` (1-based), capped by maxDelay.

        With ``jitter: FULL`` the delay is a deterministic draw in [0, delay] from ``seed``
        (the caller passes something unique to the attempt), so replays agree.
        """
        if attempt < 1:
            raise ValueError("attempt is 1-based")
        try:
            delay = min(self.initial_delay * self.backoff_rate ** (attempt - 1), self.max_delay)
        except OverflowError:
            delay = self.max_delay
        if self.jitter == "FULL":
            digest = hashlib.sha256(f"{seed}:{attempt}".encode()).digest()
            delay *= int.from_bytes(digest[:8], "big") / 2**64
        return delay

    def should_retry(self, code: WorkflowErrorCode | str, attempt: int) -> bool:
        """Whether retry number `attempt` (1-based) may follow a failure with `code`."""
        return 1 <= attempt <= self.retry_count and self.matches(code)


class CatchRule(SpecModel):
    """Where to go, and what to merge, when a step fails after its retries."""

    error_list: tuple[WorkflowErrorCode, ...]
    error_list_mode: ErrorListMode = "INCLUDE"
    output: Template
    next: Str

    def matches(self, code: WorkflowErrorCode | str) -> bool:
        """Whether this rule handles a failure with `code`."""
        return error_list_matches(self.error_list, self.error_list_mode, code)


def first_matching_rule(
    rules: Iterable[CatchRule], code: WorkflowErrorCode | str
) -> CatchRule | None:
    """The first catch rule that handles `code` (rules are tried in order), if any."""
    return next((rule for rule in rules if rule.matches(code)), None)


__all__ = [
    "CatchRule",
    "ErrorListMode",
    "RetryPolicy",
    "error_list_matches",
    "first_matching_rule",
]
