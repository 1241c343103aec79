"""Pause and Resume: every transition a conditional write, the runner holding and going on."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from stepline.api import queries
from stepline.dev.stack import EmulatedStack
from stepline.errors import FailedPrecondition
from stepline.service import executions, pausing, reconciler, runner
from stepline.service.deps import Services, Settings
from stepline.service.runner import stopping
from stepline.store import keys
from stepline.store.queue import StepMessage
from stepline.testing import drive
from stepline.times import from_stored, now
from tests.integration.conftest import Api, Runs, cached
from tests.integration.test_access import (
    EXECUTOR,
    ROOT_ARN,
    VIEWER,
    binding,
    refused,
    set_bindings,
    someone,
    who,
)

SLOW_THEN_NEXT = r"""
yawl: "0.1"
start: slow
steps:
  slow:
    functionCall:
      functionId: stepline-slow
      input: '\({seconds: 2})'
      next: after
  after:
    noOp:
      output: '\({after: true})'
"""
# 1 h at the tests' time scale is 3.6 s.
NAP = """
yawl: "0.1"
start: nap
steps:
  nap:
    wait: {duration: 1h, next: done}
  done:
    success: {}
"""
LONG_NAP = "yawl: '0.1'\nstart: nap\nsteps:\n  nap:\n    wait: {duration: 48h}\n"
LIMITS = reconciler.Limits()


def _history(svc: Any, execution_id: str) -> list[tuple[str, str]]:
    entries = queries.history(svc, execution_id, size=None, token=None)["entries"]
    return [(e["id"], e["status"]) for e in entries]


def _status(svc: Any, execution_id: str) -> str:
    return str(queries.get(svc, execution_id)["execution"]["status"])


def _head(svc: Any, execution_id: str) -> dict[str, Any]:
    return svc.table.get(keys.execution(execution_id)) or {}


def _purge(svc: Any) -> None:
    """Lose every message in the steps queue (the tests drive the runner by hand)."""
    sqs = svc.queue.client
    while True:
        got = sqs.receive_message(QueueUrl=svc.queue.url, MaxNumberOfMessages=10)
        if not got.get("Messages"):
            return
        for message in got["Messages"]:
            sqs.delete_message(QueueUrl=svc.queue.url, ReceiptHandle=message["ReceiptHandle"])


def _poll(until: Callable[[], bool], deadline: float = 20.0) -> None:
    end = time.monotonic() + deadline
    while not until():
        assert time.monotonic() < end, "the expected state never came"
        time.sleep(0.02)


def _parked(svc: Any, runs: Runs, spec: str) -> str:
    """An execution whose runner has parked it on its Wait (nothing left in the queue)."""
    execution_id = runs.start(spec)
    _purge(svc)
    runner.handle(svc, StepMessage(execution_id, 0), runner.Invocation())
    _purge(svc)  # the parked wake-up is lost: each test sends what it needs
    return execution_id


def _nap_ended(svc: Any, execution_id: str) -> datetime:
    """When the Wait step ``nap`` ended: its start plus its duration."""
    nap = queries.history(svc, execution_id, size=None, token=None)["entries"][0]
    assert nap["id"] == "nap" and nap["status"] == "COMPLETED"
    started = datetime.fromisoformat(nap["startedAt"].replace("Z", "+00:00"))
    return started + timedelta(seconds=float(nap["duration"].removesuffix("s")))


def _finished(svc: Any, execution_id: str) -> Callable[[], bool]:
    return lambda: _status(svc, execution_id) in ("FINISHED", "FAILED", "STOPPED")


def test_pause_while_a_call_runs_keeps_its_result_and_starts_nothing_until_resume(
    svc: Any, runs: Runs
) -> None:
    execution_id = runs.start(SLOW_THEN_NEXT)
    _purge(svc)
    thread = threading.Thread(
        target=runner.handle, args=(svc, StepMessage(execution_id, 0), runner.Invocation())
    )
    thread.start()
    _poll(lambda: _history(svc, execution_id) == [("slow", "STARTED")])

    pausing.pause(runs.svc, execution_id)
    thread.join(timeout=20)

    assert _status(svc, execution_id) == "PAUSED"
    assert _history(svc, execution_id) == [("slow", "COMPLETED")]
    assert _head(svc, execution_id).get("held") is True  # the runner left no message behind
    assert _head(svc, execution_id)["pausedFrom"] == "RUNNING"  # its checkpoint began the run
    drive.drain(svc, until=lambda: True)
    assert _history(svc, execution_id) == [("slow", "COMPLETED")]

    pausing.resume(runs.svc, execution_id)
    drive.drain(svc, until=_finished(svc, execution_id))
    assert _status(svc, execution_id) == "FINISHED"
    assert _history(svc, execution_id) == [("slow", "COMPLETED"), ("after", "COMPLETED")]


def test_a_wait_keeps_its_due_time_through_a_pause(svc: Any, runs: Runs) -> None:
    execution_id = _parked(svc, runs, NAP)
    wake = svc.log.last(execution_id).wake
    svc.queue.send(StepMessage(execution_id, 1), delay_seconds=0)  # the wake-up, early

    pausing.pause(runs.svc, execution_id)
    drive.drain(svc, until=lambda: _head(svc, execution_id).get("held") is True)
    pausing.resume(runs.svc, execution_id)
    drive.drain(svc, until=_finished(svc, execution_id))

    assert _status(svc, execution_id) == "FINISHED"
    assert _nap_ended(svc, execution_id) >= from_stored(wake)


def test_a_wake_up_lost_to_a_crash_is_parked_again_by_the_redelivered_message_while_paused(
    svc: Any, runs: Runs
) -> None:
    execution_id = _parked(svc, runs, NAP)
    runs.svc.queue.client.purge_queue(QueueUrl=svc.queue.url)  # its runner died before waking
    wake = from_stored(svc.log.last(execution_id).wake)
    pausing.pause(runs.svc, execution_id)

    runner.handle(svc, StepMessage(execution_id, 0), runner.Invocation())  # SQS redelivers it
    drive.drain(svc, until=lambda: _head(svc, execution_id).get("held") is True)
    pausing.resume(runs.svc, execution_id)  # the held wake-up goes on: no reconciler needed
    drive.drain(svc, until=_finished(svc, execution_id))

    assert _status(svc, execution_id) == "FINISHED"
    assert _nap_ended(svc, execution_id) >= wake


def test_resume_once_the_timer_is_overdue_fires_it_at_once(svc: Any, runs: Runs) -> None:
    execution_id = _parked(svc, runs, NAP)
    pausing.pause(runs.svc, execution_id)
    wake = from_stored(svc.log.last(execution_id).wake)
    svc.queue.send(StepMessage(execution_id, 1), delay_seconds=0)
    _poll(lambda: now() > wake, deadline=10)
    drive.drain(svc, until=lambda: _head(svc, execution_id).get("held") is True)
    assert _status(svc, execution_id) == "PAUSED"  # the wake-up came while paused: held

    resumed = now()
    pausing.resume(runs.svc, execution_id)
    drive.drain(svc, until=_finished(svc, execution_id), deadline=5)

    assert _status(svc, execution_id) == "FINISHED"
    assert _nap_ended(svc, execution_id) < resumed + timedelta(seconds=3)


@pytest.mark.parametrize("terminate", [False, True])
def test_a_paused_execution_can_be_stopped_and_its_log_is_closed(
    svc: Any, runs: Runs, terminate: bool
) -> None:
    execution_id = _parked(svc, runs, LONG_NAP)
    pausing.pause(runs.svc, execution_id)

    executions.stop(runs.svc, execution_id, terminate=terminate)
    drive.drain(svc, until=lambda: _history(svc, execution_id) == [("nap", "CANCELLED")])

    assert _status(svc, execution_id) == "STOPPED"
    assert _head(svc, execution_id).get("cancel") == ("TERMINATE" if terminate else "STOP")
    with pytest.raises(FailedPrecondition):
        pausing.resume(runs.svc, execution_id)


def test_two_concurrent_pauses_pause_once(svc: Any, runs: Runs) -> None:
    execution_id = _parked(svc, runs, LONG_NAP)
    rev = int(_head(svc, execution_id)["rev"])
    barrier = threading.Barrier(2)
    answers: list[Any] = []

    def pause() -> None:
        barrier.wait()
        answers.append(pausing.pause(runs.svc, execution_id))

    threads = [threading.Thread(target=pause) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    assert answers == [{"executionId": execution_id}] * 2
    head = _head(svc, execution_id)
    assert head["status"] == "PAUSED" and int(head["rev"]) == rev + 1
    assert head["pausedFrom"] == "RUNNING"
    assert pausing.pause(runs.svc, execution_id) == {"executionId": execution_id}


def test_duplicate_and_late_messages_while_paused_change_nothing(svc: Any, runs: Runs) -> None:
    execution_id = _parked(svc, runs, NAP)
    pausing.pause(runs.svc, execution_id)
    before = svc.log.last(execution_id).seq
    _poll(lambda: now() > from_stored(svc.log.last(execution_id).wake), deadline=10)

    for message in (StepMessage(execution_id, before + 1),) * 2 + (StepMessage(execution_id, 0),):
        runner.handle(svc, message, runner.Invocation())

    assert svc.log.last(execution_id).seq == before
    assert _status(svc, execution_id) == "PAUSED"
    assert _history(svc, execution_id) == [("nap", "STARTED")]
    pausing.resume(runs.svc, execution_id)
    drive.drain(svc, until=_finished(svc, execution_id))
    assert _history(svc, execution_id) == [("nap", "COMPLETED"), ("done", "COMPLETED")]


def test_pause_of_a_queued_execution_resumes_to_queued_and_runs(svc: Any, runs: Runs) -> None:
    execution_id = runs.start(SLOW_THEN_NEXT.replace("seconds: 2", "seconds: 0"))
    pausing.pause(runs.svc, execution_id)
    assert _head(svc, execution_id)["pausedFrom"] == "QUEUED"
    drive.drain(svc, until=lambda: _head(svc, execution_id).get("held") is True)
    assert _history(svc, execution_id) == []  # the first message started nothing

    pausing.resume(runs.svc, execution_id)
    assert _head(svc, execution_id)["status"] == "QUEUED"
    drive.drain(svc, until=_finished(svc, execution_id))
    assert _status(svc, execution_id) == "FINISHED"


def test_list_finds_paused_executions_by_status(svc: Any, runs: Runs) -> None:
    execution_id = _parked(svc, runs, LONG_NAP)
    workflow_id = svc.executions.get(execution_id).workflow_id

    def listed(status: str) -> list[str]:
        page = queries.list_executions(
            runs.svc, workflow_id, size=None, token=None, filter_text=f'status="{status}"'
        )
        return [e["id"] for e in page["executions"]]

    pausing.pause(runs.svc, execution_id)
    assert listed("PAUSED") == [execution_id]
    assert listed("RUNNING") == [] and listed("QUEUED") == []
    assert _status(svc, execution_id) == "PAUSED"

    pausing.resume(runs.svc, execution_id)
    assert listed("PAUSED") == []
    assert listed("RUNNING") == [execution_id]


def test_pause_and_resume_of_an_ended_execution_are_refused(svc: Any, runs: Runs) -> None:
    execution_id = runs.start(SLOW_THEN_NEXT.replace("seconds: 2", "seconds: 0"))
    drive.drain(svc, until=_finished(svc, execution_id))

    with pytest.raises(FailedPrecondition, match="FINISHED"):
        pausing.pause(runs.svc, execution_id)
    with pytest.raises(FailedPrecondition, match="FINISHED"):
        pausing.resume(runs.svc, execution_id)


def test_resume_of_a_running_execution_changes_nothing(svc: Any, runs: Runs) -> None:
    execution_id = _parked(svc, runs, LONG_NAP)
    rev = int(_head(svc, execution_id)["rev"])
    assert pausing.resume(runs.svc, execution_id) == {"executionId": execution_id}
    assert int(_head(svc, execution_id)["rev"]) == rev


@pytest.fixture(scope="module")
def watcher(stack: EmulatedStack) -> Callable[[float], Services]:
    """The reconciler's services on a clock ``ahead`` seconds in the future."""
    settings = Settings.from_env(stack.function("ReconcilerFunction").environment)
    clients = cached(stack.role_clients("ReconcilerFunction"))

    def at(ahead: float) -> Services:
        return Services(settings, clients, clock=lambda: now() + timedelta(seconds=ahead))

    return at


