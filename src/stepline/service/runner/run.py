"""What one invocation may spend, and what a run of the engine in it holds."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stepline import engine
from stepline.engine import Machine
from stepline.integrations.secrets import SecretMask
from stepline.service.deps import Services
from stepline.service.runner.execution_logs import Lines
from stepline.store.queue import StepMessage
from stepline.store.records import ExecutionRecord
from stepline.yawl import Workflow

if TYPE_CHECKING:
    from stepline.service.runner.checkpoint import Chain


SAFETY_MARGIN = 10.0


# Seconds an invocation runs steps inline (between writes) before it checkpoints and hands
# over; the reconciler counts on a log item being followed within this (and the queue's hop).
INLINE_BUDGET = 60.0


@dataclass
class Invocation:
    """Limits of the current invocation: a clock and the time left before it must stop;
    who is told of each batch of calls it makes (``on_call_batch``, given the number of
    calls: the benchmarks count batches through it)."""

    remaining: Callable[[], float] = lambda: 840.0
    inline_budget: float = INLINE_BUDGET
    started: float = field(default_factory=time.monotonic)
    on_call_batch: Callable[[int], None] | None = None
    answer: Callable[[engine.CallRequest], engine.CallResult | None] | None = None
    """Answers a call in place of making it (stepline.testing's mocks); None from it, or no
    ``answer``: the call is made."""

    def time_left(self) -> float:
        """Seconds this invocation may still spend before checkpointing and handing over."""
        return min(self.remaining() - SAFETY_MARGIN, self.inline_budget - self.elapsed())

    def elapsed(self) -> float:
        """Seconds since the invocation started."""
        return time.monotonic() - self.started


@dataclass
class Run:
    svc: Services
    message: StepMessage
    head: ExecutionRecord
    spec: Workflow
    machine: Machine
    seq: int
    invocation: Invocation
    finished: list[dict[str, Any]] = field(default_factory=list)
    results: dict[int, engine.CallResult] = field(default_factory=dict)
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    mask: SecretMask = field(default_factory=SecretMask)
    head_read: float = 0.0  # monotonic time of the newest read that found the head active
    called: bool = False  # a batch of calls was made in this invocation
    pausing: bool = False  # the head was read PAUSED: no new step starts, the run holds
    chain: Chain | None = None  # the full machine the next delta builds on; None: write one
    written_open: dict[int, dict[str, Any]] = field(default_factory=dict)  # as last stored
    lines: Lines = field(default_factory=lambda: Lines(None))  # log lines not yet written
    loaded: bool = True  # the machine is the execution's (not a stand-in before it was read)
    stopped: bool = False  # Stop or Terminate ended the run (its end keeps the machine)

    def may_call(self) -> bool:
        """A batch of calls may start: time is left, or it is the invocation's first batch and
        the Lambda deadline is not near (every invocation makes progress, as the engine's
        first step does)."""
        if self.invocation.time_left() > 0:
            return True
        return not self.called and self.invocation.remaining() > SAFETY_MARGIN
