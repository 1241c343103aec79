"""What Parallel and Foreach share: children started in order, at most ``limit`` at a time.

Child ``i`` of a fan-out is the thread at :func:`child_path`; it is made from the task's
``items[i]`` when it starts, so a fan-out of N costs N only once, and an advance looks at the
running children only. An ended child is replaced by a thread that keeps just its result.
"""

from __future__ import annotations

from typing import Any

from stepline.engine import threads
from stepline.engine.model import FanOutTask, Thread
from stepline.engine.tick import Tick, result_of
from stepline.yawl.control import Foreach, Parallel


def child_path(thread: Thread, body: Parallel | Foreach, i: int) -> str:
    """The path of child ``i``: ``step/branch/`` of a Parallel, ``step[i]/`` of a Foreach."""
    if isinstance(body, Parallel):
        return f"{thread.path}{thread.step}/{list(body.branches)[i]}/"
    return f"{thread.path}{thread.step}[{i}]/"


def child_scope(thread: Thread, name: str) -> list[tuple[str, str]]:
    """The scope of a child of the thread's current step, in its block ``name``."""
    assert thread.step is not None
    return [*thread.scope, (thread.step, name)]


def run_children(tick: Tick, thread: Thread, body: Parallel | Foreach, task: FanOutTask) -> bool:
    """Run the running children, then start new ones in order while fewer than the step's
    concurrency run; True when every child has ended."""
    running = list(task.running)
    for i in task.running:
        if _ran(tick, thread, body, i):
            running.remove(i)
    while task.next < task.size and len(running) < body.concurrency and tick.may_start():
        i = task.next
        task.next += 1
        _start_child(tick, thread, body, task, i)
        running.append(i)
        if _ran(tick, thread, body, i):
            running.remove(i)
    task.running = running
    return task.next == task.size and not running


def results(tick: Tick, thread: Thread, body: Parallel | Foreach, task: FanOutTask) -> list[Any]:
    """The results of the ended children in order; the children leave the machine."""
    out = []
    for i in range(task.size):
        path = child_path(thread, body, i)
        out.append(result_of(tick.machine.threads[path]))
        tick.drop_thread(path)
    return out


def _start_child(
    tick: Tick, thread: Thread, body: Parallel | Foreach, task: FanOutTask, i: int
) -> None:
    if isinstance(body, Parallel):
        name = list(body.branches)[i]
        scope, start = child_scope(thread, name), body.branches[name].start
    else:
        name, scope, start = None, child_scope(thread, "do"), body.do_.start
    child = tick.new_thread(child_path(thread, body, i), scope, start, task.items[i])
    child.name = name


def _ran(tick: Tick, thread: Thread, body: Parallel | Foreach, i: int) -> bool:
    """Run child ``i``; True when it has ended (it then keeps only its result)."""
    path = child_path(thread, body, i)
    child = tick.machine.threads[path]
    threads.run(tick, child)
    if not child.done:
        return False
    ended = Thread(path=path, done=True, name=child.name, result=result_of(child))
    tick.machine.threads[path] = ended
    tick.machine.touch(path)
    return True
