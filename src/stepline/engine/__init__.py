"""The interpreter: pure functions from (spec, machine, what happened) to what to do next.

No I/O here: the runner (``stepline.runner``) performs calls, writes the log and sends messages.
"""

from stepline.engine.machine import (
    MAX_STEPS,
    Advance,
    CallRequest,
    CallResult,
    advance,
    cancel_open,
    fail,
    new_machine,
    open_entries,
    step_at,
)

__all__ = [
    "MAX_STEPS",
    "Advance",
    "CallRequest",
    "CallResult",
    "advance",
    "cancel_open",
    "fail",
    "new_machine",
    "open_entries",
    "step_at",
]