def test_a_paused_execution_is_not_re_driven_and_a_lost_resume_message_is(
    svc: Any, runs: Runs, watcher: Callable[[float], Services], monkeypatch: pytest.MonkeyPatch
) -> None:
    execution_id = runs.start(SLOW_THEN_NEXT.replace("seconds: 2", "seconds: 0"))
    pausing.pause(runs.svc, execution_id)
    drive.drain(svc, until=lambda: _head(svc, execution_id).get("held") is True)
    overdue = LIMITS.grace.total_seconds() + runner.INLINE_BUDGET + 1

    assert reconciler.examine(watcher(overdue), LIMITS, execution_id) == "watched"
    assert svc.log.last(execution_id) is None  # nothing moved while paused

    monkeypatch.setattr(runs.svc.queue, "send", lambda *args, **kwargs: None)  # lost
    pausing.resume(runs.svc, execution_id)
    monkeypatch.undo()
    assert reconciler.examine(watcher(overdue), LIMITS, execution_id) == "redriven"
    drive.drain(svc, until=_finished(svc, execution_id))
    assert _status(svc, execution_id) == "FINISHED"


def test_pause_and_resume_through_the_api(api: Api, parked_id: str) -> None:
    execution_id = api.start(parked_id)

    paused = api.call("pause", path={"executionId": f"{execution_id}:pause"})
    assert paused.status == 200, paused.body
    assert paused.body == {"executionId": execution_id}
    shown = api.call("get", path={"executionId": execution_id})
    assert shown.body["execution"]["status"] == "PAUSED"

    resumed = api.call("resume", path={"executionId": f"{execution_id}%3Aresume"})
    assert resumed.status == 200, resumed.body
    unknown = api.call("resume", path={"executionId": f"{execution_id}:rewind"})
    assert unknown.status == 404
    stopped = api.call("stop", path={"executionId": execution_id})
    assert stopped.status == 200
    refused = api.call("pause", path={"executionId": f"{execution_id}:pause"})
    assert refused.status == 400 and refused.body["code"] == 9


