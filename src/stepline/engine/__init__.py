"""The interpreter: pure functions from (spec, machine, what happened) to what to do next.

No I/O here: the runner (``stepline.service.runner``) performs calls, writes the log and sends
messages. The state is a typed model (:mod:`stepline.engine.model`) that only the engine reads
and writes; the runner stores it as the records of :mod:`stepline.engine.codec` and goes
through the functions below for everything else.
"""

from stepline.engine.codec import MACHINE as MACHINE_RECORD
from stepline.engine.codec import Records, apply, changes, load, snapshot
from stepline.engine.codec import child_executions as stored_children
from stepline.engine.machine import (
    ENTRY_DATA,
    Advance,
    advance,
    cancel_entries,
    cancel_open,
    child_executions,
    child_of,
    fail,
    forget_child,
    new_machine,
    open_entries,
    outcome,
    remember_child,
    request_cancel,
    step_at,
)
from stepline.engine.model import Machine
from stepline.engine.redrive import REDRIVE_ENTRY_TYPE, Redriven, redrive, redrive_entry_id
from stepline.engine.tick import MAX_STEPS, CallRequest, CallResult

__all__ = [
    "ENTRY_DATA",
    "MACHINE_RECORD",
    "MAX_STEPS",
    "REDRIVE_ENTRY_TYPE",
    "Advance",
    "CallRequest",
    "CallResult",
    "Machine",
    "Records",
    "Redriven",
    "advance",
    "apply",
    "cancel_entries",
    "cancel_open",
    "changes",
    "child_executions",
    "child_of",
    "fail",
    "forget_child",
    "load",
    "new_machine",
    "open_entries",
    "outcome",
    "redrive",
    "redrive_entry_id",
    "remember_child",
    "request_cancel",
    "snapshot",
    "step_at",
    "stored_children",
]
