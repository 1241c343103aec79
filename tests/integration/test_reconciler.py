"""The reconciler re-drives executions whose next move is overdue, whatever message was lost,
and leaves healthy ones alone."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import suppress
from datetime import timedelta
from typing import Any

import pytest

from stepline.api import queries
from stepline.dev.scheduler import RuleTimer
from stepline.dev.stack import EmulatedStack
from stepline.service import executions, reconciler, runner
from stepline.service.deps import Services, Settings
from stepline.service.runner import calls
from stepline.store import keys
from stepline.store.queue import StepMessage
from stepline.testing import drive
from stepline.times import from_stored, now
from tests.integration.conftest import Runs, cached

LIMITS = reconciler.Limits()
TWO_CALLS = """
yawl: "0.1"
start: first
steps:
  first:
    functionCall: {functionId: stepline-echo, next: second}
  second:
    functionCall: {functionId: stepline-echo, next: done}
  done:
    success: {}
"""
NAP = """
yawl: "0.1"
start: nap
steps:
  nap:
    wait: {duration: 1h}
"""
LONG_NAP = NAP.replace("1h", "48h")


@pytest.fixture(scope="module")
def watcher(stack: EmulatedStack) -> Callable[[float], Services]:
    """The reconciler's services (its deployed settings and role) on a clock ``ahead``
    seconds in the future."""
    settings = Settings.from_env(stack.function("ReconcilerFunction").environment)
    clients = cached(stack.role_clients("ReconcilerFunction"))

    def at(ahead: float) -> Services:
        return Services(settings, clients, clock=lambda: now() + timedelta(seconds=ahead))

    return at


def _status(svc: Services, execution_id: str) -> str:
    return str(queries.get(svc, execution_id)["execution"]["status"])


def _ended(svc: Services, execution_id: str) -> Callable[[], bool]:
    return lambda: _status(svc, execution_id) in ("FINISHED", "FAILED", "STOPPED")


def _watched(svc: Services, execution_id: str) -> str | None:
    """The head's gsi5 sort key: when its next move is expected (None: not watched)."""
    item = svc.table.get(keys.execution(execution_id)) or {}
    return item.get("GSI5SK")


def _drop(svc: Services, monkeypatch: pytest.MonkeyPatch, lost: Callable[[Any], bool]) -> list[Any]:
    """Lose the steps messages the runner sends that ``lost`` picks."""
    dropped: list[Any] = []
    send = svc.queue.send

    def lossy(message: StepMessage, **kwargs: Any) -> None:
        if lost(message):
            dropped.append(message)
            return
        send(message, **kwargs)

    monkeypatch.setattr(svc.queue, "send", lossy)
    return dropped


def _purge(svc: Services) -> None:
    """Lose every message in the steps queue (what a lost send leaves)."""
    sqs = svc.queue.client
    while True:
        got = sqs.receive_message(QueueUrl=svc.queue.url, MaxNumberOfMessages=10)
        if not got.get("Messages"):
            return
        for message in got["Messages"]:
            sqs.delete_message(QueueUrl=svc.queue.url, ReceiptHandle=message["ReceiptHandle"])


def test_an_execution_whose_first_message_was_lost_is_driven_after_the_grace(
    svc: Services, runs: Runs, watcher: Callable[[float], Services]
) -> None:
    execution_id = runs.start(TWO_CALLS)
    _purge(svc)

    reconciler.reconcile(watcher(LIMITS.grace.total_seconds() - 5), LIMITS)
    assert not _queued(svc, execution_id)  # within the grace: left alone
    report = reconciler.reconcile(watcher(LIMITS.grace.total_seconds() + 1), LIMITS)

    assert report.redriven >= 1
    drive.drain(svc, until=_ended(svc, execution_id))
    assert _status(svc, execution_id) == "FINISHED"
    assert _watched(svc, execution_id) is None  # settled: off the watch list


