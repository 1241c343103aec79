"""Redrive: reopen the work an ended (FAILED or STOPPED) machine left undone.

At its end a machine still holds the threads that were in progress: the one whose step failed
(its step and task as they were), its siblings under the same Parallel or Foreach (stopped
where the end found them), and each enclosing compound step's task (a fan-out's finished
children keep their results, a While its iteration count and state). Redrive keeps all of
that and reopens only what did not complete:

- a step in progress (a call, a wait, a step that had not begun its work, a Fail step) starts
  again from its first attempt, with a new history entry;
- a Parallel, Foreach or While in progress keeps its task (finished children, iterations) and
  gets a new entry; its unfinished children are reopened the same way;
- completed steps, and finished children of a fan-out, are not run again.

A Fail step fails again: redrive is for transient failures. The step quota (``steps``) keeps
counting: steps run again count again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from stepline.engine import codec
from stepline.engine.model import Entry, FanOutTask, Machine, Thread, WhileTask
from stepline.engine.steps.children import child_path
from stepline.engine.threads import step_type
from stepline.engine.tick import block_of, new_entry
from stepline.statuses import EntryStatus
from stepline.times import stored
from stepline.yawl.control import Foreach, Parallel
from stepline.yawl.spec import Workflow

# The type of the history entry that marks where a redrive began (no step has it).
REDRIVE_ENTRY_TYPE = "Redrive"


@dataclass
class Redriven:
    """The outcome of :func:`redrive`: the machine, and the entry marking the redrive."""

    machine: Machine
    finished: list[dict[str, Any]] = field(default_factory=list)
    """Entries that ended (in the stored form): the marker of the redrive."""


def redrive_entry_id(count: int) -> str:
    """The id of the history entry marking redrive number ``count`` (no step id has a ``#``)."""
    return f"#redrive/{count}"


def redrive(spec: Workflow, machine: Machine, now: datetime, count: int = 1) -> Redriven:
    """The ended ``machine`` reopened at ``now`` (in place): outcome cleared, the failed and
    unfinished steps ready to run again, finished work kept; ``count`` numbers the redrive."""
    machine.outcome = None
    machine.entries = {}
    machine.children = {}
    machine.n += 1
    marker = Entry(
        n=machine.n,
        id=redrive_entry_id(count),
        type=REDRIVE_ENTRY_TYPE,
        status=EntryStatus.COMPLETED,
        started_at=stored(now),
        title=f"Redrive {count}",
        description="the steps that failed or did not finish run again from here",
        duration="0s",
    )
    # Parents before their children: an enclosing step's new entry comes first.
    for path in sorted(machine.threads, key=lambda p: (p.count("/"), p)):
        thread = machine.threads[path]
        if not thread.done:
            _reopen(spec, machine, thread, now)
    return Redriven(machine, [codec.entry_json(marker)])


def _reopen(spec: Workflow, machine: Machine, thread: Thread, now: datetime) -> None:
    """A thread in progress at the end: its step starts again, or (a compound step) goes on
    with a new entry."""
    machine.touch(thread.path)
    task = thread.task
    if not isinstance(task, FanOutTask | WhileTask):
        thread.task = None  # the step starts again: a new entry, its first attempt
        return
    assert thread.step is not None
    step = block_of(spec, thread.scope).steps[thread.step]
    machine.n += 1
    machine.entries[machine.n] = new_entry(
        machine.n, f"{thread.path}{thread.step}", step_type(step), now, step
    )
    task.n = machine.n
    if isinstance(task, FanOutTask):
        body = step.body
        assert isinstance(body, Parallel | Foreach)
        task.running = [
            i for i in range(task.next) if not machine.threads[child_path(thread, body, i)].done
        ]
