"""The runner: advances one execution per steps-queue message, effectively once.

A message ``(executionId, seq)`` asks to extend the execution's log at position ``seq``. The
runner reads the head and the newest log item, runs the engine inline as far as it can
(control steps in memory, integration calls performed here, concurrently where branches
allow), and appends one log item per batch of calls, before the calls start. Appends are
conditional, so a duplicate or late message can never write a second transition: it loses the
race and stops.

One module per job:

========================  ==============================================================
``routing``               what a message asks for: advance, repair, park, or drop it
``drive``                 advancing an execution and handing over to the next invocation
``checkpoint``            appending the log item (machine in full or as a delta); RUNNING
``stopping``              Stop and Terminate seen before, during and after calls
``redriving``             a redriven execution's log reopened before it goes on
``calls``                 integration calls, concurrent, each in its own trace subsegment
``masking``               secret values kept out of what is stored and logged
``metrics``               EMF metrics of steps and executions
``edge``                  the Lambda edge: SQS records, direct hand-overs, dead letters
``run``                   an invocation's limits and the state of one run
``spec_cache``            parsed workflow specifications of a warm runner
========================  ==============================================================
"""

from stepline.service.runner.edge import (
    fail_poisoned,
    process_dead_letter,
    process_direct,
    process_record,
    recurs,
)
from stepline.service.runner.routing import ExecutionGone, handle
from stepline.service.runner.run import INLINE_BUDGET, SAFETY_MARGIN, Invocation

# The public name, as traces and logs show it (tracer.capture_method names the subsegment).
handle.__module__ = __name__

__all__ = [
    "INLINE_BUDGET",
    "SAFETY_MARGIN",
    "ExecutionGone",
    "Invocation",
    "fail_poisoned",
    "handle",
    "process_dead_letter",
    "process_direct",
    "process_record",
    "recurs",
]