def _queued(svc: Services, execution_id: str) -> bool:
    """Whether a message for the execution is in the steps queue (left there, visible)."""
    sqs = svc.queue.client
    got = sqs.receive_message(QueueUrl=svc.queue.url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    bodies = [StepMessage.from_json(m["Body"]) for m in got.get("Messages", [])]
    return any(m.execution_id == execution_id for m in bodies)


def test_a_lost_hand_over_between_invocations_is_re_sent_from_the_log(
    svc: Services, runs: Runs, watcher: Callable[[float], Services], monkeypatch: pytest.MonkeyPatch
) -> None:
    execution_id = runs.start(TWO_CALLS)
    dropped = _drop(svc, monkeypatch, lambda m: m.seq > 0)  # every hand-over is lost
    spent = lambda: runner.Invocation(inline_budget=0.0)  # noqa: E731 - one batch per invocation
    drive.drain(svc, until=lambda: bool(dropped), invocation=spent)
    monkeypatch.undo()
    assert _status(svc, execution_id) in ("QUEUED", "RUNNING")

    overdue = LIMITS.grace.total_seconds() + runner.INLINE_BUDGET + 1
    report = reconciler.reconcile(watcher(overdue), LIMITS)

    assert report.redriven >= 1
    drive.drain(svc, until=_ended(svc, execution_id))
    entries = queries.history(svc, execution_id, size=None, token=None)["entries"]
    assert [(e["id"], e["status"]) for e in entries] == [
        ("first", "COMPLETED"),
        ("second", "COMPLETED"),
        ("done", "COMPLETED"),
    ]


def test_a_parked_wait_is_left_alone_and_filed_under_its_wake_up(
    svc: Services, runs: Runs, watcher: Callable[[float], Services]
) -> None:
    execution_id = runs.start(LONG_NAP)
    _purge(svc)  # the runner is driven by hand here
    runner.handle(svc, StepMessage(execution_id, 0), runner.Invocation())
    wake = svc.log.last(execution_id).wake

    reconciler.reconcile(watcher(LIMITS.grace.total_seconds() + 1), LIMITS)

    assert not _queued(svc, execution_id)
    watched = _watched(svc, execution_id)
    assert watched is not None and wake is not None and watched.startswith(wake)


def test_a_lost_wake_up_is_re_sent_once_the_wait_is_overdue(
    svc: Services, runs: Runs, watcher: Callable[[float], Services], monkeypatch: pytest.MonkeyPatch
) -> None:
    execution_id = runs.start(NAP)
    _purge(svc)  # the runner is driven by hand here
    _drop(svc, monkeypatch, lambda m: True)
    runner.handle(svc, StepMessage(execution_id, 0), runner.Invocation())  # parks: lost
    monkeypatch.undo()
    wake = from_stored(str(svc.log.last(execution_id).wake))

    ahead = (wake - now()).total_seconds() + LIMITS.grace.total_seconds() + 1
    report = reconciler.reconcile(watcher(ahead), LIMITS)

    assert report.redriven >= 1
    drive.drain(svc, until=_ended(svc, execution_id))
    assert _status(svc, execution_id) == "FINISHED"


def test_an_ended_log_whose_head_was_never_written_is_finalised(
    svc: Services, runs: Runs, watcher: Callable[[float], Services], monkeypatch: pytest.MonkeyPatch
) -> None:
    execution_id = runs.start(TWO_CALLS)

    def crash(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt  # the invocation dies between the log's end and the head's

    monkeypatch.setattr(svc.executions, "end", crash)
    with pytest.raises(KeyboardInterrupt):
        drive.drain(svc, until=lambda: False)
    monkeypatch.undo()
    _purge(svc)  # and its message is gone
    assert svc.log.last(execution_id).ended

    reconciler.reconcile(watcher(LIMITS.grace.total_seconds() + 1), LIMITS)

    drive.drain(svc, until=_ended(svc, execution_id))
    assert _status(svc, execution_id) == "FINISHED"


def test_a_stop_whose_nudge_was_lost_still_closes_the_log_then_leaves_the_watch_list(
    svc: Services, runs: Runs, watcher: Callable[[float], Services]
) -> None:
    execution_id = runs.start(LONG_NAP)
    _purge(svc)  # the runner is driven by hand here
    runner.handle(svc, StepMessage(execution_id, 0), runner.Invocation())
    executions.stop(runs.svc, execution_id, terminate=False)
    _purge(svc)  # the nudge (and the parked wake-up) are lost
    assert _watched(svc, execution_id) is not None  # stopped, but the log is still open

    overdue = LIMITS.grace.total_seconds() + runner.INLINE_BUDGET + 1
    reconciler.reconcile(watcher(overdue), LIMITS)
    entries = lambda: queries.history(svc, execution_id, size=None, token=None)["entries"]  # noqa: E731
    drive.drain(svc, until=lambda: [e["status"] for e in entries()] == ["CANCELLED"])

    report = reconciler.reconcile(watcher(overdue + LIMITS.grace.total_seconds() + 1), LIMITS)
    assert report.settled >= 1
    assert _watched(svc, execution_id) is None


def test_calls_in_flight_are_not_re_driven_before_the_runner_could_have_timed_out(
    svc: Services, runs: Runs, watcher: Callable[[float], Services], monkeypatch: pytest.MonkeyPatch
) -> None:
    execution_id = runs.start(TWO_CALLS)
    _purge(svc)  # the runner is driven by hand here
    _die_during_a_slow_call(svc, execution_id, monkeypatch)
    _purge(svc)

    reconciler.reconcile(watcher(LIMITS.grace.total_seconds() + 60), LIMITS)
    assert not _queued(svc, execution_id)
    late = LIMITS.runner_timeout.total_seconds() + LIMITS.grace.total_seconds() + 1
    reconciler.reconcile(watcher(late), LIMITS)

    drive.drain(svc, until=_ended(svc, execution_id))
    assert _status(svc, execution_id) == "FINISHED"


def _die_during_a_slow_call(
    svc: Services, execution_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run the first invocation until its call has been written down as started, then let
    the invocation die with the call still out (as a Lambda timeout would)."""
    release = threading.Event()

    def hang(*args: Any) -> Any:
        release.wait(10)
        raise KeyboardInterrupt

    def invocation() -> None:
        with suppress(KeyboardInterrupt):
            runner.handle(svc, StepMessage(execution_id, 0), runner.Invocation())

    monkeypatch.setattr(calls, "traced_attempt", hang)
    thread = threading.Thread(target=invocation)
    thread.start()
    deadline = time.monotonic() + 10
    while not ((last := svc.log.last(execution_id)) and last.calls):
        assert time.monotonic() < deadline, "the call was never written down as started"
        time.sleep(0.05)
    release.set()
    thread.join(10)
    monkeypatch.undo()


def test_the_deployed_reconciler_re_drives_with_its_own_role(
    stack: EmulatedStack, svc: Services, runs: Runs
) -> None:
    execution_id = runs.start(TWO_CALLS)
    _purge(svc)
    lam = stack.clients("lambda")
    name = stack.function("ReconcilerFunction").name
    variables = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    environment = {"Variables": variables | {"RECONCILE_GRACE_SECONDS": "0"}}
    lam.update_function_configuration(FunctionName=name, Environment=environment)

    report = stack.invoke("ReconcilerFunction", {"detail-type": "Scheduled Event"})

    assert report["redriven"] >= 1 and report["complete"] is True
    drive.drain(svc, until=_ended(svc, execution_id))
    assert _status(svc, execution_id) == "FINISHED"


def test_the_dev_stack_fires_the_reconciler_rule_once_a_period(stack: EmulatedStack) -> None:
    (rule,) = [r for r in stack.deployment.rules if r.schedule]
    moments = [now()]
    fired: list[tuple[str, dict[str, Any]]] = []
    timer = RuleTimer(
        [rule], lambda r, target, event: fired.append((target, event)), clock=lambda: moments[-1]
    )

    moments.append(moments[0] + timedelta(seconds=59))
    assert timer.tick() == 0
    moments.append(moments[0] + timedelta(seconds=181))
    assert timer.tick() == 3

    target, event = fired[0]
    assert target == stack.function("ReconcilerFunction").arn
    assert event["detail-type"] == "Scheduled Event" and event["resources"] == [rule.arn]
    stack.deliver_event(rule, target, event)  # the function's policy lets the rule invoke it


def test_start_puts_an_execution_on_the_watch_list_and_its_end_takes_it_off(
    svc: Services, runs: Runs
) -> None:
    execution_id = runs.start(TWO_CALLS)

    watched = _watched(svc, execution_id)
    item = svc.table.get(keys.execution(execution_id)) or {}
    assert watched == keys.time_sort_key(item["startedAt"], execution_id)
    drive.drain(svc, until=_ended(svc, execution_id))
    assert _watched(svc, execution_id) is None