def test_a_paused_execution_fails_once_its_time_quota_is_over(
    svc: Any, runs: Runs, watcher: Callable[[float], Services]
) -> None:
    execution_id = _parked(svc, runs, LONG_NAP)
    pausing.pause(runs.svc, execution_id)
    quota = svc.settings.max_execution_hours * 3600
    grace = LIMITS.grace.total_seconds()

    assert reconciler.examine(watcher(quota - 60), LIMITS, execution_id) == "watched"
    assert reconciler.examine(watcher(quota + grace + 1), LIMITS, execution_id) == "redriven"
    late = dataclasses.replace(svc, clock=lambda: now() + timedelta(seconds=quota + 1))
    drive.drain(late, until=_finished(svc, execution_id))

    failed = queries.get(svc, execution_id)["execution"]
    assert failed["status"] == "FAILED"
    assert failed["error"]["errorCode"] == "STEP_QUOTA_EXCEEDED"
    assert _history(svc, execution_id) == [("nap", "CANCELLED")]


def test_a_resume_before_the_runner_stopped_leaves_it_the_only_one_going_on(
    svc: Any, runs: Runs, steps_queue: Callable[[], list[dict[str, Any]]]
) -> None:
    execution_id = runs.start(SLOW_THEN_NEXT)
    steps_queue()
    thread = threading.Thread(
        target=runner.handle, args=(svc, StepMessage(execution_id, 0), runner.Invocation())
    )
    thread.start()
    _poll(lambda: _history(svc, execution_id) == [("slow", "STARTED")])

    pausing.pause(runs.svc, execution_id)
    pausing.resume(runs.svc, execution_id)  # the call is still running: nothing held
    assert steps_queue() == []  # so the resume sends nothing
    thread.join(timeout=20)

    assert _status(svc, execution_id) == "FINISHED"  # the busy runner went on by itself
    assert _history(svc, execution_id) == [("slow", "COMPLETED"), ("after", "COMPLETED")]
    assert [m for m in steps_queue() if m.get("executionId") == execution_id] == []


