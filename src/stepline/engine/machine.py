"""A YaWL execution as a machine of threads, advanced step by step.

:func:`advance` runs every thread as far as it can without waiting: control steps evaluate
inline; an integration step becomes a :class:`CallRequest` for the runner; Wait steps and retry
delays become a wake-up time. Results of calls come back in the next :func:`advance`.

The machine stays linear in the work it describes, whatever the fan-out:

- the top-level state is held once, by the top-level thread; the threads of nested scopes read
  it from there as ``$global`` (the top-level thread waits on the compound step while they run,
  so its state is the one the step started with);
- a Parallel branch or Foreach item becomes a thread when it starts, and once it has ended keeps
  only its result; an advance looks only at the children still running;
- :func:`advance` works on the machine it is given, in place, and values are never changed in
  place, so a checkpoint writes only what changed (:mod:`stepline.engine.codec`).

History entry ids: top-level steps use their step id; steps inside nested scopes are prefixed
by their parent: ``par/branch/step`` (Parallel), ``each[3]/step`` (Foreach item 3),
``loop[2]/step`` (While iteration 2).

Secret values templates read (``lockboxPayload``, from the ``secrets`` the runner passes) are
held as they are: in the state, the entries, the outcome. The engine does no I/O and redacts
nothing; the runner keeps them out of what it stores and shows
(:class:`stepline.integrations.secrets.SecretMask`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from stepline.engine import codec, threads
from stepline.engine.model import Machine, Outcome, Thread
from stepline.engine.tick import MAX_STEPS, CallRequest, CallResult, End, Tick, block_of, problem
from stepline.engine.tick import closed_entry as _closed_entry
from stepline.statuses import EntryStatus
from stepline.yawl import state as st
from stepline.yawl.errors import StepFailure
from stepline.yawl.spec import Step, Workflow

# The parts of a stored history entry that hold step data or messages, as (field, key):
# everything else in an entry the engine makes from the spec and its own bookkeeping.
ENTRY_DATA = (
    ("input", "inputJson"),
    ("output", "outputJson"),
    ("error", "message"),
    ("lastError", "message"),
)


@dataclass
class Advance:
    """The outcome of one :func:`advance`."""

    machine: Machine
    calls: list[CallRequest] = field(default_factory=list)
    wake_at: datetime | None = None
    finished: list[dict[str, Any]] = field(default_factory=list)
    """Entries that ended, in the stored form."""
    paused: bool = False
    """Steps were left unstarted because ``pause`` asked: go on in a new advance."""

    @property
    def ended(self) -> bool:
        """True when the execution reached FINISHED or FAILED."""
        return self.machine.outcome is not None


def new_machine(execution_input: Any, execution_id: str = "") -> Machine:
    """A machine about to run the workflow's first step."""
    machine = Machine(id=execution_id)
    machine.threads[""] = Thread(path="", state=st.initial_state(execution_input))
    machine.touch("")
    return machine


def advance(
    spec: Workflow,
    machine: Machine,
    now: datetime,
    results: Mapping[int, CallResult] | None = None,
    *,
    scale: float = 1.0,
    start_new: bool = True,
    secrets: Mapping[str, Mapping[str, str]] | None = None,
    pause: Callable[[], bool] | None = None,
    max_steps: int | None = None,
) -> Advance:
    """Run every thread as far as it goes; return calls to make, a wake time, ended entries.

    The advance changes ``machine`` in place and returns it as ``Advance.machine``: the caller
    goes on with that one, and copies the machine first if it needs it as it was.

    With ``start_new=False`` only the results are taken in (Stop: the running steps finish,
    nothing else starts). ``pause`` is asked before each new step but the first; once it says
    True, no further step starts and the advance returns ``paused`` (the caller's time budget:
    the engine itself reads no clock). ``max_steps`` is the execution's step quota (every
    branch and iteration counts; None: ``MAX_STEPS``); beyond it the execution fails with
    STEP_QUOTA_EXCEEDED.
    """
    quota = MAX_STEPS if max_steps is None else max_steps
    tick = Tick(spec, machine, now, results or {}, scale, start_new, secrets or {}, pause, quota)
    root = machine.root
    if machine.outcome is None:
        if root.step is None and not root.done:
            root.step = spec.start
        try:
            threads.run(tick, root)
            if root.done:
                tick.finish_ok(root)
        except End:
            pass
        except StepFailure as failure:
            tick.finish_failed(failure)
    paused = tick.paused and machine.outcome is None
    # A paused advance goes on at once in the next one: its wake-up would come too late.
    wake = None if machine.outcome is not None or tick.calls or paused else tick.wake
    return Advance(machine, tick.calls, wake, tick.finished, paused)


def fail(machine: Machine, failure: StepFailure, now: datetime) -> Machine:
    """The machine ended FAILED before its next step could run (e.g. a secret is unreadable)."""
    machine.entries = {}
    machine.outcome = Outcome(status="FAILED", error=problem(failure))
    return machine


def cancel_open(
    machine: Machine, now: datetime, status: str = EntryStatus.CANCELLED
) -> list[dict[str, Any]]:
    """Close every open history entry with ``status`` (Stop, Terminate); the stored forms."""
    closed = [
        codec.entry_json(_closed_entry(entry, now, status))
        for entry in sorted(machine.entries.values(), key=lambda e: e.n)
    ]
    machine.entries = {}
    return closed


def cancel_entries(
    still_open: Iterable[Mapping[str, Any]], now: datetime, status: str = EntryStatus.CANCELLED
) -> list[dict[str, Any]]:
    """Open entries in the stored form (a log item's), closed with ``status``."""
    entries = sorted((codec.entry_of(e) for e in still_open), key=lambda e: e.n)
    return [codec.entry_json(_closed_entry(entry, now, status)) for entry in entries]


def request_cancel(machine: Machine, running: Iterable[int]) -> None:
    """Terminate came while these calls run: their entries say CANCEL_REQUESTED."""
    for n in running:
        if n in machine.entries:
            machine.entries[n].status = "CANCEL_REQUESTED"


def outcome(machine: Machine) -> dict[str, Any] | None:
    """How the execution ended (``status`` FINISHED with ``result``, or FAILED with ``error``);
    None while it runs."""
    return codec.outcome_json(machine.outcome)


def open_entries(machine: Machine) -> list[dict[str, Any]]:
    """Entries of steps still in progress, oldest first, in the stored form (GetHistory shows
    them as they are)."""
    return [codec.entry_json(e) for e in sorted(machine.entries.values(), key=lambda e: e.n)]


def step_at(spec: Workflow, scope: tuple[tuple[str, str], ...], step_id: str) -> Step:
    """The step a CallRequest refers to."""
    return block_of(spec, list(scope)).steps[step_id]


# --- child executions of Workflow steps ------------------------------------------------------


def child_of(machine: Machine, n: int) -> str | None:
    """The child execution the Workflow step of entry ``n`` started, if any."""
    return machine.children.get(n)


def remember_child(machine: Machine, n: int, execution_id: str) -> None:
    """The Workflow step of entry ``n`` started ``execution_id``."""
    machine.children[n] = execution_id


def forget_child(machine: Machine, n: int) -> None:
    """The child of entry ``n`` ended and its outcome was taken (a retry starts a new one)."""
    machine.children.pop(n, None)


def child_executions(machine: Machine) -> list[str]:
    """The child executions the machine waits for."""
    return list(machine.children.values())
