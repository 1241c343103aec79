"""Success: the whole execution ends FINISHED, with the result of the thread it is in."""

from __future__ import annotations

from stepline.engine.model import Thread
from stepline.engine.tick import End, Tick
from stepline.yawl.spec import Step


def handle(tick: Tick, thread: Thread, step: Step) -> bool:
    assert thread.task is not None
    tick.complete(thread.task.n, None)
    tick.finish_ok(thread)
    raise End