CONTROL_STEPS = r"""
yawl: "0.1"
start: first
steps:
  first:
    noOp: {output: '\({n: 1})', next: second}
  second:
    noOp: {output: '\({n: 2})', next: done}
  done:
    success: {}
"""


def test_a_pause_between_control_steps_starts_no_further_step(
    svc: Any, runs: Runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    execution_id = runs.start(CONTROL_STEPS)
    steps_read = svc.log.last

    def pause_then_read(execution: str) -> Any:
        pausing.pause(runs.svc, execution_id)  # lands after the invocation read the head
        return steps_read(execution)

    monkeypatch.setattr(svc.log, "last", pause_then_read)
    monkeypatch.setattr(stopping, "PAUSE_LOOK", 0.0)  # the next step asks the head again
    monkeypatch.setattr(stopping, "HEAD_FRESH", 0.0)  # ...and reads it
    runner.handle(svc, StepMessage(execution_id, 0), runner.Invocation())
    monkeypatch.undo()

    assert _history(svc, execution_id) == [("first", "COMPLETED")]
    assert _status(svc, execution_id) == "PAUSED"
    assert _head(svc, execution_id).get("held") is True
    pausing.resume(runs.svc, execution_id)
    drive.drain(svc, until=_finished(svc, execution_id))
    assert _history(svc, execution_id) == [
        ("first", "COMPLETED"),
        ("second", "COMPLETED"),
        ("done", "COMPLETED"),
    ]


LAST_CALL = r"""
yawl: "0.1"
start: slow
steps:
  slow:
    functionCall:
      functionId: stepline-slow
      input: '\({seconds: 2})'
"""


def test_a_pause_during_the_last_step_lets_the_execution_end(svc: Any, runs: Runs) -> None:
    execution_id = runs.start(LAST_CALL)
    _purge(svc)
    thread = threading.Thread(
        target=runner.handle, args=(svc, StepMessage(execution_id, 0), runner.Invocation())
    )
    thread.start()
    _poll(lambda: _history(svc, execution_id) == [("slow", "STARTED")])

    pausing.pause(runs.svc, execution_id)
    thread.join(timeout=20)

    assert _status(svc, execution_id) == "FINISHED"  # the end is no new step
    assert _head(svc, execution_id).get("pausedFrom") is None


def test_pause_and_resume_need_the_executor_role(api: Api, parked_id: str) -> None:
    root = api.as_caller(ROOT_ARN)
    execution_id = root.start(parked_id)
    viewer, executor = someone(api), someone(api)
    set_bindings(root, parked_id, binding(VIEWER, who(viewer)), binding(EXECUTOR, who(executor)))

    needed = f"permission denied: {EXECUTOR} on workflow {parked_id} is required"
    for verb in ("pause", "resume"):
        reply = viewer.call(verb, path={"executionId": f"{execution_id}:{verb}"})
        refused(reply, 403, 7, needed)
    for verb in ("pause", "resume"):
        reply = executor.call(verb, path={"executionId": f"{execution_id}:{verb}"})
        assert reply.status == 200, reply.body
    stranger = someone(api)
    reply = stranger.call("pause", path={"executionId": f"{execution_id}:pause"})
    refused(reply, 404, 5, f"executionId: execution {execution_id} not found")
