"""The execution state as typed models: a machine of threads, their tasks, the open entries.

A :class:`Machine` holds one :class:`Thread` per scope in progress, by path: the top-level
thread (path ``""``), and one per Parallel branch, Foreach item and While iteration that has
started. A thread's ``task`` is what its current step is doing (one model per kind). Values
of the workflow (states, inputs, outputs, items) are JSON data the engine never changes in
place: a step that changes a state gives the thread a new value. That rule is what lets a
checkpoint tell what changed by identity (:mod:`stepline.engine.codec`).

Only the engine reads and writes these fields; the runner and the store see the machine
through the functions of :mod:`stepline.engine` and the records of the codec.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Problem(_Model):
    """An error as history entries and outcomes show it."""

    message: str
    error_code: str = Field(alias="errorCode")


class Entry(_Model):
    """A history entry: one step run, open while the step is in progress."""

    n: int
    id: str
    type: str
    status: str
    started_at: str = Field(alias="startedAt")
    attempts: int = 1
    title: str | None = None
    description: str | None = None
    input: dict[str, str] | None = None
    output: dict[str, str] | None = None
    error: Problem | None = None
    last_error: Problem | None = Field(default=None, alias="lastError")
    duration: str | None = None


class Outcome(_Model):
    """How an execution ended: FINISHED with its result, or FAILED with its error."""

    status: Literal["FINISHED", "FAILED"]
    result: Any = None
    error: Problem | None = None


class NewTask(_Model):
    """A step that has its entry and has not begun its work."""

    kind: Literal["new"] = "new"
    n: int


class CallTask(_Model):
    """An integration step: its input, and the attempt waiting for a result or a retry."""

    kind: Literal["call"] = "call"
    n: int
    input: Any = None
    attempt: int = 1
    wake: str | None = None
    """When a retry may be attempted (a stored time), None: at once."""
    requested: bool = False
    """The attempt was handed to the runner, and its result has not come back."""


class WaitTask(_Model):
    """A Wait step until its time."""

    kind: Literal["wait"] = "wait"
    n: int
    wake: str


class FanOutTask(_Model):
    """A Parallel or Foreach step: ``size`` children, started in order.

    Child ``i`` is the thread at its path (:func:`stepline.engine.steps.fanout.child_path`);
    ``items`` holds each child's starting state until it starts; ``running`` the indices of the
    children started and not ended (an ended child keeps only its result).
    """

    kind: Literal["parallel", "foreach"]
    n: int
    size: int
    items: list[Any]
    next: int = 0
    running: list[int] = Field(default_factory=list)


class WhileTask(_Model):
    """A While step: the iteration count, the loop's state, the iteration running."""

    kind: Literal["while"] = "while"
    n: int
    counter: int = 0
    loop: Any = None
    last: Any = None
    has_last: bool = False
    child: str | None = None
    """Path of the iteration in progress."""


Task = Annotated[
    NewTask | CallTask | WaitTask | FanOutTask | WhileTask, Field(discriminator="kind")
]


class Thread(_Model):
    """A sequence of steps in one scope; ``done`` once it has left its last step.

    An ended child of a Parallel or Foreach keeps only ``result`` (and its branch ``name``).
    """

    path: str
    scope: list[tuple[str, str]] = Field(default_factory=list)
    step: str | None = None
    state: Any = None
    last: Any = None
    has_last: bool = False
    """Whether an output-capable step has run (its output, ``last``, is then the result)."""
    task: Task | None = None
    done: bool = False
    name: str | None = None
    result: Any = None


class Machine(_Model):
    """An execution in progress, as the engine advances it."""

    id: str = ""
    n: int = 0
    """Entries made so far (the number of the newest)."""
    steps: int = 0
    """Steps started so far, every branch and iteration counted (the step quota)."""
    outcome: Outcome | None = None
    threads: dict[str, Thread] = Field(default_factory=dict)
    entries: dict[int, Entry] = Field(default_factory=dict)
    """Open entries by number."""
    children: dict[int, str] = Field(default_factory=dict)
    """Child executions of Workflow steps, by entry number."""

    _touched: set[str] = PrivateAttr(default_factory=set)
    _written: dict[str, tuple[Any, ...]] = PrivateAttr(default_factory=dict)

    @property
    def root(self) -> Thread:
        """The top-level thread."""
        return self.threads[""]

    def touch(self, path: str) -> None:
        """Note that the thread at ``path`` changed (or went): the next checkpoint says so."""
        self._touched.add(path)
