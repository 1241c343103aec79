"""One advance in progress, and what every kind of step does with it.

A :class:`Tick` carries the spec, the machine, the clock the caller gave, the results of
calls, and collects what the advance produces (calls to make, a wake-up, ended entries). The
helpers below are the steps' common vocabulary: render a template, record an input, complete or
fail an entry, move a thread on, merge an output.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from stepline import bounds
from stepline.engine import codec
from stepline.engine.model import Entry, Machine, Outcome, Problem, Thread
from stepline.statuses import EntryStatus
from stepline.times import duration, from_stored, stored
from stepline.yawl import state as st
from stepline.yawl.errors import StepFailure, WorkflowErrorCode
from stepline.yawl.spec import Block, Workflow
from stepline.yawl.templating import render

MAX_STEPS = 1000
MAX_DATA_BYTES = 2 * 1024 * 1024
DEFAULT_TIMEOUT = 900.0


@dataclass(frozen=True)
class CallRequest:
    """An integration step attempt for the runner to perform."""

    n: int
    entry_id: str
    scope: tuple[tuple[str, str], ...]
    step_id: str
    step_input: Any
    attempt: int
    timeout: float


@dataclass(frozen=True)
class CallResult:
    """What an attempt returned: an output, or a failure code and message; or, for a step
    that waits for an answer (waitForTask), ``wait_until``: none yet, look again by then."""

    output: Any = None
    code: str | None = None
    message: str = ""
    wait_until: datetime | None = None

    @property
    def failed(self) -> bool:
        """True when the attempt failed."""
        return self.code is not None


class End(Exception):
    """Unwinds the thread tree when the whole execution ends (Success, Fail, uncaught)."""


@dataclass
class Tick:
    """One advance: its inputs, and what it has produced so far."""

    spec: Workflow
    machine: Machine
    now: datetime
    results: Mapping[int, CallResult]
    scale: float = 1.0
    start_new: bool = True
    secrets: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    pause: Callable[[], bool] | None = None
    max_steps: int = MAX_STEPS
    calls: list[CallRequest] = field(default_factory=list)
    finished: list[dict[str, Any]] = field(default_factory=list)
    wake: datetime | None = None
    paused: bool = False
    started: int = 0

    def want_wake(self, at: datetime) -> None:
        """Ask to be advanced again at ``at`` (the earliest of the asks wins)."""
        self.wake = at if self.wake is None else min(self.wake, at)

    def may_start(self) -> bool:
        """A new step may start now (not a Stop's advance, and no pause asked for).

        A pause is honoured once a step has started in this advance, so every advance moves on.
        """
        if not self.start_new:
            return False
        if self.started and self.pause is not None and self.pause():
            self.paused = True
            return False
        self.started += 1
        return True

    # --- threads ---------------------------------------------------------------------------

    def new_thread(
        self, path: str, scope: list[tuple[str, str]], start: str | None, state: Any
    ) -> Thread:
        """A thread about to run its block's first step, in the machine."""
        thread = Thread(path=path, scope=scope, step=start, state=state)
        self.machine.threads[path] = thread
        self.machine.touch(path)
        return thread

    def drop_thread(self, path: str) -> None:
        """A child the machine no longer needs."""
        if self.machine.threads.pop(path, None) is not None:
            self.machine.touch(path)

    # --- templates -------------------------------------------------------------------------

    def render(self, template: str, data: Any, thread: Thread) -> Any:
        """Render a template with ``$global`` and the secrets the runner fetched."""
        variables = self.variables(thread, template)
        return render(template, data, variables=variables, secrets=self.secrets)

    def filter(
        self, template: str | None, data: Any, thread: Thread, *, private: bool = False
    ) -> Any:
        """An ``input``/``output`` filter: the data itself when there is no template (a copy
        of it when it leaves the engine, ``private``: the engine never changes a value in
        place, what it hands out may be)."""
        if template is not None:
            return self.render(template, data, thread)
        return copy.deepcopy(data) if private else data

    def variables(self, thread: Thread, *templates: str | None) -> dict[str, Any]:
        """The variables of ``templates`` in ``thread``: ``$global`` in every thread but the
        top-level one."""
        return st.template_variables(self.global_state(*templates) if thread.path else None)

    def global_state(self, *templates: Any) -> Any:
        """``$global``, the top-level state; None when no template can name it (rendering
        passes its variables as JSON text: a large state is not written out for nothing)."""
        if any(isinstance(t, str) and "global" in t for t in templates):
            return self.machine.root.state
        return None

    # --- entries ---------------------------------------------------------------------------

    def record(self, n: int, step_input: Any) -> None:
        """Check a step's input against the step data limits and note it on its entry."""
        check_size(step_input, "input")
        entry = self.machine.entries.get(n)
        if entry is not None:
            entry.input = {"inputJson": _json(step_input)}

    def complete(self, n: int, output: Any) -> None:
        """The step's entry ends COMPLETED, with its output (if any)."""
        entry = self.machine.entries.pop(n, None)
        if entry is None:
            return
        closed = closed_entry(entry, self.now, EntryStatus.COMPLETED)
        if output is not None:
            closed.output = {"outputJson": _json(output)}
        self.finished.append(codec.entry_json(closed))

    def fail_entry(self, n: int, failure: StepFailure, output: Any = None) -> None:
        """The step's entry ends FAILED with the failure (and a catch rule's output)."""
        entry = self.machine.entries.pop(n, None)
        if entry is None:
            return
        closed = closed_entry(entry, self.now, EntryStatus.FAILED)
        closed.error = problem(failure)
        if output is not None:
            closed.output = {"outputJson": _json(output)}
        self.finished.append(codec.entry_json(closed))

    # --- the end ---------------------------------------------------------------------------

    def finish_ok(self, thread: Thread) -> None:
        """The execution ends FINISHED with the result of ``thread`` (the top-level one, or
        the one a Success step is in); whatever else is open closes."""
        result = st.execution_result(thread.state, thread.last) if thread.has_last else thread.state
        self.finished.extend(self.close_rest(EntryStatus.CANCELLED))
        self.machine.outcome = Outcome(status="FINISHED", result=result)

    def finish_failed(self, failure: StepFailure) -> None:
        """The execution ends FAILED; whatever is open closes."""
        self.finished.extend(self.close_rest(EntryStatus.CANCELLED))
        self.machine.outcome = Outcome(status="FAILED", error=problem(failure))

    def close_rest(self, status: str) -> list[dict[str, Any]]:
        """Entries still open when the execution ends: enclosing compound steps (COMPLETED)
        and siblings (``status``)."""
        closed = []
        for entry in sorted(self.machine.entries.values(), key=lambda e: e.n):
            final = (
                EntryStatus.COMPLETED if entry.type in ("Parallel", "Foreach", "While") else status
            )
            closed.append(codec.entry_json(closed_entry(entry, self.now, final)))
        self.machine.entries = {}
        self.calls.clear()
        return closed


def block_of(spec: Workflow, scope: list[tuple[str, str]]) -> Block:
    """The block a thread of ``scope`` runs (the spec itself at the top level)."""
    from stepline.yawl.control import Parallel

    block: Block = spec
    for step_id, name in scope:
        body = block.steps[step_id].body
        block = body.branches[name] if isinstance(body, Parallel) else body.do_  # type: ignore[union-attr]
    return block


def goto(thread: Thread, next_step: str | None) -> bool:
    """The thread leaves its step for ``next_step`` (None: its block ends). True: go on."""
    thread.task = None
    thread.step = next_step
    if next_step is None:
        thread.done = True
    return True


def apply_output(thread: Thread, output: Any) -> None:
    """Merge a step output (within the step data limits) into the thread's state."""
    check_size(output, "output")
    thread.state = st.merge(thread.state, output)
    thread.last = output
    thread.has_last = True


def result_of(thread: Thread) -> Any:
    """A thread's result: its last output-capable step's output, else its state."""
    if thread.done and thread.state is None and thread.task is None:
        return thread.result
    return thread.last if thread.has_last else thread.state


def check_size(value: Any, what: str) -> None:
    """REFERENCE §5.1: "Input and output of a step are each limited to 2 MB"; and, as all data
    Stepline keeps, nested at most ``bounds.MAX_DEPTH`` deep (else STEP_DATA_LIMIT_EXCEEDED)."""
    try:
        text = json.dumps(value, ensure_ascii=False)
        bounds.check_depth(text)
    except (RecursionError, bounds.BoundsError):
        raise too_deep(what) from None
    size = len(text.encode())
    if size > MAX_DATA_BYTES:
        raise StepFailure(
            WorkflowErrorCode.STEP_DATA_LIMIT_EXCEEDED,
            f"step {what} is {size} bytes, above the limit of {MAX_DATA_BYTES}",
        )


def too_deep(what: str) -> StepFailure:
    """The failure of step data nested deeper than Stepline keeps."""
    return StepFailure(
        WorkflowErrorCode.STEP_DATA_LIMIT_EXCEEDED, f"step {what} is {bounds.depth_message()}"
    )


def problem(failure: StepFailure) -> Problem:
    """A failure as entries and outcomes show it."""
    return Problem(message=failure.message, error_code=failure.code.value)


def closed_entry(entry: Entry, now: datetime, status: str) -> Entry:
    """A copy of ``entry`` ended with ``status`` at ``now``."""
    return entry.model_copy(
        update={"status": status, "duration": duration(now - from_stored(entry.started_at))}
    )


def new_entry(n: int, entry_id: str, step_type: str, now: datetime, step: Any) -> Entry:
    """The entry of a step that starts now."""
    return Entry(
        n=n,
        id=entry_id,
        type=step_type,
        status=EntryStatus.STARTED,
        started_at=stored(now),
        title=step.title or None,
        description=step.description or None,
    )


def _json(value: Any) -> str:
    """JSON text of step data for a history entry."""
    return json.dumps(value, ensure_ascii=False)
